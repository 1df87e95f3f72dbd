#!/usr/bin/env bash
# Set up a Debian machine to run recgw from this checkout: system packages, npm packages, build.
#   bash scripts/setup.sh          what the demo needs
#   bash scripts/setup.sh --test   also what the tests need (mosquitto, gpsd, socat, chromium, gst-rtsp-server, VLC, NUT,
#                                  libfaketime, PostgreSQL, Ceph)
# Run as root (it installs Debian packages). Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

want_tests=0
[ "${1:-}" = "--test" ] && want_tests=1

need_node="20.19.0"
if ! command -v node >/dev/null; then
  echo "setup: Node.js is not installed. Install Node >= $need_node (Debian bookworm's nodejs is 18, too old: use NodeSource or the official tarball)." >&2
  exit 2
fi
if ! node -e "const [a,b]=process.versions.node.split('.').map(Number); process.exit(a>20||(a===20&&b>=19)?0:1)"; then
  echo "setup: Node $(node -v) is too old; recgw needs Node >= $need_node." >&2
  exit 2
fi

# build-essential and python3: better-sqlite3, fs-ext (the state folder lock) and epoll (onoff) compile from source
# with node-gyp. fonts-wqy-microhei: the time, device and case drawn on the picture (CJK and Latin in one font).
# espeak-ng: the standard announcement's audio is made from its text (scripts/make-announcement.sh), and the speech
# tests speak with it; sox mixes their speech with room noise.
pkgs=(ffmpeg openssl build-essential python3 fonts-wqy-microhei espeak-ng)
[ $want_tests = 1 ] && pkgs+=(sox)
# The IP-camera tests serve streams from gst-rtsp-server (through Debian's python3-gi) and VLC.
[ $want_tests = 1 ] && pkgs+=(mosquitto mosquitto-clients gpsd gpsd-clients socat chromium systemd
  python3-gi gir1.2-gst-rtsp-server-1.0 gstreamer1.0-plugins-good gstreamer1.0-plugins-bad vlc-bin vlc-plugin-base)
# ip netns: the ONVIF discovery test puts its camera on a second host (a network namespace).
[ $want_tests = 1 ] && pkgs+=(iproute2)
# tesseract: an independent OCR reads the time and case drawn on the recorded picture back (overlay.test.ts).
[ $want_tests = 1 ] && pkgs+=(tesseract-ocr tesseract-ocr-eng)
# Network UPS Tools: the UPS tests run upsd with the dummy-ups driver (nut-server) and read it back with upsc (nut-client).
[ $want_tests = 1 ] && pkgs+=(nut-server nut-client)
# faketime: steps the clock of a gateway and its ffmpeg children, not the machine's (clock-step-recording.test.ts).
[ $want_tests = 1 ] && pkgs+=(faketime libfaketime)
# PostgreSQL: the agency index's tests run initdb and postgres (in /usr/lib/postgresql/<major>/bin) in a temp folder.
[ $want_tests = 1 ] && pkgs+=(postgresql)
# xorriso: the evidence disc's ISO images (recgw package build) and the tests that extract them again.
[ $want_tests = 1 ] && pkgs+=(xorriso)
# Ceph: the object-store tests run radosgw on a one-node cluster (mon, memstore OSD) in a temp folder.
[ $want_tests = 1 ] && pkgs+=(ceph-mon ceph-osd radosgw ceph-common)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "setup: these Debian packages are missing: ${missing[*]}; run this script as root (or apt-get install them)." >&2
    exit 2
  fi
  echo "setup: installing ${missing[*]}" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# better-sqlite3 builds from source here; point node-gyp at the installed Node headers.
export npm_config_nodedir="${npm_config_nodedir:-$(dirname "$(dirname "$(command -v node)")")}"
echo "setup: installing npm packages" >&2
npm ci --no-audit --no-fund --loglevel=error
npm run --silent build
# share/ is made here, not kept in git: the announcement config/*.json examples name (installed: /opt/recgw/share).
bash scripts/make-announcement.sh share/announcement-zh.wav
echo "setup: done" >&2
