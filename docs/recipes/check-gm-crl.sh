#!/bin/sh
# check-gm-crl.sh CRL.PEM CA.PEM
# Checks a gm CA's CRL with the openssl command line (3.0) and POSIX tools only (docs/evidence-format.md §17.8):
# its signature is SM2 over SM3 with the signer ID 1234567812345678 over the TBSCertList's bytes, which `openssl crl
# -verify` cannot check (it uses the empty ID); then prints what it revokes. Exit 0 = the CA signed it, 1 = it did
# not, 2 = bad arguments.
set -eu
[ $# -eq 2 ] || { echo "usage: $0 CRL.PEM CA.PEM" >&2; exit 2; }
crl=$1 ca=$2
[ -f "$crl" ] && [ -f "$ca" ] || { echo "$crl or $ca does not exist" >&2; exit 2; }
t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT
openssl crl -in "$crl" -outform DER -out "$t/crl.der" 2> /dev/null || { echo "$crl is not a CRL" >&2; exit 2; }
# The CRL is SEQUENCE { TBSCertList, AlgorithmIdentifier, BIT STRING }: the first and last items at depth 1.
openssl asn1parse -inform DER -in "$t/crl.der" > "$t/parts"
tbs=$(awk '/d=1/ { sub(":.*", "", $1); print $1; exit }' "$t/parts")
sig=$(awk '/d=1/ { o = $1 } END { sub(":.*", "", o); print o }' "$t/parts")
grep -q 'SM2-with-SM3' "$t/parts" || { echo "FAIL $crl is not signed SM2-with-SM3" >&2; exit 1; }
openssl asn1parse -inform DER -in "$t/crl.der" -strparse "$tbs" -noout -out "$t/tbs.der"
openssl asn1parse -inform DER -in "$t/crl.der" -strparse "$sig" -noout -out "$t/sig.der"
openssl x509 -in "$ca" -pubkey -noout > "$t/ca-pub.pem"
openssl pkeyutl -verify -pubin -inkey "$t/ca-pub.pem" -rawin -digest sm3 -pkeyopt distid:1234567812345678 \
  -in "$t/tbs.der" -sigfile "$t/sig.der" > /dev/null 2>&1 || { echo "FAIL the CA's SM2 signature on $crl does not verify" >&2; exit 1; }
[ "$(openssl crl -in "$crl" -noout -issuer)" = "$(openssl x509 -in "$ca" -noout -subject | sed 's/^subject/issuer/')" ] ||
  { echo "FAIL $crl is not issued by the CA in $ca" >&2; exit 1; }
echo "ok   $crl is signed by $(openssl x509 -in "$ca" -noout -subject) (SM2 over SM3, ID 1234567812345678)"
openssl crl -in "$crl" -noout -text | sed -n '/Next Update/p;/Serial Number/p;/Revocation Date/p'
