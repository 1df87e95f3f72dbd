#!/bin/sh
# check-entry.sh DEVICE-DIR CA.PEM LINE [AGENCY-KEY.PEM]
# Checks one entry of a recgw device folder with the openssl command line and POSIX tools only
# (see docs/evidence-format.md): (a) the device certificate and the entry's signature, (b) its link to the
# line before it, for a segment.sealed entry (c) the sealed file's size and SHA-256 and (d) that its data key
# is wrapped for the agency encryption certificate in force, and (e) with the agency private key, the wrapped
# data key and the decrypted content. Exit 0 = every check passed, 1 = a check failed, 2 = bad arguments.
set -eu
export LC_ALL=C
[ $# -ge 3 ] || { echo "usage: $0 DEVICE-DIR CA.PEM LINE [AGENCY-KEY.PEM]" >&2; exit 2; }
dir=$1 ca=$2 n=$3 agency=${4:-}
case $n in '' | 0* | *[!0-9]*) echo "LINE must be a line number (1 = the first line)" >&2; exit 2 ;; esac
ledger=$dir/ledger.jsonl
[ -f "$ledger" ] || { echo "$ledger does not exist: give a device folder" >&2; exit 2; }
[ -f "$ca" ] || { echo "$ca does not exist: give the agency CA certificate" >&2; exit 2; }
[ -z "$agency" ] || [ -f "$agency" ] || { echo "$agency does not exist: give the agency private key" >&2; exit 2; }
fail() { echo "FAIL line $n: $*" >&2; exit 1; }
ok() { echo "ok   line $n: $*"; }
t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT
# The PEM certificate in body.cert of ledger line $1, with the JSON escapes \r\n turned back into line ends.
certof() { sed -n "${1}p" "$ledger" | sed -n 's/.*"body":{"cert":"\([^"]*\)".*/\1/p' | awk '{ gsub(/\\r/, ""); gsub(/\\n/, "\n"); printf "%s", $0 }'; }
# Certificates count at the time of the entry that carries them, not today: seconds since 1970 from a UTC time
# (days-from-civil), for openssl verify -attime.
epoch() { echo "$1" | awk -F'[-T:.]' '{ y = $1; m = $2; if (m <= 2) { y--; m += 12 }
  printf "%.0f\n", (365 * y + int(y / 4) - int(y / 100) + int(y / 400) + int((153 * (m - 3) + 2) / 5) + $3 - 719469) * 86400 + $4 * 3600 + $5 * 60 + $6 }'; }

line=$(sed -n "${n}p" "$ledger")
[ -n "$line" ] || fail "$ledger has no line $n"
# The fixed header: v, device, seq, prev, time, type, then body; sig is the last member.
hdr='^{"v":1,"device":"\([A-Za-z0-9._-]*\)","seq":\([0-9]*\),"prev":"\([0-9a-f]*\)","time":"\([0-9T:.Z-]*\)","type":"\([a-z0-9_.]*\)","body":{.*}'
field() { printf '%s\n' "$line" | sed -n "s|$hdr,\"sig\":\"[A-Za-z0-9+/]*=*\"}\$|\\$1|p"; }
dev=$(field 1) seq=$(field 2) prev=$(field 3) time=$(field 4) type=$(field 5)
[ -n "$dev" ] || fail "not a ledger entry (members out of order, or no signature last)"

# (a) The certificate in force: the last ledger.opened or certificate.installed entry up to and including this
# line (an entry that carries a certificate is signed with that certificate's key; the CA vouches for it).
c=$(head -n "$n" "$ledger" | grep -n -E '"type":"(ledger\.opened|certificate\.installed)","body":\{"cert":"' | tail -n 1 | cut -d: -f1)
[ -n "$c" ] || fail "no certificate entry comes before it"
certof "$c" > "$t/cert.pem"
subj=$(openssl x509 -in "$t/cert.pem" -noout -subject -nameopt RFC2253) || fail "line $c holds no readable certificate"
case ",${subj#subject=}," in *",CN=$dev,"*) ;; *) fail "certificate of line $c is not issued to device $dev ($subj)" ;; esac
case ",${subj#subject=}," in *",OU=recgw-device,"*) ;; *) fail "certificate of line $c is not a device certificate ($subj)" ;; esac
openssl verify -attime "$(epoch "$time")" -CAfile "$ca" "$t/cert.pem" > /dev/null || fail "certificate of line $c is not valid under $ca at $time"
ok "certificate of line $c: $subj, issued by $ca, valid at $time"
openssl x509 -in "$t/cert.pem" -pubkey -noout > "$t/pub.pem"
printf '%s\n' "$line" | sed 's|,"sig":"[A-Za-z0-9+/]*=*"}$|}|' | tr -d '\n' > "$t/signed.bin"
printf '%s\n' "$line" | sed 's|.*,"sig":"\([A-Za-z0-9+/]*=*\)"}$|\1|' | tr -d '\n' | openssl base64 -d -A > "$t/sig.bin"
openssl dgst -sha256 -verify "$t/pub.pem" -signature "$t/sig.bin" "$t/signed.bin" > /dev/null || fail "signature does not verify"
ok "signature of entry seq $seq ($type) verifies"

# (b) The chain: seq counts lines from 0, and prev is the SHA-256 of the previous line without its newline.
[ "$seq" = $((n - 1)) ] || fail "seq is $seq where $((n - 1)) was expected"
if [ "$n" -eq 1 ]; then want=0000000000000000000000000000000000000000000000000000000000000000
else want=$(sed -n "$((n - 1))p" "$ledger" | tr -d '\n' | openssl dgst -sha256 -r | cut -d' ' -f1); fi
[ "$prev" = "$want" ] || fail "prev $prev does not match the line before it ($want)"
if [ "$n" -eq 1 ]; then ok "is the genesis entry (prev all zeros)"; else ok "links to line $((n - 1)) (prev $prev)"; fi

[ "$type" = segment.sealed ] || exit 0
# (c) The sealed file: stored.size and stored.sha256 of the manifest (the body's last member "stored").
get() { printf '%s\n' "$line" | sed -n "s|.*\"$1\":\"\\([^\"]*\\)\".*|\\1|p"; }
file=$(get file) iv=$(get iv) wrapped=$(get wrappedKey) keyid=$(get agencyKeyId)
ssha=$(printf '%s\n' "$line" | sed -n 's|.*"stored":{"sha256":"\([0-9a-f]*\)","size":\([0-9]*\)}.*|\1|p')
ssize=$(printf '%s\n' "$line" | sed -n 's|.*"stored":{"sha256":"\([0-9a-f]*\)","size":\([0-9]*\)}.*|\2|p')
case $file in segments/*.seg) ;; *) fail "manifest names no segments/*.seg file" ;; esac
[ -f "$dir/$file" ] || fail "$file is missing"
size=$(wc -c < "$dir/$file" | tr -d ' ')
[ "$size" = "$ssize" ] || fail "$file is $size bytes, the manifest says $ssize"
got=$(openssl dgst -sha256 -r "$dir/$file" | cut -d' ' -f1)
[ "$got" = "$ssha" ] || fail "$file has SHA-256 $got, the manifest says $ssha"
ok "$file: $size bytes, SHA-256 $got as in the manifest"

# (d) The key the data key is wrapped for: agencyKeyId must be the key of the agency encryption certificate in
# force, the one of the last encryption.installed entry before this line (OU=recgw-encryption, issued by the CA,
# valid at that entry's time, RSA of at least 2048 bits); the key ID is the SHA-256 of its public key's DER.
e=$(head -n "$n" "$ledger" | grep -n -E '"type":"encryption\.installed","body":\{"cert":"' | tail -n 1 | cut -d: -f1)
[ -n "$e" ] || fail "no encryption.installed entry comes before it: nothing says which key the data key is wrapped for"
certof "$e" > "$t/enc.pem"
esubj=$(openssl x509 -in "$t/enc.pem" -noout -subject -nameopt RFC2253) || fail "line $e holds no readable certificate"
case ",${esubj#subject=}," in *",OU=recgw-encryption,"*) ;; *) fail "certificate of line $e is not an agency encryption certificate ($esubj)" ;; esac
etime=$(sed -n "${e}p" "$ledger" | sed -n 's|^{"v":1,"device":"[^"]*","seq":[0-9]*,"prev":"[0-9a-f]*","time":"\([0-9T:.Z-]*\)".*|\1|p')
openssl verify -attime "$(epoch "$etime")" -CAfile "$ca" "$t/enc.pem" > /dev/null || fail "encryption certificate of line $e is not valid under $ca at $etime"
openssl x509 -in "$t/enc.pem" -noout -text > "$t/enc.txt"
bits=$(sed -n 's/.*Public-Key: (\([0-9]*\) bit).*/\1/p' "$t/enc.txt")
grep -q 'Public Key Algorithm: rsaEncryption' "$t/enc.txt" && [ "${bits:-0}" -ge 2048 ] || fail "encryption certificate of line $e does not carry an RSA key of at least 2048 bits"
eid=$(openssl x509 -in "$t/enc.pem" -pubkey -noout | openssl pkey -pubin -outform DER | openssl dgst -sha256 -r | cut -d' ' -f1)
[ "$eid" = "$keyid" ] || fail "the data key is wrapped for key $keyid, not for the agency encryption certificate of line $e (key $eid)"
ok "data key wrapped for the agency encryption certificate of line $e ($esubj, RSA $bits, key $eid)"

[ -n "$agency" ] || exit 0
# (e) Agency only: unwrap the data key (RSA-OAEP, SHA-256, MGF1-SHA-256) and check it is 32 bytes.
mine=$(openssl pkey -in "$agency" -pubout -outform DER | openssl dgst -sha256 -r | cut -d' ' -f1)
[ "$mine" = "$keyid" ] || fail "the data key is wrapped for agency key $keyid, not for $agency ($mine)"
printf '%s' "$wrapped" | openssl base64 -d -A > "$t/wrapped.bin"
openssl pkeyutl -decrypt -inkey "$agency" -in "$t/wrapped.bin" -out "$t/key.bin" \
  -pkeyopt rsa_padding_mode:oaep -pkeyopt rsa_oaep_md:sha256 -pkeyopt rsa_mgf1_md:sha256 || fail "the data key does not unwrap"
[ "$(wc -c < "$t/key.bin" | tr -d ' ')" = 32 ] || fail "the unwrapped data key is not 32 bytes"
ok "data key unwraps with $agency to 32 bytes"
# openssl enc cannot do AES-GCM, but GCM's keystream is AES-CTR from counter block IV || 00000002, so CTR
# decrypts the ciphertext (the file minus its 16-byte tag). This does not check the tag: it checks the
# content against the signed plain.sha256 instead. The key appears on the command line: use a private machine.
psha=$(printf '%s\n' "$line" | sed -n 's|.*"plain":{"sha256":"\([0-9a-f]*\)","size":\([0-9]*\)}.*|\1|p')
k=$(od -An -v -tx1 "$t/key.bin" | tr -d ' \n')
ivhex=$(printf '%s' "$iv" | openssl base64 -d -A | od -An -v -tx1 | tr -d ' \n')
[ ${#ivhex} -eq 24 ] || fail "the IV is not 96 bits"
got=$(head -c $((size - 16)) "$dir/$file" | openssl enc -d -aes-256-ctr -K "$k" -iv "${ivhex}00000002" | openssl dgst -sha256 -r | cut -d' ' -f1)
[ "$got" = "$psha" ] || fail "$file decrypts to SHA-256 $got, the manifest's plain.sha256 is $psha"
ok "$file decrypts to the manifest's plain.sha256 $psha"
