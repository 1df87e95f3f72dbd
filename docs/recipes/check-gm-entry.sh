#!/bin/sh
# check-gm-entry.sh DEVICE-DIR CA.PEM LINE
# Checks one gm-suite entry of a recgw device folder with the openssl command line (3.0) and POSIX tools only (see
# docs/evidence-format.md §17.6): (a) the device certificate in force is issued by the agency CA (SM2-with-SM3,
# signer ID 1234567812345678) to this device; (b) the entry's SM2 signature over SM3 with that certificate's key
# and the ID 1234567812345678; (c) its link to the line before it: prev is the hash of that line in that line's own
# suite (SM3 for a gm line, SHA-256 for an intl one). Exit 0 = every check passed, 1 = a check failed, 2 = bad arguments.
set -eu
export LC_ALL=C
[ $# -eq 3 ] || { echo "usage: $0 DEVICE-DIR CA.PEM LINE" >&2; exit 2; }
dir=$1 ca=$2 n=$3
case $n in '' | 0* | *[!0-9]*) echo "LINE must be a line number (1 = the first line)" >&2; exit 2 ;; esac
ledger=$dir/ledger.jsonl
[ -f "$ledger" ] || { echo "$ledger does not exist: give a device folder" >&2; exit 2; }
[ -f "$ca" ] || { echo "$ca does not exist: give the agency CA certificate" >&2; exit 2; }
fail() { echo "FAIL line $n: $*" >&2; exit 1; }
ok() { echo "ok   line $n: $*"; }
id=distid:1234567812345678
t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT
# The PEM certificate in body.cert of ledger line $1, with the JSON escapes \r\n turned back into line ends.
certof() { sed -n "${1}p" "$ledger" | sed -n 's/.*"body":{"cert":"\([^"]*\)".*/\1/p' | awk '{ gsub(/\\r/, ""); gsub(/\\n/, "\n"); printf "%s", $0 }'; }

line=$(sed -n "${n}p" "$ledger")
[ -n "$line" ] || fail "$ledger has no line $n"
# A gm entry's fixed header: v, suite "gm", device, seq, prev, time, type, then body; sig is the last member.
hdr='^{"v":1,"suite":"gm","device":"\([A-Za-z0-9._-]*\)","seq":\([0-9]*\),"prev":"\([0-9a-f]*\)","time":"\([0-9T:.Z-]*\)","type":"\([a-z0-9_.]*\)","body":{.*}'
field() { printf '%s\n' "$line" | sed -n "s|$hdr,\"sig\":\"[A-Za-z0-9+/]*=*\"}\$|\\$1|p"; }
dev=$(field 1) seq=$(field 2) prev=$(field 3) type=$(field 5)
[ -n "$dev" ] || fail "not a gm ledger entry (no \"suite\":\"gm\" after v, members out of order, or no signature last)"

# (a) The certificate in force: the last ledger.opened or certificate.installed entry up to and including this line.
c=$(head -n "$n" "$ledger" | grep -n -E '"type":"(ledger\.opened|certificate\.installed)","body":\{"cert":"' | tail -n 1 | cut -d: -f1)
[ -n "$c" ] || fail "no certificate entry comes before it"
certof "$c" > "$t/cert.pem"
subj=$(openssl x509 -in "$t/cert.pem" -noout -subject -nameopt RFC2253) || fail "line $c holds no readable certificate"
case ",${subj#subject=}," in *",CN=$dev,"*) ;; *) fail "certificate of line $c is not issued to device $dev ($subj)" ;; esac
case ",${subj#subject=}," in *",OU=recgw-device,"*) ;; *) fail "certificate of line $c is not a device certificate ($subj)" ;; esac
# OpenSSL 3.0 checks SM2 certificate signatures with an empty ID unless given the one they were made with (§17.5).
openssl verify -vfyopt "$id" -CAfile "$ca" "$t/cert.pem" > /dev/null || fail "certificate of line $c is not issued by $ca"
ok "certificate of line $c: $subj, issued by $ca"

# (b) The signature: SM2 over SM3 of the line without its sig member, Z from the ID.
openssl x509 -in "$t/cert.pem" -pubkey -noout > "$t/pub.pem"
printf '%s\n' "$line" | sed 's|,"sig":"[A-Za-z0-9+/]*=*"}$|}|' | tr -d '\n' > "$t/signed.bin"
printf '%s\n' "$line" | sed 's|.*,"sig":"\([A-Za-z0-9+/]*=*\)"}$|\1|' | tr -d '\n' | openssl base64 -d -A > "$t/sig.der"
openssl pkeyutl -verify -pubin -inkey "$t/pub.pem" -rawin -digest sm3 -pkeyopt "$id" -in "$t/signed.bin" -sigfile "$t/sig.der" > /dev/null 2>&1 ||
  fail "signature does not verify"
ok "signature of entry seq $seq ($type) verifies (SM2, ID 1234567812345678)"

# (c) The chain: prev is the hash of the line before it, in that line's own suite.
[ "$seq" = $((n - 1)) ] || fail "seq is $seq where $((n - 1)) was expected"
if [ "$n" -eq 1 ]; then want=0000000000000000000000000000000000000000000000000000000000000000
else
  before=$(sed -n "$((n - 1))p" "$ledger")
  case $before in '{"v":1,"suite":"gm",'*) alg=sm3 ;; *) alg=sha256 ;; esac
  want=$(printf '%s' "$before" | openssl dgst -$alg -r | cut -d' ' -f1)
fi
[ "$prev" = "$want" ] || fail "prev $prev does not match the line before it ($want)"
if [ "$n" -eq 1 ]; then ok "is the genesis entry (prev all zeros)"; else ok "links to line $((n - 1)) (prev $prev, $alg)"; fi
