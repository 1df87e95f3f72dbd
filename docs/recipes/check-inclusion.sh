#!/bin/sh
# check-inclusion.sh LEAF PROOF
# Checks a transparency log's inclusion proof with the openssl command line and POSIX tools only: PROOF is a
# c2sp.org/tlog-proof@v1 text ("index N", the proof hashes in base64 bottom up, a blank line, the checkpoint) and
# LEAF the leaf's bytes. It walks from SHA-256(0x00 || LEAF) up the tree (RFC 9162 §2.1.3.2) to the root of the
# proof's checkpoint (size on its second line, root on its third). The checkpoint's signature is the caller's to
# check (check-receipt.sh, check-disc.sh call this). Prints the leaf's index.
# Exit 0 = the proof leads to the root, 1 = it does not, 2 = bad arguments.
set -eu
export LC_ALL=C
[ $# -eq 2 ] && [ -f "$1" ] && [ -f "$2" ] || { echo "usage: $0 LEAF-FILE PROOF-FILE" >&2; exit 2; }
leaf=$1 proof=$2
fail() { echo "FAIL $*" >&2; exit 1; }
t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT
sed -n '/^$/,$p' "$proof" | sed '1d' | head -n 3 > "$t/text"
size=$(sed -n 2p "$t/text") root=$(sed -n 3p "$t/text")
case $size in '' | *[!0-9]*) fail "the proof's checkpoint names no tree size" ;; esac
{ printf '\000'; cat "$leaf"; } | openssl dgst -sha256 -binary > "$t/r"
index=$(sed -n 's/^index \([0-9]*\)$/\1/p' "$proof")
[ -n "$index" ] && [ "$index" -lt "$size" ] || fail "the proof's index is missing or beyond the checkpoint"
# Each proof hash is the left or right sibling of the node so far; the hashes are the lines from the third to the
# blank line (none for a tree of one leaf).
fn=$index sn=$((size - 1))
awk 'NR >= 3 && /^$/ { exit } NR >= 3' "$proof" > "$t/path"
while read -r p; do
  [ "$sn" -ne 0 ] || fail "the proof is longer than the tree is high"
  printf '%s' "$p" | openssl base64 -d -A > "$t/p"
  if [ $((fn % 2)) -eq 1 ] || [ "$fn" -eq "$sn" ]; then
    { printf '\001'; cat "$t/p" "$t/r"; } | openssl dgst -sha256 -binary > "$t/r2"
    while [ $((fn % 2)) -eq 0 ] && [ "$fn" -ne 0 ]; do fn=$((fn / 2)) sn=$((sn / 2)); done
  else
    { printf '\001'; cat "$t/r" "$t/p"; } | openssl dgst -sha256 -binary > "$t/r2"
  fi
  mv "$t/r2" "$t/r"
  fn=$((fn / 2)) sn=$((sn / 2))
done < "$t/path"
[ "$sn" -eq 0 ] || fail "the proof is too short for a tree of $size leaves"
[ "$(openssl base64 -A < "$t/r")" = "$root" ] || fail "the inclusion proof does not lead to the checkpoint's root"
echo "$index"
