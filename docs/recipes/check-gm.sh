#!/bin/sh
# check-gm.sh sig PUBLIC-KEY.PEM DATA SIGNATURE [ID]
# check-gm.sh open PRIVATE-KEY.PEM WRAPPED-KEY SEALED OUT
# Checks the gm suite's constructions with the openssl command line (3.0) and POSIX tools only (see
# docs/evidence-format.md, "The gm suite"):
#   sig:  an SM2 signature (DER, as recgw and openssl write it) over the bytes of DATA, with Z from the signer's
#         ID (default 1234567812345678);
#   open: unwraps the data key (SM2 encryption, GM/T 0009 DER) with the SM2 private key, checks the HMAC-SM3 tag of
#         the sealed blob IV || C || T and only then decrypts C with SM4-CTR into OUT.
# Exit 0 = every check passed, 1 = a check failed, 2 = bad arguments.
set -eu
export LC_ALL=C
usage() { echo "usage: $0 sig PUBLIC-KEY.PEM DATA SIGNATURE [ID] | $0 open PRIVATE-KEY.PEM WRAPPED-KEY SEALED OUT" >&2; exit 2; }
fail() { echo "FAIL $*" >&2; exit 1; }
ok() { echo "ok   $*"; }
hex() { od -An -v -tx1 | tr -d ' \n'; }
[ $# -ge 1 ] || usage
mode=$1; shift
t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT

case $mode in
sig)
  [ $# -ge 3 ] && [ $# -le 4 ] || usage
  pub=$1 data=$2 sig=$3 id=${4:-1234567812345678}
  for f in "$pub" "$data" "$sig"; do [ -f "$f" ] || { echo "$f does not exist" >&2; exit 2; }; done
  # -rawin -digest sm3: openssl hashes Z || DATA itself (GB/T 32918.2), Z from the ID given as distid.
  openssl pkeyutl -verify -pubin -inkey "$pub" -rawin -digest sm3 -pkeyopt "distid:$id" -in "$data" -sigfile "$sig" \
    > "$t/out" 2>&1 || fail "the SM2 signature does not verify with this key and ID $id"
  ok "SM2 signature over $data with ID $id"
  ;;
open)
  [ $# -eq 4 ] || usage
  key=$1 wrapped=$2 sealed=$3 out=$4
  for f in "$key" "$wrapped" "$sealed"; do [ -f "$f" ] || { echo "$f does not exist" >&2; exit 2; }; done
  # (1) The data key: SM2 decryption (C3 is checked by openssl), 48 bytes = K_enc (16) || K_mac (32).
  openssl pkeyutl -decrypt -inkey "$key" -in "$wrapped" -out "$t/key.bin" 2> "$t/err" ||
    fail "the data key does not unwrap with this key"
  [ "$(wc -c < "$t/key.bin" | tr -d ' ')" = 48 ] || fail "the unwrapped data key is not 48 bytes"
  k=$(hex < "$t/key.bin")
  kenc=$(printf '%s' "$k" | cut -c1-32)
  kmac=$(printf '%s' "$k" | cut -c33-96)
  ok "data key unwrapped (48 bytes)"
  # (2) The blob: IV (16 bytes) || C || T (32 bytes); T = HMAC-SM3(K_mac, IV || C).
  size=$(wc -c < "$sealed" | tr -d ' ')
  [ "$size" -ge 48 ] || fail "$sealed is shorter than its IV and tag"
  head -c $((size - 32)) "$sealed" > "$t/ivc.bin"
  tag=$(tail -c 32 "$sealed" | hex)
  mac=$(openssl dgst -sm3 -mac HMAC -macopt "hexkey:$kmac" -r "$t/ivc.bin" | cut -d' ' -f1)
  [ "$mac" = "$tag" ] || fail "the HMAC-SM3 tag does not match: $sealed was altered"
  ok "HMAC-SM3 tag"
  # (3) Only now decrypt: SM4-CTR from the IV as the first counter block.
  iv=$(head -c 16 "$t/ivc.bin" | hex)
  tail -c +17 "$t/ivc.bin" | openssl enc -d -sm4-ctr -K "$kenc" -iv "$iv" > "$out"
  ok "decrypted $((size - 48)) bytes to $out"
  ;;
*) usage ;;
esac
