#!/bin/sh
# check-disc.sh [DISC-DIR] [SUMS-SHA256]
# Verifies a recgw evidence disc (docs/evidence-package.md) with the openssl command line and POSIX tools only, from
# nothing but what is on the disc (the disc carries this script as verify.sh): (1) every file against SHA256SUMS,
# and no file on the disc left out of it (and SHA256SUMS itself against the hash published with the disc, when
# given); (2) the agency log's certificate is the agency CA's (certs/) and the log signed the checkpoint (log/);
# (3) each ledger entry (entries/): its log leaf names the entry's SHA-256, the inclusion proof puts the leaf in
# the signed checkpoint's tree, and the device certificate in force (from the certificate entries on the disc,
# proven the same way) is the CA's and signed the entry; (4) every media file (media/) has the size and SHA-256 of
# the plaintext its signed segment.sealed manifest names, and every manifest on the disc has its media file.
# Both suites (docs/evidence-format.md §17): an entry that says "suite":"gm" is hashed with SM3 and its SM2
# signature checked over SM3 with the default signer ID, its media against the manifest's SM3; others with SHA-256.
# Adapted from check-entry.sh and check-receipt.sh; check-inclusion.sh, beside it on the disc, walks the proofs, and
# on a gm disc check-gm-checkpoint.sh checks the checkpoint's SM2 line.
# Exit 0 = every check passed, 1 = a check failed, 2 = bad arguments.
set -eu
export LC_ALL=C
d=${1:-$(dirname "$0")}
published=${2:-}
[ -f "$d/SHA256SUMS" ] || { echo "$d/SHA256SUMS does not exist: give the folder of the disc (its root)" >&2; exit 2; }
case $published in '' | [0-9a-f]*) ;; *) echo "SUMS-SHA256 must be the hex SHA-256 published for SHA256SUMS" >&2; exit 2 ;; esac
here=$(cd "$(dirname "$0")" && pwd)
[ -f "$here/check-inclusion.sh" ] || { echo "$here/check-inclusion.sh is missing: it is on the disc beside this script" >&2; exit 2; }
cd "$d"
fail() { echo "FAIL $*" >&2; exit 1; }
ok() { echo "ok   $*"; }
t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT
sha() { openssl dgst -sha256 -r "$1" | cut -d' ' -f1; }
sm3() { openssl dgst -sm3 -r "$1" | cut -d' ' -f1; }
# SM2 signatures (a gm CA's certificates, gm entries) are over SM3 with this signer ID. openssl verify takes it only
# for a certificate an SM2 key signed (given for an RSA-signed one, the check fails).
id=distid:1234567812345678
verify_at() { # CERT TIME
  if openssl x509 -in "$1" -noout -text | grep -q 'Signature Algorithm: SM2-with-SM3'; then
    openssl verify -vfyopt "$id" -attime "$(epoch "$2")" -CAfile "$ca" "$1"
  else
    openssl verify -attime "$(epoch "$2")" -CAfile "$ca" "$1"
  fi > /dev/null
}
# Seconds since 1970 from a UTC time (days-from-civil), for openssl verify -attime.
epoch() { echo "$1" | awk -F'[-T:.]' '{ y = $1; m = $2; if (m <= 2) { y--; m += 12 }
  printf "%.0f\n", (365 * y + int(y / 4) - int(y / 100) + int(y / 400) + int((153 * (m - 3) + 2) / 5) + $3 - 719469) * 86400 + $4 * 3600 + $5 * 60 + $6 }'; }

# (1) The file list. It is not signed: what makes it the agency's is the signed entries below and the hash of the
# disc (or of SHA256SUMS) recorded in the case file when the disc was burnt.
if [ -n "$published" ]; then
  got=$(sha SHA256SUMS)
  [ "$got" = "$published" ] || fail "SHA256SUMS has SHA-256 $got, not the $published published with the disc"
  ok "SHA256SUMS is the one published with the disc ($published)"
fi
n=0
while IFS= read -r l; do
  h=${l%%  *} f=${l#*  }
  case /$f/ in *//* | */../* | */./*) fail "SHA256SUMS names $f, which is not a plain path on the disc" ;; esac
  [ -f "$f" ] || fail "$f is listed in SHA256SUMS but is not on the disc"
  [ "$(sha "$f")" = "$h" ] || fail "$f does not have the SHA-256 SHA256SUMS lists for it ($h): it was changed"
  n=$((n + 1))
done < SHA256SUMS
find . -type f | sed 's|^\./||' | grep -v '^SHA256SUMS$' | sort > "$t/present"
sed 's/^[0-9a-f]*  //' SHA256SUMS | sort > "$t/listed"
extra=$(comm -23 "$t/present" "$t/listed" | head -n 1)
[ -z "$extra" ] || fail "$extra is on the disc but not in SHA256SUMS"
ok "$n files have the SHA-256 that SHA256SUMS lists; no other file is on the disc"

# (2) The log key: a certificate from the agency CA for role recgw-log, its CN the log's origin; judged at the
# newest acceptance time among the disc's leaves (the log signed while it was valid; the disc is read years later).
ca=certs/ca.pem logcert=certs/log-cert.pem
newest=$(for l in entries/*/*.leaf; do sed -n 's/^{"accepted":"\([0-9T:.Z-]*\)".*/\1/p' "$l"; echo; done | sort | tail -n 1)
[ -n "$newest" ] || fail "no log leaf on the disc"
subj=$(openssl x509 -in "$logcert" -noout -subject -nameopt RFC2253) || fail "$logcert is not a certificate"
case ",${subj#subject=}," in *",OU=recgw-log,"*) ;; *) fail "$logcert is not a log certificate ($subj)" ;; esac
origin=$(printf '%s\n' "${subj#subject=}" | tr ',' '\n' | sed -n 's/^CN=//p')
verify_at "$logcert" "$newest" || fail "$logcert is not issued by $ca (valid at $newest)"
openssl x509 -in "$logcert" -pubkey -noout > "$t/logpub.pem"
head -n 3 log/checkpoint > "$t/text"
[ "$(sed -n 1p "$t/text")" = "$origin" ] || fail "log/checkpoint is for log $(sed -n 1p "$t/text"), not $origin"
size=$(sed -n 2p "$t/text") root=$(sed -n 3p "$t/text")
sigline=$(grep "^— $origin " log/checkpoint | head -n 1)
[ -n "$sigline" ] || fail "log/checkpoint carries no signature of $origin"
# base64 of a 4-byte key ID and the 64-byte Ed25519 signature over the note text.
printf '%s' "${sigline##* }" | openssl base64 -d -A | tail -c 64 > "$t/sig"
openssl pkeyutl -verify -pubin -inkey "$t/logpub.pem" -rawin -in "$t/text" -sigfile "$t/sig" > /dev/null || fail "the signature on log/checkpoint does not verify"
ok "log/checkpoint: $size leaves, root $root, signed by $origin (certified by $ca)"
# A gm log (its certificate from a gm CA) signs each checkpoint with SM2 too (evidence-format.md §17.9): that line is
# checked by check-gm-checkpoint.sh, on the disc beside this script, with the certificate judged at the same time.
if [ -f certs/log-sm2-cert.pem ] || openssl x509 -in "$logcert" -noout -text | grep -q 'Signature Algorithm: SM2-with-SM3'; then
  [ -f certs/log-sm2-cert.pem ] || fail "$logcert is a gm CA's, but certs/log-sm2-cert.pem is not on the disc: a gm log signs each checkpoint with SM2 too"
  [ -f "$here/check-gm-checkpoint.sh" ] || fail "$here/check-gm-checkpoint.sh is missing: a gm disc carries it beside this script"
  sh "$here/check-gm-checkpoint.sh" log/checkpoint certs/log-sm2-cert.pem "$ca" "$(epoch "$newest")" > "$t/gm" 2>&1 ||
    fail "$(sed -n 's/^FAIL //p' "$t/gm" | head -n 1)"
  ok "log/checkpoint: SM2 signature (SM3, ID 1234567812345678) by the log's SM2 key too (certs/log-sm2-cert.pem, certified by $ca)"
fi

# (3) The ledger entries, in order of device and seq (file names are the seq, 10 digits).
hdr='^{"v":1,\("suite":"gm",\)\{0,1\}"device":"\([A-Za-z0-9._-]*\)","seq":\([0-9]*\),"prev":"\([0-9a-f]*\)","time":"\([0-9T:.Z-]*\)","type":"\([a-z0-9_.]*\)","body":{.*}'
cdev= entries=0
for f in entries/*/*.line; do
  [ -f "$f" ] || fail "no ledger entry on the disc"
  b=${f%.line} dev=${f#entries/} dev=${dev%%/*}
  line=$(cat "$f")
  field() { printf '%s\n' "$line" | sed -n "s|$hdr,\"sig\":\"[A-Za-z0-9+/]*=*\"}\$|\\$1|p"; }
  edev=$(field 2) seq=$(field 3) time=$(field 5) type=$(field 6)
  case $line in '{"v":1,"suite":"gm",'*) suite=gm ;; *) suite=intl ;; esac
  [ -n "$edev" ] || fail "$f is not a ledger entry"
  [ "$edev" = "$dev" ] || fail "$f is an entry of device $edev, not $dev"
  [ "$b" = "entries/$dev/$(printf %010d "$seq")" ] || fail "$f holds entry seq $seq"
  # The leaf the log holds for it: canonical JSON naming this entry's hash (of the line without its newline) in the
  # entry's own suite: SHA-256, or SM3 for a gm entry.
  if [ "$suite" = gm ]; then h=$(sm3 "$f"); else h=$(sha "$f"); fi
  acc=$(sed -n 's/^{"accepted":"\([0-9T:.Z-]*\)",.*/\1/p' "$b.leaf")
  printf '{"accepted":"%s","device":"%s","hash":"%s","kind":"entry","seq":%s,"v":1}' "$acc" "$dev" "$h" "$seq" > "$t/leaf"
  cmp -s "$t/leaf" "$b.leaf" || fail "$b.leaf is not the log leaf of entry $seq of $dev ($suite hash $h)"
  # The proof's checkpoint is the disc's, and the proof leads from the leaf to its root (check-inclusion.sh).
  sed -n '/^$/,$p' "$b.proof" | sed '1d' > "$t/cp"
  cmp -s "$t/cp" log/checkpoint || fail "$b.proof is not against log/checkpoint"
  sh "$here/check-inclusion.sh" "$t/leaf" "$b.proof" > /dev/null || fail "$b.proof does not put entry $seq of $dev in the agency log as it is here"
  # The certificate in force: the entry's own, when it carries one, else the last one before it on the disc.
  case $type in ledger.opened | certificate.installed)
    printf '%s\n' "$line" | sed -n 's/.*"body":{"cert":"\([^"]*\)".*/\1/p' | awk '{ gsub(/\\r/, ""); gsub(/\\n/, "\n"); printf "%s", $0 }' > "$t/cert.pem"
    csubj=$(openssl x509 -in "$t/cert.pem" -noout -subject -nameopt RFC2253) || fail "$f holds no readable certificate"
    case ",${csubj#subject=}," in *",CN=$dev,"*) ;; *) fail "the certificate of $f is not issued to device $dev ($csubj)" ;; esac
    case ",${csubj#subject=}," in *",OU=recgw-device,"*) ;; *) fail "the certificate of $f is not a device certificate ($csubj)" ;; esac
    verify_at "$t/cert.pem" "$time" || fail "the certificate of $f is not valid under $ca at $time"
    openssl x509 -in "$t/cert.pem" -pubkey -noout > "$t/pub.pem"
    cdev=$dev ;;
  esac
  [ "$cdev" = "$dev" ] || fail "no certificate entry of $dev comes before $f"
  printf '%s' "$line" | sed 's|,"sig":"[A-Za-z0-9+/]*=*"}$|}|' | tr -d '\n' > "$t/signed.bin"
  printf '%s' "$line" | sed 's|.*,"sig":"\([A-Za-z0-9+/]*=*\)"}$|\1|' | tr -d '\n' | openssl base64 -d -A > "$t/sig.bin"
  if [ "$suite" = gm ]; then
    openssl pkeyutl -verify -pubin -inkey "$t/pub.pem" -rawin -digest sm3 -pkeyopt "$id" -in "$t/signed.bin" -sigfile "$t/sig.bin" > /dev/null 2>&1 || fail "the device's SM2 signature on $f does not verify"
  else
    openssl dgst -sha256 -verify "$t/pub.pem" -signature "$t/sig.bin" "$t/signed.bin" > /dev/null || fail "the device's signature on $f does not verify"
  fi
  entries=$((entries + 1))
done
ok "$entries ledger entries: each signed by its device's certificate from $ca, each a leaf of the signed log"

# (4) The media: each file is the plaintext its manifest (a segment.sealed entry proven above) describes.
media=0
for f in media/*/*.ts; do
  [ -f "$f" ] || break
  name=${f##*/} name=${name%.ts} dev=${f#media/} dev=${dev%%/*}
  m=$(grep -l "\"type\":\"segment.sealed\",\"body\":{.*\"segment\":\"$name\"" entries/"$dev"/*.line | head -n 1) || true
  [ -n "$m" ] || fail "$f: no segment.sealed entry on the disc describes segment $name"
  # The manifest's plain member, canonical JSON (members sorted): {"sha256":…,"size":…} or, gm, {"size":…,"sm3":…}.
  if grep -q '"plain":{"size":' "$m"; then
    alg=SM3 psize=$(sed -n 's|.*"plain":{"size":\([0-9]*\),"sm3":"\([0-9a-f]*\)"}.*|\1|p' "$m") phash=$(sed -n 's|.*"plain":{"size":\([0-9]*\),"sm3":"\([0-9a-f]*\)"}.*|\2|p' "$m")
  else
    alg=SHA-256 phash=$(sed -n 's|.*"plain":{"sha256":"\([0-9a-f]*\)","size":\([0-9]*\)}.*|\1|p' "$m") psize=$(sed -n 's|.*"plain":{"sha256":"\([0-9a-f]*\)","size":\([0-9]*\)}.*|\2|p' "$m")
  fi
  [ -n "$phash" ] && [ -n "$psize" ] || fail "$m names no plaintext size and hash"
  size=$(wc -c < "$f" | tr -d ' ')
  [ "$size" = "$psize" ] || fail "$f is $size bytes; its manifest ($m) says $psize"
  if [ "$alg" = SM3 ]; then got=$(sm3 "$f"); else got=$(sha "$f"); fi
  [ "$got" = "$phash" ] || fail "$f has $alg $got; its manifest ($m) says $phash: it is not the recorded content"
  media=$((media + 1))
done
for m in $(grep -l '"type":"segment.sealed","body":{' entries/*/*.line); do
  name=$(sed -n 's|.*"segment":"\([^"]*\)".*|\1|p' "$m") dev=${m#entries/} dev=${dev%%/*}
  [ -f "media/$dev/$name.ts" ] || fail "media/$dev/$name.ts, which $m describes, is not on the disc"
done
[ "$media" -gt 0 ] || fail "no media file on the disc"
ok "$media media files: each has the size and hash (SHA-256, or SM3 under gm) of the plaintext its signed manifest names"
echo "ALL CHECKS PASSED"
