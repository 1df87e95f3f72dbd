#!/bin/sh
# check-gm-segment.sh DEVICE-DIR CA.PEM LINE [AGENCY-KEY.PEM OUT]
# Checks the sealed segment of one gm-suite segment.sealed entry with the openssl command line (3.0) and POSIX tools
# only (see docs/evidence-format.md §17.7; check-gm-entry.sh checks the entry's signature and chain): (a) the sealed
# file's size and SM3; (b) its data key is wrapped for the agency encryption certificate in force (SM2, issued by
# the CA, key ID = SM3 of its public key's DER); with the agency's SM2 private key, (c) the data key unwraps (SM2
# decryption) to 48 bytes, (d) the HMAC-SM3 tag over IV || C matches, and only then (e) SM4-CTR decrypts the
# ciphertext into OUT, whose size and SM3 must be the manifest's plain. Exit 0 = every check passed, 1 = a check
# failed, 2 = bad arguments.
set -eu
export LC_ALL=C
[ $# -eq 3 ] || [ $# -eq 5 ] || { echo "usage: $0 DEVICE-DIR CA.PEM LINE [AGENCY-KEY.PEM OUT]" >&2; exit 2; }
dir=$1 ca=$2 n=$3 agency=${4:-} out=${5:-}
case $n in '' | 0* | *[!0-9]*) echo "LINE must be a line number (1 = the first line)" >&2; exit 2 ;; esac
ledger=$dir/ledger.jsonl
[ -f "$ledger" ] || { echo "$ledger does not exist: give a device folder" >&2; exit 2; }
[ -f "$ca" ] || { echo "$ca does not exist: give the agency CA certificate" >&2; exit 2; }
[ -z "$agency" ] || [ -f "$agency" ] || { echo "$agency does not exist: give the agency's SM2 private key" >&2; exit 2; }
fail() { echo "FAIL line $n: $*" >&2; exit 1; }
ok() { echo "ok   line $n: $*"; }
hex() { od -An -v -tx1 | tr -d ' \n'; }
id=distid:1234567812345678
t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT
certof() { sed -n "${1}p" "$ledger" | sed -n 's/.*"body":{"cert":"\([^"]*\)".*/\1/p' | awk '{ gsub(/\\r/, ""); gsub(/\\n/, "\n"); printf "%s", $0 }'; }

line=$(sed -n "${n}p" "$ledger")
[ -n "$line" ] || fail "$ledger has no line $n"
case $line in '{"v":1,"suite":"gm",'*'"type":"segment.sealed","body":{'*) ;; *) fail "not a gm segment.sealed entry" ;; esac
# Manifest members (canonical JSON: sorted, so size comes before sm3; no string here holds a quote).
get() { printf '%s\n' "$line" | sed -n "s|.*\"$1\":\"\\([^\"]*\\)\".*|\\1|p"; }
file=$(get file) iv=$(get iv) wrapped=$(get wrappedKey) keyid=$(get agencyKeyId) alg=$(get alg)
hs() { printf '%s\n' "$line" | sed -n "s|.*\"$1\":{\"size\":\\([0-9]*\\),\"sm3\":\"\\([0-9a-f]*\\)\"}.*|\\$2|p"; }
ssize=$(hs stored 1) ssm3=$(hs stored 2) psize=$(hs plain 1) psm3=$(hs plain 2)
[ "$alg" = SM4-CTR-HMAC-SM3 ] && [ -n "$ssm3" ] && [ -n "$psm3" ] || fail "the manifest is not sealed SM4-CTR-HMAC-SM3 with SM3 hashes"

# (a) The sealed file: C || T, stored.size bytes with stored.sm3.
case $file in segments/*.seg) ;; *) fail "manifest names no segments/*.seg file" ;; esac
[ -f "$dir/$file" ] || fail "$file is missing"
size=$(wc -c < "$dir/$file" | tr -d ' ')
[ "$size" = "$ssize" ] || fail "$file is $size bytes, the manifest says $ssize"
got=$(openssl dgst -sm3 -r "$dir/$file" | cut -d' ' -f1)
[ "$got" = "$ssm3" ] || fail "$file has SM3 $got, the manifest says $ssm3"
ok "$file: $size bytes, SM3 $got as in the manifest"

# (b) The key in force: the certificate of the last encryption.installed entry before this line, an SM2 key issued
# by the CA for recgw-encryption (certificate signatures with the ID 1234567812345678, §17.5); key ID = its SM3.
e=$(head -n "$n" "$ledger" | grep -n -E '"type":"encryption\.installed","body":\{"cert":"' | tail -n 1 | cut -d: -f1)
[ -n "$e" ] || fail "no encryption.installed entry comes before it: nothing says which key the data key is wrapped for"
certof "$e" > "$t/enc.pem"
esubj=$(openssl x509 -in "$t/enc.pem" -noout -subject -nameopt RFC2253) || fail "line $e holds no readable certificate"
case ",${esubj#subject=}," in *",OU=recgw-encryption,"*) ;; *) fail "certificate of line $e is not an agency encryption certificate ($esubj)" ;; esac
openssl verify -vfyopt "$id" -CAfile "$ca" "$t/enc.pem" > /dev/null || fail "encryption certificate of line $e is not issued by $ca"
openssl x509 -in "$t/enc.pem" -noout -text | grep -q 'ASN1 OID: SM2' || fail "encryption certificate of line $e does not carry an SM2 key"
eid=$(openssl x509 -in "$t/enc.pem" -pubkey -noout | openssl pkey -pubin -outform DER | openssl dgst -sm3 -r | cut -d' ' -f1)
[ "$eid" = "$keyid" ] || fail "the data key is wrapped for key $keyid, not for the agency encryption certificate of line $e (key $eid)"
ok "data key wrapped for the agency encryption certificate of line $e ($esubj, SM2, key $eid)"

[ -n "$agency" ] || exit 0
# (c) Agency only: unwrap the data key (SM2 decryption of the GM/T 0009 DER; openssl checks C3): K_enc || K_mac.
mine=$(openssl pkey -in "$agency" -pubout -outform DER | openssl dgst -sm3 -r | cut -d' ' -f1)
[ "$mine" = "$keyid" ] || fail "the data key is wrapped for agency key $keyid, not for $agency ($mine)"
printf '%s' "$wrapped" | openssl base64 -d -A > "$t/wrapped.der"
openssl pkeyutl -decrypt -inkey "$agency" -in "$t/wrapped.der" -out "$t/key.bin" 2> "$t/err" || fail "the data key does not unwrap with $agency"
[ "$(wc -c < "$t/key.bin" | tr -d ' ')" = 48 ] || fail "the unwrapped data key is not 48 bytes"
k=$(hex < "$t/key.bin")
kenc=$(printf '%s' "$k" | cut -c1-32) kmac=$(printf '%s' "$k" | cut -c33-96)
ok "data key unwraps with $agency to 48 bytes"
# (d) The tag: the file's last 32 bytes are HMAC-SM3(K_mac, IV || C), the IV (16 bytes) from the manifest.
printf '%s' "$iv" | openssl base64 -d -A > "$t/iv.bin"
[ "$(wc -c < "$t/iv.bin" | tr -d ' ')" = 16 ] || fail "the IV is not 16 bytes"
head -c $((size - 32)) "$dir/$file" > "$t/c.bin"
tag=$(tail -c 32 "$dir/$file" | hex)
mac=$(cat "$t/iv.bin" "$t/c.bin" | openssl dgst -sm3 -mac HMAC -macopt "hexkey:$kmac" -r | cut -d' ' -f1)
[ "$mac" = "$tag" ] || fail "the HMAC-SM3 tag does not match: $file was altered"
ok "HMAC-SM3 tag over IV || C"
# (e) Only now decrypt: SM4-CTR with the IV as the first counter block. The key is on the command line: use a
# private machine.
openssl enc -d -sm4-ctr -K "$kenc" -iv "$(hex < "$t/iv.bin")" -in "$t/c.bin" -out "$out"
got=$(openssl dgst -sm3 -r "$out" | cut -d' ' -f1)
[ "$(wc -c < "$out" | tr -d ' ')" = "$psize" ] && [ "$got" = "$psm3" ] || fail "$file decrypts to SM3 $got, the manifest's plain is $psize bytes, SM3 $psm3"
ok "decrypted to $out: $psize bytes, SM3 $psm3 as in the manifest"
