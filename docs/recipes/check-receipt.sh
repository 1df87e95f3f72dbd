#!/bin/sh
# check-receipt.sh DEVICE-DIR CA.PEM LINE
# Checks one agency receipt of a recgw receiver store with the openssl command line and POSIX tools only (see
# docs/evidence-format.md §15): (a) the log certificate beside the store (log/log-cert.pem) is the agency CA's, for
# role recgw-log; (b) the checkpoint in the receipt's log proof is signed by that log key (Ed25519, C2SP signed
# note); (c) the inclusion proof puts the receipt's item - the log leaf rebuilt from the receipt - in that
# checkpoint's tree (RFC 6962/9162); (d) for an entries receipt, the ledger's entry at through.seq still has the
# receipted hash; and first (0) the receipt's own signature by the agency's receipt certificate. LINE is a line
# number of DEVICE-DIR/receipts.jsonl (1 = the first).
# Exit 0 = every check passed, 1 = a check failed, 2 = bad arguments.
set -eu
export LC_ALL=C
[ $# -eq 3 ] || { echo "usage: $0 DEVICE-DIR CA.PEM LINE" >&2; exit 2; }
dir=$1 ca=$2 n=$3
case $n in '' | 0* | *[!0-9]*) echo "LINE must be a line number (1 = the first line)" >&2; exit 2 ;; esac
[ -f "$dir/receipts.jsonl" ] || { echo "$dir/receipts.jsonl does not exist: give a device folder of a receiver store" >&2; exit 2; }
[ -f "$ca" ] || { echo "$ca does not exist: give the agency CA certificate" >&2; exit 2; }
logdir=$dir/../log
[ -f "$logdir/log-cert.pem" ] || { echo "$logdir/log-cert.pem does not exist: the store has no agency log" >&2; exit 2; }
fail() { echo "FAIL receipt line $n: $*" >&2; exit 1; }
ok() { echo "ok   receipt line $n: $*"; }
t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT

r=$(sed -n "${n}p" "$dir/receipts.jsonl")
[ -n "$r" ] || fail "receipts.jsonl has no line $n"
# Receipts are canonical JSON (keys sorted); these values hold no quotes or backslashes but the \n of `log`.
str() { printf '%s\n' "$r" | sed -n "s|.*\"$1\":\"\\([^\"]*\\)\".*|\\1|p"; }
num() { printf '%s\n' "$r" | sed -n "s|.*\"$1\":\\([0-9]*\\)[,}].*|\\1|p"; }
kind=$(str kind) device=$(str device) stored=$(str storedAt)

# (0) The receipt itself: signed by the agency's receipt certificate over its canonical JSON without "sig".
str cert | awk '{ gsub(/\\r/, ""); gsub(/\\n/, "\n"); printf "%s", $0 }' > "$t/rcert.pem"
rsubj=$(openssl x509 -in "$t/rcert.pem" -noout -subject -nameopt RFC2253) || fail "the receipt holds no readable certificate"
case ",${rsubj#subject=}," in *",OU=recgw-receipt,"*) ;; *) fail "the receipt is not signed with a receipt certificate ($rsubj)" ;; esac
at=$(echo "$stored" | awk -F'[-T:.]' '{ y = $1; m = $2; if (m <= 2) { y--; m += 12 }
  printf "%.0f\n", (365 * y + int(y / 4) - int(y / 100) + int(y / 400) + int((153 * (m - 3) + 2) / 5) + $3 - 719469) * 86400 + $4 * 3600 + $5 * 60 + $6 }')
openssl verify -attime "$at" -CAfile "$ca" "$t/rcert.pem" > /dev/null || fail "the receipt certificate is not valid under $ca at $stored"
openssl x509 -in "$t/rcert.pem" -pubkey -noout > "$t/rpub.pem"
printf '%s' "$r" | sed 's|,"sig":"[A-Za-z0-9+/]*=*"||' > "$t/signed"
str sig | openssl base64 -d -A > "$t/rsig"
openssl dgst -sha256 -verify "$t/rpub.pem" -signature "$t/rsig" "$t/signed" > /dev/null || fail "the receipt's signature does not verify"
ok "signed by the agency's receipt key ($rsubj) at $stored"
[ -n "$(str log)" ] || fail "the receipt carries no log proof (a receipt from before the agency log)"
printf '%b' "$(str log)" > "$t/proof"

# (a) The log key: a certificate from the agency CA for role recgw-log; its CN is the log's origin.
subj=$(openssl x509 -in "$logdir/log-cert.pem" -noout -subject -nameopt RFC2253) || fail "log-cert.pem is not a certificate"
case ",${subj#subject=}," in *",OU=recgw-log,"*) ;; *) fail "log-cert.pem is not a log certificate ($subj)" ;; esac
origin=$(printf '%s\n' "${subj#subject=}" | tr ',' '\n' | sed -n 's/^CN=//p')
openssl verify -CAfile "$ca" "$logdir/log-cert.pem" > /dev/null || fail "log-cert.pem is not issued by $ca"
openssl x509 -in "$logdir/log-cert.pem" -pubkey -noout > "$t/pub.pem"
ok "log key of $origin, certified by $ca"

# (b) The checkpoint: the lines after the proof's blank line; its text is origin, size, root; then signatures.
sed -n '/^$/,$p' "$t/proof" | sed '1d' > "$t/checkpoint"
head -n 3 "$t/checkpoint" > "$t/text"
[ "$(sed -n 1p "$t/text")" = "$origin" ] || fail "the checkpoint is for log $(sed -n 1p "$t/text"), not $origin"
size=$(sed -n 2p "$t/text") root=$(sed -n 3p "$t/text")
line=$(grep "^— $origin " "$t/checkpoint" | head -n 1)
[ -n "$line" ] || fail "the checkpoint carries no signature of $origin"
# The signature is base64 of a 4-byte key ID and the 64-byte Ed25519 signature over the note text.
printf '%s' "${line##* }" | openssl base64 -d -A | tail -c 64 > "$t/sig"
openssl pkeyutl -verify -pubin -inkey "$t/pub.pem" -rawin -in "$t/text" -sigfile "$t/sig" > /dev/null || fail "the checkpoint's signature does not verify"
ok "checkpoint of $size leaves, root $root, signed by $origin"

# (c) The leaf the receipt is about, as canonical JSON, and its RFC 6962 leaf hash SHA-256(0x00 || leaf).
if [ "$kind" = entries ]; then
  seq=$(printf '%s\n' "$r" | sed -n 's|.*"through":{"hash":"[0-9a-f]*","seq":\([0-9]*\)}.*|\1|p')
  hash=$(printf '%s\n' "$r" | sed -n 's|.*"through":{"hash":"\([0-9a-f]*\)".*|\1|p')
  printf '{"accepted":"%s","device":"%s","hash":"%s","kind":"entry","seq":%s,"v":1}' "$stored" "$device" "$hash" "$seq" > "$t/leaf"
else
  printf '{"accepted":"%s","device":"%s","kind":"segment","manifestSeq":%s,"name":"%s","sha256":"%s","size":%s,"v":1}' \
    "$stored" "$device" "$(num manifestSeq)" "$(str name)" "$(str sha256)" "$(num size)" > "$t/leaf"
fi
# The inclusion proof (RFC 6962/9162), walked by check-inclusion.sh beside this script.
index=$(sh "$(dirname "$0")/check-inclusion.sh" "$t/leaf" "$t/proof") || fail "the receipt's item is not in the log the checkpoint signs"
ok "the $kind receipt's item is leaf $index of the log"

# (d) The ledger still holds what an entries receipt says the agency stored.
[ "$kind" = entries ] || exit 0
got=$(sed -n "$((seq + 1))p" "$dir/ledger.jsonl" | tr -d '\n' | openssl dgst -sha256 -r | cut -d' ' -f1)
[ "$got" = "$hash" ] || fail "ledger line $((seq + 1)) hashes to $got, but the agency stored entry $seq with hash $hash"
ok "ledger entry $seq is the one the agency stored"
