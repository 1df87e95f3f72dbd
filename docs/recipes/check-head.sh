#!/bin/sh
# check-head.sh DEVICE-DIR CA.PEM
# Checks a device folder's head.json with the openssl command line and POSIX tools only (see
# docs/evidence-format.md): the signer's certificate, the signature, and that the ledger still holds the entry
# the head names, with that hash. This is what shows a ledger cut short at a line boundary.
# Exit 0 = every check passed, 1 = a check failed, 2 = bad arguments.
set -eu
export LC_ALL=C
[ $# -eq 2 ] || { echo "usage: $0 DEVICE-DIR CA.PEM" >&2; exit 2; }
dir=$1 ca=$2
[ -f "$dir/ledger.jsonl" ] || { echo "$dir/ledger.jsonl does not exist: give a device folder" >&2; exit 2; }
[ -f "$ca" ] || { echo "$ca does not exist: give the agency CA certificate" >&2; exit 2; }
fail() { echo "FAIL head.json: $*" >&2; exit 1; }
ok() { echo "ok   head.json: $*"; }
t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT

[ -f "$dir/head.json" ] || fail "missing: nothing shows the ledger is complete"
head=$(cat "$dir/head.json")
# Canonical JSON, so the members come sorted: cert, device, hash, seq, sig, signer, time, v.
re='^{"cert":"\([^"]*\)","device":"\([A-Za-z0-9._-]*\)","hash":"\([0-9a-f]*\)","seq":\([0-9]*\),"sig":"\([A-Za-z0-9+/]*=*\)","signer":"\([a-z]*\)","time":"\([0-9T:.Z-]*\)","v":1}$'
field() { printf '%s\n' "$head" | sed -n "s|$re|\\$1|p"; }
dev=$(field 2) hash=$(field 3) seq=$(field 4) sig=$(field 5) signer=$(field 6) time=$(field 7)
[ -n "$dev" ] || fail "not a head statement (members missing, out of order, or not canonical JSON)"

# The signer's certificate: the device itself, or the agency's receiver (receipt certificate).
field 1 | awk '{ gsub(/\\r/, ""); gsub(/\\n/, "\n"); printf "%s", $0 }' > "$t/cert.pem"
subj=$(openssl x509 -in "$t/cert.pem" -noout -subject -nameopt RFC2253) || fail "holds no readable certificate"
case $signer in
  device) case ",${subj#subject=}," in *",CN=$dev,"*) ;; *) fail "certificate is not issued to device $dev ($subj)" ;; esac
    role=recgw-device ;;
  agency) role=recgw-receipt ;;
  *) fail "unknown signer $signer" ;;
esac
case ",${subj#subject=}," in *",OU=$role,"*) ;; *) fail "certificate is not for role $role ($subj)" ;; esac
at=$(echo "$time" | awk -F'[-T:.]' '{ y = $1; m = $2; if (m <= 2) { y--; m += 12 }
  printf "%.0f\n", (365 * y + int(y / 4) - int(y / 100) + int(y / 400) + int((153 * (m - 3) + 2) / 5) + $3 - 719469) * 86400 + $4 * 3600 + $5 * 60 + $6 }')
openssl verify -attime "$at" -CAfile "$ca" "$t/cert.pem" > /dev/null || fail "certificate is not valid under $ca at $time"
openssl x509 -in "$t/cert.pem" -pubkey -noout > "$t/pub.pem"
# Signed bytes: the same canonical JSON without the sig member (and without the newline).
printf '%s\n' "$head" | sed 's|"sig":"[A-Za-z0-9+/]*=*",||' | tr -d '\n' > "$t/signed.bin"
printf '%s' "$sig" | openssl base64 -d -A > "$t/sig.bin"
openssl dgst -sha256 -verify "$t/pub.pem" -signature "$t/sig.bin" "$t/signed.bin" > /dev/null || fail "signature does not verify"
ok "signed by $signer ($subj) at $time"

# The entry it names: line seq+1 must exist and hash to head.hash.
line=$(sed -n "$((seq + 1))p" "$dir/ledger.jsonl")
[ -n "$line" ] || fail "names entry seq $seq but the ledger ends before it: the ledger was cut short"
case $line in "{\"v\":1,\"device\":\"$dev\",\"seq\":$seq,"*) ;; *) fail "line $((seq + 1)) is not entry seq $seq of device $dev" ;; esac
got=$(printf '%s' "$line" | openssl dgst -sha256 -r | cut -d' ' -f1)
[ "$got" = "$hash" ] || fail "entry seq $seq hashes to $got, the head says $hash"
ok "ledger line $((seq + 1)) is entry seq $seq with hash $hash"
