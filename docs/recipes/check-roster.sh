#!/bin/sh
# check-roster.sh FILE CA.PEM [LINE]
# Checks an officer roster's signature with the openssl command line and POSIX tools only (see
# docs/evidence-format.md §16): the roster-signing certificate is issued by the agency CA for role recgw-roster and
# valid when the roster was issued, and the signature over the roster's signed bytes verifies with it. FILE is a
# roster file as `recgw ca roster` wrote it; with LINE, FILE is a ledger.jsonl and the roster is the one of its
# roster.installed entry on that line (1 = the first). Prints the roster's SHA-256, which confirmations name.
# Exit 0 = every check passed, 1 = a check failed, 2 = bad arguments.
set -eu
export LC_ALL=C
[ $# -eq 2 ] || [ $# -eq 3 ] || { echo "usage: $0 FILE CA.PEM [LINE]" >&2; exit 2; }
file=$1 ca=$2 n=${3:-}
[ -f "$file" ] || { echo "$file does not exist" >&2; exit 2; }
[ -f "$ca" ] || { echo "$ca does not exist: give the agency CA certificate" >&2; exit 2; }
fail() { echo "FAIL roster: $*" >&2; exit 1; }
t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT

# The roster as canonical JSON: the roster file's last member "roster", or the body member of a roster.installed
# entry. Neither can end early: a `"` inside a JSON string is always escaped.
if [ -n "$n" ]; then
  case $n in 0* | *[!0-9]*) echo "LINE must be a line number (1 = the first line)" >&2; exit 2 ;; esac
  line=$(sed -n "${n}p" "$file")
  case $line in *',"type":"roster.installed","body":{"roster":{'*) ;; *) fail "line $n of $file is not a roster.installed entry" ;; esac
  printf '%s' "$line" | sed 's/^.*,"body":{"roster":\(.*\)},"sig":"[A-Za-z0-9+/]*=*"}$/\1/' | tr -d '\n' > "$t/roster"
else
  [ "$(wc -l < "$file")" -eq 1 ] || fail "$file is not one line: give the file as recgw ca roster wrote it"
  sed 's/^{"pins":\[.*\],"roster":\(.*\)}$/\1/' "$file" | tr -d '\n' > "$t/roster"
fi
grep -q '^{"agency":.*,"type":"roster","v":1}$' "$t/roster" || fail "no roster found in $file"
# Members with one occurrence each (the officers' validity repeats notBefore and notAfter; these do not repeat).
str() { sed -n "s|.*\"$1\":\"\\([^\"]*\\)\".*|\\1|p" "$t/roster"; }
issued=$(str issued)

# (a) The signer: a certificate from the agency CA for role recgw-roster, valid when the roster was issued.
str cert | awk '{ gsub(/\\r/, ""); gsub(/\\n/, "\n"); printf "%s", $0 }' > "$t/cert.pem"
subj=$(openssl x509 -in "$t/cert.pem" -noout -subject -nameopt RFC2253) || fail "the roster holds no readable certificate"
case ",${subj#subject=}," in *",OU=recgw-roster,"*) ;; *) fail "the roster is not signed with a roster certificate ($subj)" ;; esac
at=$(echo "$issued" | awk -F'[-T:.]' '{ y = $1; m = $2; if (m <= 2) { y--; m += 12 }
  printf "%.0f\n", (365 * y + int(y / 4) - int(y / 100) + int(y / 400) + int((153 * (m - 3) + 2) / 5) + $3 - 719469) * 86400 + $4 * 3600 + $5 * 60 + $6 }')
openssl verify -attime "$at" -CAfile "$ca" "$t/cert.pem" > /dev/null || fail "the roster certificate is not valid under $ca at $issued"

# (b) The signature: over the roster's canonical JSON without its "sig" member.
openssl x509 -in "$t/cert.pem" -pubkey -noout > "$t/pub.pem"
sed 's|,"sig":"[A-Za-z0-9+/]*=*"||' "$t/roster" | tr -d '\n' > "$t/signed"
str sig | openssl base64 -d -A > "$t/sig"
openssl dgst -sha256 -verify "$t/pub.pem" -signature "$t/sig" "$t/signed" > /dev/null || fail "the roster's signature does not verify"
id=$(openssl dgst -sha256 -r "$t/roster" | cut -d ' ' -f 1)
echo "ok   roster $id: signed by ${subj#subject=} at $issued, $(grep -o '"pin":"' "$t/roster" | wc -l | tr -d ' ') officer(s)"
