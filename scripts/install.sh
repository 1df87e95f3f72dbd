#!/usr/bin/env bash
# Install or upgrade recgw as a systemd service on Raspberry Pi OS / Debian (gateway: arm64, armhf; receiver: also
# amd64), from this checkout. Run as root. See docs/operations.md.
#
#   bash scripts/install.sh              the gateway: recgw.service, user recgw, /etc/recgw, /var/lib/recgw
#   bash scripts/install.sh --receiver   the agency receiver: recgw-receiver.service, user recgw-receiver,
#                                        /etc/recgw-receiver, /var/lib/recgw-receiver; recgw-retention.timer
# Options:
#   --example NAME     config/NAME.json becomes the config when there is none yet (gateway; default interview-room)
#   --no-apt           do not install Debian packages (offline: they must be there already)
#   --node-tarball F   when the system's Node is older than 20.19, install this official Node.js tarball
#                      (node-vX-linux-ARCH.tar.xz from https://nodejs.org/dist/) instead of downloading one
#   --reuse-modules    use this checkout's node_modules (made by scripts/setup.sh for this machine's Node and
#                      architecture) instead of `npm ci`: no download, no compiling of native modules
#   --root DIR         install into DIR, a Debian root folder (an image being built; the tests): users are added with
#                      useradd --root, the unit is enabled with systemctl --root; no Debian packages, no Node
#                      download, nothing is started
#
# What it does: Debian packages (ffmpeg, espeak-ng; compilers for the native modules), Node >= 20.19 if the system's
# is older, the app in /opt/recgw (a copy of this checkout, built, dev packages pruned, owned by root; the gateway's
# with the announcement's audio made by espeak-ng in /opt/recgw/share), the service user and
# its groups, the config folder (config from the example if there is none; an existing config is never
# overwritten), the state folder (0750), the unit (enabled; started only once configured and enrolled).
# Re-running it upgrades in place: only /opt/recgw and the unit file are replaced; config, keys, the state
# database, the recordings and the upload queue stay as they are.
set -euo pipefail
# The whole script is one block: bash reads it completely before running any of it, so a checkout updated while
# it runs (git pull in another shell) cannot change the rest of this run.
{

SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
NEED_NODE="20.19.0"
NODE_MAJOR="${RECGW_NODE_MAJOR:-22}"

say() { printf 'install: %s\n' "$*" >&2; }
die() {
  printf 'install: %s\n' "$*" >&2
  exit 1
}

MODE=gateway
ROOT=/
EXAMPLE=interview-room
APT=1
NODE_TARBALL=
REUSE=0
while [ $# -gt 0 ]; do
  case "$1" in
    --receiver) MODE=receiver ;;
    --root) ROOT="${2:?--root needs a folder}"; shift ;;
    --example) EXAMPLE="${2:?--example needs a name}"; shift ;;
    --no-apt) APT=0 ;;
    --node-tarball) NODE_TARBALL="${2:?--node-tarball needs a file}"; shift ;;
    --reuse-modules) REUSE=1 ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown option $1 (see --help)" ;;
  esac
  shift
done

[ "$(id -u)" = 0 ] || die "run this as root (sudo bash scripts/install.sh); it adds a user and installs a service"
[ -d "$ROOT" ] || die "--root $ROOT is not a folder"
ROOT=$(cd "$ROOT" && pwd)
R="${ROOT%/}" # "" on the live system: every target path below is "$R/..."
LIVE=0
[ -z "$R" ] && LIVE=1
SYSTEMD=0 # systemd runs this root: reload, enable, start
[ $LIVE = 1 ] && [ -d /run/systemd/system ] && SYSTEMD=1

APP=/opt/recgw
if [ $MODE = gateway ]; then
  SVC_USER=recgw
  UNIT=recgw.service
  ETC=/etc/recgw
  CONF=/etc/recgw/recgw.json
  STATE=/var/lib/recgw
  DEVICE_GROUPS=(video audio dialout gpio)
  EXAMPLE_FILE="$SRC/config/$EXAMPLE.json"
  PKGS=(ffmpeg openssl ca-certificates build-essential python3 sqlite3 curl xz-utils fonts-wqy-microhei espeak-ng)
else
  SVC_USER=recgw-receiver
  UNIT=recgw-receiver.service
  ETC=/etc/recgw-receiver
  CONF=/etc/recgw-receiver/receiver.json
  STATE=/var/lib/recgw-receiver
  DEVICE_GROUPS=()
  EXAMPLE_FILE="$SRC/config/receiver.json"
  PKGS=(openssl ca-certificates build-essential python3 sqlite3 curl xz-utils)
fi
[ -f "$EXAMPLE_FILE" ] || die "no example config $EXAMPLE_FILE (--example takes one of: $(for f in "$SRC"/config/*.json; do printf '%s ' "$(basename "$f" .json)"; done))"

ARCH=$(dpkg --print-architecture 2>/dev/null || uname -m)
case "$MODE:$ARCH" in
  gateway:arm64 | gateway:armhf | receiver:arm64 | receiver:armhf | receiver:amd64) ;;
  gateway:amd64) say "note: an amd64 gateway (a test machine or an x86 box); Raspberry Pi OS is arm64 or armhf" ;;
  *) say "warning: $ARCH is not a tested architecture (gateway: arm64, armhf; receiver: also amd64)" ;;
esac

# --- 1. Debian packages -----------------------------------------------------------------------------------------
if [ $LIVE = 0 ]; then
  say "--root: not installing Debian packages into $ROOT; the target needs: ${PKGS[*]}"
elif [ $APT = 1 ]; then
  missing=()
  for p in "${PKGS[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    say "installing Debian packages: ${missing[*]}"
    if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; }; then
      die "could not install ${missing[*]} (no network?). Install them from local media (apt-get install ${missing[*]}) and run this again with --no-apt."
    fi
  fi
fi

# --- 2. Node.js >= 20.19 ----------------------------------------------------------------------------------------
# /usr/local/bin first: the official tarball goes there, and systemd's PATH (ExecStart=/usr/bin/env node) also
# puts it before /usr/bin, where Debian bookworm's own nodejs (18, too old) lives.
export PATH="/usr/local/bin:$PATH"
node_ok() {
  command -v node >/dev/null && command -v npm >/dev/null &&
    node -e "const [a,b]=process.versions.node.split('.').map(Number); process.exit(a>20||(a===20&&b>=19)?0:1)"
}

install_node() {
  local narch file dir tmpd base name
  case "$ARCH" in
    amd64) narch=x64 ;;
    arm64) narch=arm64 ;;
    armhf) narch=armv7l ;;
    *) die "no official Node.js build for $ARCH: install Node >= $NEED_NODE yourself and run this again" ;;
  esac
  [ "$(uname -m)" = armv6l ] && die "this is an ARMv6 board (Pi Zero/1): Node.js has no official build for it and recgw does not run there"
  tmpd=$(mktemp -d)
  if [ -n "$NODE_TARBALL" ]; then
    file="$NODE_TARBALL"
    case "$(basename "$file")" in
      node-v*-linux-"$narch".tar.xz) ;;
      *) die "--node-tarball $file: expected node-vX.Y.Z-linux-$narch.tar.xz for this $ARCH machine" ;;
    esac
  else
    base="https://nodejs.org/dist/latest-v$NODE_MAJOR.x"
    say "downloading Node.js $NODE_MAJOR for linux-$narch from $base"
    if ! curl -fsSL --max-time 60 -o "$tmpd/SHASUMS256.txt" "$base/SHASUMS256.txt"; then
      die "cannot reach nodejs.org (no network?). Node $(node -v 2>/dev/null || echo '(none)') is too old: recgw needs >= $NEED_NODE.
  Offline: copy node-v$NODE_MAJOR.x.y-linux-$narch.tar.xz from https://nodejs.org/dist/latest-v$NODE_MAJOR.x/ onto this machine and run
    bash scripts/install.sh --node-tarball /path/to/node-v$NODE_MAJOR.x.y-linux-$narch.tar.xz $([ $MODE = receiver ] && echo --receiver)"
    fi
    name=$(grep -o "node-v[0-9.]*-linux-$narch\.tar\.xz" "$tmpd/SHASUMS256.txt" | head -n1)
    [ -n "$name" ] || die "nodejs.org lists no linux-$narch build of Node $NODE_MAJOR"
    curl -fsSL --max-time 600 -o "$tmpd/$name" "$base/$name" || die "downloading $base/$name failed"
    (cd "$tmpd" && grep " $name\$" SHASUMS256.txt | sha256sum -c --quiet -) || die "$name does not match its published SHA-256"
    file="$tmpd/$name"
  fi
  mkdir -p /usr/local/lib/nodejs
  tar -xJf "$file" -C /usr/local/lib/nodejs
  dir="/usr/local/lib/nodejs/$(basename "$file" .tar.xz)"
  for b in node npm npx; do ln -sfn "$dir/bin/$b" "/usr/local/bin/$b"; done
  rm -rf "$tmpd"
  say "installed Node $("$dir/bin/node" -v) in $dir (linked from /usr/local/bin)"
}

if ! node_ok; then
  [ $LIVE = 1 ] || die "--root: building needs Node >= $NEED_NODE and npm on this machine (found $(node -v 2>/dev/null || echo none))"
  say "Node $(node -v 2>/dev/null || echo '(none)') is older than $NEED_NODE (Debian bookworm's nodejs is 18)"
  install_node
  node_ok || die "Node >= $NEED_NODE is still not on PATH after installing it"
fi
[ $LIVE = 1 ] || say "--root: the target runs /usr/bin/env node: it needs Node >= $NEED_NODE there (this build used $(node -v))"

# --- 3. Users and groups ----------------------------------------------------------------------------------------
{ [ -f "$R/etc/passwd" ] && [ -f "$R/etc/group" ]; } || die "$ROOT has no /etc/passwd or /etc/group: --root expects a Debian root folder (debootstrap)"
RA=()
[ $LIVE = 1 ] || RA=(--root "$ROOT")
has_group() { grep -q "^$1:" "$R/etc/group"; }
has_user() { grep -q "^$1:" "$R/etc/passwd"; }
for g in "${DEVICE_GROUPS[@]}"; do
  # gpio exists on Raspberry Pi OS (its udev rules give it the sysfs GPIO files); elsewhere it is made empty.
  has_group "$g" || { groupadd "${RA[@]}" --system "$g" && say "added group $g"; }
done
has_group "$SVC_USER" || groupadd "${RA[@]}" --system "$SVC_USER"
if ! has_user "$SVC_USER"; then
  useradd "${RA[@]}" --system --gid "$SVC_USER" --home-dir "$STATE" --no-create-home --shell /usr/sbin/nologin \
    --comment "recgw $MODE service" "$SVC_USER"
  say "added system user $SVC_USER"
fi
if [ ${#DEVICE_GROUPS[@]} -gt 0 ]; then
  usermod "${RA[@]}" -a -G "$(IFS=,; echo "${DEVICE_GROUPS[*]}")" "$SVC_USER"
fi
# Numbers from the target's own files: in --root mode this machine's names mean nothing there.
SVC_UID=$(awk -F: -v u="$SVC_USER" '$1 == u { print $3 }' "$R/etc/passwd")
SVC_GID=$(awk -F: -v g="$SVC_USER" '$1 == g { print $3 }' "$R/etc/group")
{ [ -n "$SVC_UID" ] && [ -n "$SVC_GID" ]; } || die "cannot find user/group $SVC_USER in $R/etc/passwd and $R/etc/group"

# --- 4. The app, built in a folder beside /opt/recgw and swapped in --------------------------------------------
mkdir -p "$R/opt"
STAGE=$(mktemp -d "$R/opt/.recgw-new.XXXXXX")
# shellcheck disable=SC2317 # called by the trap
cleanup() { rm -rf "$STAGE"; }
trap cleanup EXIT

# A copy of this checkout without tests, benchmarks and build output: the files git knows (committed or not,
# ignored ones left out), or everything when this is not a git checkout (a release tarball).
if git -C "$SRC" rev-parse --git-dir >/dev/null 2>&1; then
  (cd "$SRC" && git ls-files -z -co --exclude-standard) |
    grep -zvE '^(test|bench|\.ci|node_modules|dist)/' |
    (cd "$SRC" && tar --null --ignore-failed-read -T - -cf -) | tar -xf - -C "$STAGE"
  rev=$(git -C "$SRC" rev-parse HEAD)
  [ -n "$(GIT_OPTIONAL_LOCKS=0 git -C "$SRC" status --porcelain --untracked-files=no 2>/dev/null | head -n1)" ] && rev="$rev+changes"
else
  tar -C "$SRC" --exclude=./node_modules --exclude=./dist --exclude=./.git --exclude=./test --exclude=./bench --exclude=./.ci -cf - . | tar -xf - -C "$STAGE"
  rev=unknown
fi
VERSION=$(node -p "require('$STAGE/package.json').version")
printf 'recgw %s\ncommit %s\ninstalled %s\nnode %s\n' "$VERSION" "$rev" "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$(node -v)" >"$STAGE/REVISION"

export npm_config_nodedir="${npm_config_nodedir:-$(dirname "$(dirname "$(readlink -f "$(command -v node)")")")}"
export npm_config_update_notifier=false npm_config_fund=false npm_config_audit=false
if [ $REUSE = 1 ]; then
  [ -d "$SRC/node_modules" ] || die "--reuse-modules: $SRC/node_modules is missing (run scripts/setup.sh first, or leave the option out)"
  say "copying this checkout's node_modules"
  cp -a "$SRC/node_modules" "$STAGE/node_modules"
  rm -rf "$STAGE/node_modules/.vite" "$STAGE/node_modules/.vite-temp" "$STAGE/node_modules/.cache"
else
  say "installing npm packages (npm ci; compiling native modules takes a few minutes on a Pi)"
  (cd "$STAGE" && npm ci --no-audit --no-fund --loglevel=error >&2) ||
    die "npm ci failed (no network? npm needs its registry, or a filled cache: see docs/operations.md). Nothing was changed in $APP."
fi
say "building"
(cd "$STAGE" && npm run --silent build) || die "the build failed; nothing was changed in $APP"
(cd "$STAGE" && npm prune --omit=dev --no-audit --no-fund --loglevel=error >&2) || die "npm prune failed; nothing was changed in $APP"
(cd "$STAGE" && node -e "const D = require('better-sqlite3'); new D(':memory:').close(); require('fs-ext')") ||
  die "the native modules do not load with Node $(node -v) (built for another Node or architecture?); nothing was changed in $APP"
node "$STAGE/bin/recgw.js" --version >/dev/null || die "the built recgw does not run; nothing was changed in $APP"
if [ $MODE = gateway ]; then
  # The standard announcement (004 规定 §6), made from assets/announcement-zh.txt by espeak-ng: $APP/share/.
  bash "$STAGE/scripts/make-announcement.sh" "$STAGE/share/announcement-zh.wav" ||
    die "could not make the announcement's audio (install espeak-ng, or with --root have it on this machine); nothing was changed in $APP"
fi
chown -R 0:0 "$STAGE"
chmod -R u+rwX,go+rX,go-w "$STAGE"
chmod 0755 "$STAGE"

# Stop the running service only now that the new app is ready, so the gap is the swap and a restart.
was_active=0
if [ $SYSTEMD = 1 ] && systemctl is-active --quiet "$UNIT"; then
  was_active=1
  say "stopping $UNIT for the upgrade (it seals its open segments first)"
  systemctl stop "$UNIT"
fi
old=
if [ -e "$R$APP" ]; then
  old="$R$APP.old.$$"
  mv "$R$APP" "$old"
fi
mv "$STAGE" "$R$APP"
trap - EXIT
[ -n "$old" ] && rm -rf "$old"
mkdir -p "$R/usr/local/bin"
ln -sfn "$APP/bin/recgw.js" "$R/usr/local/bin/recgw"
say "installed recgw $VERSION ($rev) in $APP"

# --- 5. Config and state folders --------------------------------------------------------------------------------
# Group-writable for the gateway: its console's config editor replaces the config file (temporary file + rename).
if [ $MODE = gateway ]; then etc_mode=0770; else etc_mode=0750; fi
install -d -m "$etc_mode" -o 0 -g "$SVC_GID" "$R$ETC"
configured=1
if [ -e "$R$CONF" ]; then
  say "kept the existing config $CONF"
  if cmp -s "$R$CONF" "$EXAMPLE_FILE"; then
    configured=0
    say "$CONF is still the example: edit it for this installation"
  fi
else
  install -m 0640 -o 0 -g "$SVC_GID" "$EXAMPLE_FILE" "$R$CONF"
  configured=0
  say "wrote $CONF from $(basename "$EXAMPLE_FILE"): edit it for this installation"
fi
# The folder itself only: its contents (database, keys, recordings, queue) are the service's and stay as they are.
install -d -m 0750 -o "$SVC_UID" -g "$SVC_GID" "$R$STATE"
confval() { node -e "try { const c = JSON.parse(require('fs').readFileSync(process.argv[1], 'utf8')); const v = process.argv[2].split('.').reduce((o, k) => (o == null ? o : o[k]), c); if (typeof v === 'string') console.log(v) } catch {}" "$R$CONF" "$1"; }
if [ $MODE = gateway ]; then
  state_dir=$(confval stateDir)
  state_dir="${state_dir:-$STATE}"
  if [ "$state_dir" != "$STATE" ]; then
    say "warning: the config's stateDir is $state_dir, but the unit may write only to $STATE: add it with"
    say "  systemctl edit $UNIT  ->  [Service] ReadWritePaths=$state_dir (and keep it owned by $SVC_USER, mode 0750)"
  fi
  # Enrolled as root by mistake: the service could not read its own key.
  id_dir="$R$state_dir/identity"
  if [ -d "$id_dir" ] && [ "$(stat -c %u "$id_dir")" != "$SVC_UID" ]; then
    chown -R "$SVC_UID:$SVC_GID" "$id_dir"
    say "gave $state_dir/identity to $SVC_USER (it was enrolled as another user)"
  fi
  enrolled=0
  [ -f "$id_dir/device.pem" ] && [ -f "$id_dir/device-key.pem" ] && enrolled=1
else
  enrolled=1
  for k in tls.cert tls.key agency.caCert agency.receiptKey agency.receiptCert agency.encryptionCerts.0; do
    f=$(confval "$k")
    [ -n "$f" ] && [ -f "$R$f" ] || enrolled=0
  done
fi

# --- 6. The unit ------------------------------------------------------------------------------------------------
install -d -m 0755 "$R/etc/systemd/system"
# enable_unit UNIT TARGET: enabled in the running systemd, offline in --root, or by hand where there is no systemctl.
enable_unit() {
  if [ $SYSTEMD = 1 ]; then
    systemctl daemon-reload
    systemctl enable --quiet "$1"
  elif command -v systemctl >/dev/null; then
    systemctl --root="$ROOT" enable --quiet "$1" 2>/dev/null
  else
    install -d -m 0755 "$R/etc/systemd/system/$2.wants"
    ln -sfn "/etc/systemd/system/$1" "$R/etc/systemd/system/$2.wants/$1"
  fi
}
install -m 0644 "$R$APP/systemd/$UNIT" "$R/etc/systemd/system/$UNIT"
enable_unit "$UNIT" multi-user.target
say "installed and enabled $UNIT"
if [ $MODE = receiver ]; then
  # The approved retention deletions, daily (docs/operations.md §22); skipped while $ETC/desk.json is missing.
  install -m 0644 "$R$APP/systemd/recgw-retention.service" "$R/etc/systemd/system/recgw-retention.service"
  install -m 0644 "$R$APP/systemd/recgw-retention.timer" "$R/etc/systemd/system/recgw-retention.timer"
  enable_unit recgw-retention.timer timers.target
  say "installed and enabled recgw-retention.timer: daily deletions the desk approved, once $ETC/desk.json is there"
fi

# --- 7. Start, or say what is left to do ------------------------------------------------------------------------
if [ $configured = 1 ] && [ $enrolled = 1 ]; then
  if [ $SYSTEMD = 1 ]; then
    say "starting $UNIT"
    systemctl restart "$UNIT" || die "$UNIT did not start: see journalctl -u $UNIT -o cat"
    say "$UNIT is $(systemctl is-active "$UNIT"); logs: journalctl -u $UNIT -o cat | jq"
  else
    say "configured and enrolled: on the target, start it with systemctl start $UNIT"
  fi
  exit 0
fi
if [ $was_active = 1 ]; then
  systemctl start "$UNIT" || true
fi
if [ $MODE = gateway ]; then
  cat >&2 <<EOF
install: next steps (then the service starts by itself at boot):
  1. Put the agency's CA certificate and encryption certificate into $ETC (ca.pem, agency-enc.pem; mode 0640,
     group $SVC_USER). Never a key: the gateway refuses anything but the agency's encryption certificate.
  2. Edit $CONF for this installation (deviceId, place, sources, uplink) and check it:
       runuser -u $SVC_USER -- recgw config check --config $CONF
  3. Enrol, as the service user so that it owns its key:
       runuser -u $SVC_USER -- recgw enrol csr --config $CONF
     have the agency sign $state_dir/identity/device.csr, then
       runuser -u $SVC_USER -- recgw enrol install --config $CONF --cert signed.pem
  4. systemctl start $UNIT; journalctl -u $UNIT -f -o cat
EOF
else
  cat >&2 <<EOF
install: next steps (then the service starts by itself at boot):
  1. Put the receiver's certificate and key, the agency CA, the receipt key and certificate, the agency log's key and
     certificate and the agency's current encryption certificates into $ETC (recgw ca receiver-cert; mode 0640,
     group $SVC_USER) and name them in $CONF.
  2. Edit $CONF (name: receiver:<label>, as in its certificate and the broker ACL; store under $STATE; broker).
  3. systemctl start $UNIT; journalctl -u $UNIT -f -o cat
EOF
fi
exit 0
}
