#!/bin/sh
# check-gm-checkpoint.sh CHECKPOINT LOG-SM2.PEM CA.PEM [AT]
# Checks the SM2 signature of a gm agency log's checkpoint with the openssl command line (3.0) and POSIX tools only
# (docs/evidence-format.md §17.9): (a) LOG-SM2.PEM is the gm CA's certificate for role recgw-log, SM2-with-SM3 with
# the signer ID 1234567812345678, and its CN is the checkpoint's origin; (b) the checkpoint carries a signature line
# of that origin whose key ID is SHA-256(origin || 0x0A || 0xff || "recgw/sm2-sm3" || the key's SPKI DER)[:4], and
# (c) every such line is an SM2 signature (SM3, ID 1234567812345678) of the note text by that key. The Ed25519 line
# is the C2SP tools' to check (check-receipt.sh does). CHECKPOINT is log/checkpoint, log/witnessed or the
# checkpoint of a receipt's log proof; LOG-SM2.PEM is log/log-sm2-cert.pem. AT (seconds since 1970) judges the
# certificate at that time instead of now: an evidence disc's verify.sh passes the log's newest acceptance time.
# Exit 0 = every check passed, 1 = a check failed, 2 = bad arguments.
set -eu
[ $# -eq 3 ] || [ $# -eq 4 ] || { echo "usage: $0 CHECKPOINT LOG-SM2.PEM CA.PEM [AT]" >&2; exit 2; }
cp=$1 cert=$2 ca=$3 at=${4:-}
case $at in '' | *[!0-9]*) [ -z "$at" ] || { echo "AT must be seconds since 1970" >&2; exit 2; } ;; esac
[ -f "$cp" ] && [ -f "$cert" ] && [ -f "$ca" ] || { echo "$cp, $cert or $ca does not exist" >&2; exit 2; }
t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT
openssl x509 -in "$cert" -noout 2> /dev/null || { echo "$cert is not a certificate" >&2; exit 2; }

# (a) The certificate: from the CA (SM2 with the ID), role recgw-log, an SM2 key; its CN is the log's origin.
openssl verify -vfyopt distid:1234567812345678 ${at:+-attime "$at"} -CAfile "$ca" "$cert" > /dev/null 2>&1 ||
  { echo "FAIL $cert is not a certificate of the CA in $ca (checked with the ID 1234567812345678${at:+ at $at})" >&2; exit 1; }
subject=$(openssl x509 -in "$cert" -noout -subject -nameopt RFC2253)
case "$subject" in *OU=recgw-log*) ;; *) echo "FAIL $cert is not for role recgw-log ($subject)" >&2; exit 1 ;; esac
openssl x509 -in "$cert" -noout -text | grep -q 'ASN1 OID: SM2' || { echo "FAIL $cert does not certify an SM2 key" >&2; exit 1; }
origin=$(printf '%s\n' "$subject" | sed -n 's/.*CN=\([^,]*\).*/\1/p')
[ "$(sed -n 1p "$cp")" = "$origin" ] || { echo "FAIL $cp is not a checkpoint of log $origin" >&2; exit 1; }
echo "ok   $cert: the CA's log certificate for $origin"

# (b) The note text is every line before the first blank one; the signature lines follow it.
awk '$0 == "" { exit } { print }' "$cp" > "$t/text"
openssl x509 -in "$cert" -pubkey -noout > "$t/pub.pem"
openssl pkey -pubin -in "$t/pub.pem" -outform DER -out "$t/spki.der"
{ printf '%s\n' "$origin"; printf '\377recgw/sm2-sm3'; cat "$t/spki.der"; } > "$t/id-input"
id=$(openssl dgst -sha256 -binary "$t/id-input" | od -An -tx1 -N4 | tr -d ' \n')
awk -v o="$origin" 'sigs && $1 == "\342\200\224" && $2 == o { print $3 } $0 == "" { sigs = 1 }' "$cp" > "$t/lines"

# (c) Each line of that key ID: 4 bytes of key ID, then the DER SM2 signature of the text.
found=0
while read -r b64; do
  printf '%s' "$b64" | openssl base64 -d -A > "$t/sig" 2> /dev/null || continue
  [ "$(od -An -tx1 -N4 "$t/sig" | tr -d ' \n')" = "$id" ] || continue
  found=$((found + 1))
  tail -c +5 "$t/sig" > "$t/sig.der"
  openssl pkeyutl -verify -pubin -inkey "$t/pub.pem" -rawin -digest sm3 -pkeyopt distid:1234567812345678 \
    -in "$t/text" -sigfile "$t/sig.der" > /dev/null 2>&1 ||
    { echo "FAIL the SM2 signature (key ID $id) on $cp does not verify: the checkpoint was changed or not signed by the log's SM2 key" >&2; exit 1; }
done < "$t/lines"
[ "$found" -gt 0 ] || { echo "FAIL $cp carries no SM2 signature of log $origin (key ID $id)" >&2; exit 1; }
echo "ok   $cp: SM2 signature by the log's SM2 key (key ID $id, SM3, ID 1234567812345678) over $(sed -n 2p "$t/text") leaves"
