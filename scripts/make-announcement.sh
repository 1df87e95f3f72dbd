#!/usr/bin/env bash
# Makes the standard announcement's audio (004 规定 §6: 「为保护您的合法权益，监督我们的执法行为，本次执法全程录音录像」)
# from its text in assets/announcement-zh.txt with espeak-ng's Mandarin voice, as a WAV file (22.05 kHz mono):
#   bash scripts/make-announcement.sh OUT.wav [TEXT-FILE]
# scripts/install.sh and scripts/setup.sh run it; the gateway plays the file `recording.announcement` names and
# records its SHA-256 each time (docs/operations.md §19). espeak-ng (GPL-3.0-or-later) runs here as a separate
# program and is no part of recgw; the audio it makes from our text is recgw's, under recgw's licence. The same
# espeak-ng version makes the same bytes, so the hash stays the same until espeak-ng or the text changes.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
out=${1:?usage: make-announcement.sh OUT.wav [TEXT-FILE]}
text=${2:-$here/assets/announcement-zh.txt}
if ! command -v espeak-ng >/dev/null; then
  echo "make-announcement: espeak-ng is not installed (apt-get install espeak-ng); it makes the announcement's audio" >&2
  exit 2
fi
[ -s "$text" ] || { echo "make-announcement: no text in $text" >&2; exit 2; }
mkdir -p "$(dirname "$out")"
# -s 150: a little slower than espeak-ng's 175 words a minute, as an announcement to a party is spoken.
espeak-ng -v cmn -s 150 -f "$text" -w "$out.new"
mv "$out.new" "$out"
