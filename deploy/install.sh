#!/usr/bin/env bash
# Installs Driftline as systemd services on a bare Debian or Ubuntu box, or on a Jetson (JetPack 6):
# no container engine. Run it from a checkout in which `npm ci` has run on this machine (or on one of
# the same architecture and Node major): the app is copied with its production node_modules, and it
# runs as it runs from the checkout, `node bin/driftline.js` (TypeScript through tsx, no build step).
#
#   sudo deploy/install.sh                 the agent: app, user, unit, example config
#   sudo deploy/install.sh --collector     the agent and the collector
#   sudo deploy/install.sh --no-agent --collector   the collector only
#   sudo deploy/install.sh --uninstall     removes what it installed; the state (/var/lib/driftline),
#                                          logs, and any config or credential you changed stay
#   sudo deploy/install.sh --uninstall --purge   removes those too, and the driftline user
#
# It installs:
#   $PREFIX (/opt/driftline)                 the app, replaced whole at each run
#   /etc/systemd/system/driftline-*.service  the units from systemd/, paths rewritten for PREFIX and node
#   /etc/systemd/system/driftline-agent.service.d/gpu.conf   DeviceAllow= for the GPU nodes this box
#                                            has (a Jetson's nvhost/nvmap/nvgpu, /dev/nvidia*), if any
#   /etc/driftline/agent.yaml, collector.yaml   the example configs, only where none exists
#   /etc/driftline/credentials/<service>/*   empty (0600) files LoadCredential= reads, only where absent
#   the system user driftline                only where absent
# and, when systemd runs this machine and DESTDIR is empty: systemctl daemon-reload, enable, and a
# restart of the units that were running (an upgrade). It never starts a unit that was not running.
# Running it again changes nothing that is already right.
#
# Options:
#   --collector        also install the collector
#   --no-agent         do not install the agent
#   --prefix DIR       where the app goes (default /opt/driftline)
#   --uninstall        remove what was installed; with --purge also state, logs, configs, credentials, user
#   -h, --help         this text
# Environment:
#   DESTDIR            stage everything under this folder instead of /: no user, no ownership, no
#                      systemctl (packaging, and the test in test/deploy/install.test.ts)
#   NODE               the node binary the units run (default: node on PATH, which must be 20 or newer)
#   DRIFTLINE_DEV_ROOT where GPU device nodes are looked for (default /dev; for tests)
set -euo pipefail
umask 022

say() { printf 'install.sh: %s\n' "$*"; }
die() { printf 'install.sh: error: %s\n' "$*" >&2; exit 1; }

SRC=$(cd "$(dirname "$0")/.." && pwd)
DESTDIR=${DESTDIR:-}
DESTDIR=${DESTDIR%/}
PREFIX=/opt/driftline
DEV_ROOT=${DRIFTLINE_DEV_ROOT:-/dev}
agent=1
collector=0
uninstall=0
purge=0

while [ $# -gt 0 ]; do
  case "$1" in
    --collector) collector=1 ;;
    --no-agent) agent=0 ;;
    --prefix) [ $# -ge 2 ] || die "--prefix needs a folder"; PREFIX=$2; shift ;;
    --prefix=*) PREFIX=${1#--prefix=} ;;
    --uninstall) uninstall=1 ;;
    --purge) purge=1 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown option $1 (try --help)" ;;
  esac
  shift
done

case "$PREFIX" in
  /*) ;;
  *) die "--prefix must be an absolute path, got $PREFIX" ;;
esac
PREFIX=${PREFIX%/}
case "$PREFIX" in
  ''|/|/usr|/usr/local|/opt|/etc|/var|*[[:space:]]*|*'|'*) die "--prefix $PREFIX: choose a folder of its own, without spaces (default /opt/driftline)" ;;
esac
[ "$purge" -eq 0 ] || [ "$uninstall" -eq 1 ] || die "--purge goes with --uninstall"
[ "$agent" -eq 1 ] || [ "$collector" -eq 1 ] || [ "$uninstall" -eq 1 ] || die "nothing to install: --no-agent without --collector"

if [ -z "$DESTDIR" ]; then
  [ "$(id -u)" -eq 0 ] || die "run as root (sudo $0 $*), or stage into a folder with DESTDIR=…"
  staged=0
else
  case "$DESTDIR" in /*) ;; *) die "DESTDIR must be an absolute path, got $DESTDIR" ;; esac
  staged=1
fi
# systemctl only on a machine that systemd runs (sd_booted), and never when staging.
if [ "$staged" -eq 0 ] && [ -d /run/systemd/system ]; then systemd=1; else systemd=0; fi

USER_NAME=driftline
UNIT_DIR=/etc/systemd/system
CONF_DIR=/etc/driftline
CRED_DIR=$CONF_DIR/credentials
STATE_DIR=/var/lib/driftline
LOGS_DIR=/var/log/driftline
MANIFEST=$PREFIX/INSTALLED
AGENT_CREDS="mqtt-cert mqtt-key mqtt-password review-token"
COLLECTOR_CREDS="mqtt-cert mqtt-key mqtt-password ack-token webhook-secret store-password"

d() { printf '%s%s' "$DESTDIR" "$1"; }
sha() { sha256sum "$1" | cut -d' ' -f1; }

# Removes the empty folders from $1 up to, not including, $2 (staging: up to DESTDIR); one already
# gone is passed over, the first one not empty ends it.
prune_up() {
  local dir=$1 stop=$2
  while [ "$dir" != "$stop" ] && [ "$dir" != / ]; do
    if [ -d "$dir" ]; then rmdir "$dir" 2>/dev/null || return 0; fi
    dir=$(dirname "$dir")
  done
}

# The manifest (one line each: config PATH SHA, credential PATH SHA, user NAME) records what this
# script created, so that --uninstall removes only that, and only while unchanged.
manifest_lines() { if [ -f "$(d "$MANIFEST")" ]; then cat "$(d "$MANIFEST")"; fi; }

uninstall_all() {
  local unit path want kind rest
  if [ "$systemd" -eq 1 ]; then
    for unit in driftline-agent.service driftline-collector.service; do
      if [ -f "$UNIT_DIR/$unit" ]; then systemctl disable --now "$unit" >/dev/null 2>&1 || true; fi
    done
  fi
  for unit in driftline-agent.service driftline-collector.service; do
    rm -f "$(d "$UNIT_DIR/$unit")" "$(d "$UNIT_DIR/$unit.d/gpu.conf")"
    prune_up "$(d "$UNIT_DIR/$unit.d")" "$(d "$UNIT_DIR")"
  done
  local created_user=0
  while read -r kind path rest; do
    case "$kind" in
      config|credential)
        [ -f "$(d "$path")" ] || continue
        want=${rest%% *}
        if [ "$purge" -eq 1 ] || [ "$(sha "$(d "$path")")" = "$want" ]; then
          rm -f "$(d "$path")"
        else
          say "kept $path: changed since it was installed (--purge removes it)"
        fi
        ;;
      user) created_user=1 ;;
    esac
  done < <(manifest_lines)
  if [ "$purge" -eq 1 ]; then
    rm -rf "$(d "$CONF_DIR")" "$(d "$STATE_DIR")" "$(d "$LOGS_DIR")"
  fi
  rm -rf "$(d "$PREFIX")"
  for path in "$CRED_DIR/agent" "$CRED_DIR/collector"; do prune_up "$(d "$path")" "$(d /etc)"; done
  if [ "$staged" -eq 1 ]; then
    # Staged: the skeleton this script made under DESTDIR goes too, where empty.
    for path in "$UNIT_DIR" "$CONF_DIR" "$(dirname "$PREFIX")" "$(dirname "$STATE_DIR")" "$(dirname "$LOGS_DIR")"; do prune_up "$(d "$path")" "$DESTDIR"; done
  fi
  if [ "$purge" -eq 1 ] && [ "$created_user" -eq 1 ] && [ "$staged" -eq 0 ] && getent passwd "$USER_NAME" >/dev/null; then
    userdel "$USER_NAME" || say "could not remove the user $USER_NAME"
  fi
  [ "$systemd" -eq 0 ] || systemctl daemon-reload
  if [ "$purge" -eq 0 ] && [ -d "$(d "$STATE_DIR")" ]; then say "kept $STATE_DIR (the stores; --purge removes it)"; fi
  say "uninstalled"
}

if [ "$uninstall" -eq 1 ]; then
  uninstall_all
  exit 0
fi

# --- Install -------------------------------------------------------------------------------------

NODE=${NODE:-$(command -v node || true)}
{ [ -n "$NODE" ] && [ -x "$NODE" ]; } || die "node not found: install Node.js 20 or newer (NodeSource or the distribution's nodejs), or set NODE=/path/to/node"
case "$NODE" in /*) ;; *) die "NODE must be an absolute path, got $NODE" ;; esac
node_major=$("$NODE" -p 'process.versions.node.split(".")[0]')
[ "$node_major" -ge 20 ] || die "$NODE is Node $node_major: Driftline needs 20 or newer"
arch=$("$NODE" -p process.arch)
{ [ -d "$SRC/node_modules/onnxruntime-node" ] && [ -d "$SRC/node_modules/tsx" ]; } || die "$SRC/node_modules is missing or incomplete: run npm ci in $SRC first"
command -v npm >/dev/null || die "npm not found (it comes with Node.js): it lists the production dependencies to copy"

if [ "$staged" -eq 0 ] && ! getent passwd "$USER_NAME" >/dev/null; then
  useradd --system --user-group --home-dir "$STATE_DIR" --no-create-home --shell /usr/sbin/nologin --comment "Driftline" "$USER_NAME"
  new_user=1
  say "created the system user $USER_NAME"
else
  new_user=0
fi

# The app, staged next to its final place and swapped in whole: a failed copy leaves the old one.
app=$(d "$PREFIX")
stage="$app.new.$$"
old="$app.old.$$"
trap 'rm -rf "$stage" "$old"' EXIT
mkdir -p "$(dirname "$app")"
rm -rf "$stage"
mkdir -p "$stage/models"
for part in bin cli lib protocol agent collector docs; do cp -R "$SRC/$part" "$stage/"; done
for f in package.json package-lock.json tsconfig.json README.md LICENSE; do
  if [ -f "$SRC/$f" ]; then cp "$SRC/$f" "$stage/"; fi
done
for f in "$SRC"/models/*.onnx "$SRC"/models/*.json "$SRC"/models/*.md; do
  if [ -f "$f" ]; then cp "$f" "$stage/models/"; fi
done
# Production dependencies only (npm's own list of them), without nested copies of a listed folder.
# (npm ls exits 1 over an extraneous or invalid package, and still lists the rest.)
(cd "$SRC" && { npm ls --omit=dev --all --parseable 2>/dev/null || true; }) |
  sed -n "s|^$SRC/node_modules/|node_modules/|p" | LC_ALL=C sort -u |
  awk 'BEGIN { last = "" } last != "" && index($0, last "/") == 1 { next } { print; last = $0 }' > "$stage/.deps"
[ -s "$stage/.deps" ] || die "npm ls found no production dependencies in $SRC"
(cd "$SRC" && tar -cf - -T "$stage/.deps") | tar -C "$stage" -xf -
rm -f "$stage/.deps"
# ONNX Runtime ships its native library for every platform: keep this one's.
for dir in "$stage"/node_modules/onnxruntime-node/bin/napi-v*/*; do
  [ -d "$dir" ] || continue
  if [ "$(basename "$dir")" != linux ]; then rm -rf "$dir"; continue; fi
  for a in "$dir"/*; do
    if [ "$(basename "$a")" != "$arch" ]; then rm -rf "$a"; fi
  done
done
# Read-only for the service: root owns the app.
chmod -R u+rwX,go+rX,go-w "$stage"
[ "$staged" -eq 1 ] || chown -R root:root "$stage"
"$NODE" "$stage/bin/driftline.js" --version >/dev/null || die "the copied app does not run: $NODE $stage/bin/driftline.js --version failed"

# What the previous run created stays recorded; the manifest is rewritten in the same order each time.
{
  manifest_lines | grep -v '^user ' || true
} > "$stage/INSTALLED.tmp"
if [ "$new_user" -eq 1 ] || manifest_lines | grep -q '^user '; then echo "user $USER_NAME" >> "$stage/INSTALLED.tmp"; fi

if [ -d "$app" ]; then mv "$app" "$old"; fi
mv "$stage" "$app"
rm -rf "$old"
trap - EXIT

record() { # kind path: a file this run created
  echo "$1 $2 $(sha "$(d "$2")")" >> "$app/INSTALLED.tmp"
}

# Units, with this box's prefix and node.
unit_from() {
  sed -e "s|/opt/driftline|$PREFIX|g" -e "s|^ExecStart=/usr/bin/node |ExecStart=$NODE |" "$SRC/systemd/$1"
}
install_file() { # mode destination (a real path, under DESTDIR when staging); the content on stdin
  local tmp
  mkdir -p "$(dirname "$(d "$2")")"
  tmp=$(mktemp "$(d "$2").XXXXXX")
  cat > "$tmp"
  chmod "$1" "$tmp"
  mv "$tmp" "$(d "$2")"
}
units=()
if [ "$agent" -eq 1 ]; then units+=(driftline-agent.service); fi
if [ "$collector" -eq 1 ]; then units+=(driftline-collector.service); fi
for unit in "${units[@]}"; do
  unit_from "$unit" | install_file 0644 "$UNIT_DIR/$unit"
done
if [ "$staged" -eq 0 ] && ! getent group video >/dev/null; then
  say "no group video on this machine: SupplementaryGroups=video removed from the agent's unit (cameras need the group that owns /dev/video*)"
  [ "$agent" -eq 0 ] || sed -i '/^SupplementaryGroups=video$/d' "$UNIT_DIR/driftline-agent.service"
fi

# The agent's GPU: DeviceAllow= for the nodes present here (the unit's DevicePolicy=closed denies the rest).
if [ "$agent" -eq 1 ]; then
  gpu=()
  for n in "$DEV_ROOT"/nvhost-* "$DEV_ROOT"/nvmap "$DEV_ROOT"/nvsciipc "$DEV_ROOT"/nvgpu/*/* "$DEV_ROOT"/nvidia* "$DEV_ROOT"/dri/renderD*; do
    [ -e "$n" ] || continue
    case "$n" in "$DEV_ROOT"/dri/*) [ -e "$DEV_ROOT/nvmap" ] || continue ;; esac   # a render node only on a Jetson
    gpu+=("/dev/${n#"$DEV_ROOT"/}")
  done
  if [ "${#gpu[@]}" -gt 0 ]; then
    {
      echo "# Written by deploy/install.sh from the GPU device nodes present at install time; run it again"
      echo "# after a JetPack or driver upgrade. DevicePolicy=closed in the unit denies every other device."
      echo "[Service]"
      for n in "${gpu[@]}"; do echo "DeviceAllow=$n rw"; done
      if [ -e "$DEV_ROOT/nvmap" ]; then
        echo "# A Jetson's CSI cameras are read through the Argus daemon's socket in the host's /tmp (PrivateTmp hides it)."
        echo "BindPaths=-/tmp/argus_socket"
      fi
    } | install_file 0644 "$UNIT_DIR/driftline-agent.service.d/gpu.conf"
    say "GPU device nodes allowed to the agent: ${gpu[*]}"
  elif [ -f "$(d "$UNIT_DIR/driftline-agent.service.d/gpu.conf")" ]; then
    rm -f "$(d "$UNIT_DIR/driftline-agent.service.d/gpu.conf")"
    prune_up "$(d "$UNIT_DIR/driftline-agent.service.d")" "$(d "$UNIT_DIR")"
  fi
fi

# Configs and credential files: created only where absent, never overwritten.
group_of_user() { if [ "$staged" -eq 0 ]; then chgrp "$USER_NAME" "$(d "$1")"; fi; }
new_config() { # example, destination
  if [ -e "$(d "$2")" ]; then say "kept $2 (exists)"; return; fi
  sed -e "s|\.\./models/|$PREFIX/models/|g" -e "s|\.\./data/agent\.db|$STATE_DIR/agent.db|g" "$SRC/deploy/$1" | install_file 0640 "$2"
  group_of_user "$2"
  record config "$2"
  say "wrote $2 from deploy/$1: edit it, then systemctl restart the service"
}
new_credential() { # service, name
  local path="$CRED_DIR/$1/$2"
  [ -e "$(d "$path")" ] && return
  mkdir -p "$(d "$CRED_DIR/$1")"
  chmod 0700 "$(d "$CRED_DIR")" "$(d "$CRED_DIR/$1")"
  install_file 0600 "$path" < /dev/null
  record credential "$path"
}
mkdir -p "$(d "$CONF_DIR")"
chmod 0755 "$(d "$CONF_DIR")"
if [ "$agent" -eq 1 ]; then
  new_config agent.example.yaml "$CONF_DIR/agent.yaml"
  for c in $AGENT_CREDS; do new_credential agent "$c"; done
fi
if [ "$collector" -eq 1 ]; then
  new_config collector.example.yaml "$CONF_DIR/collector.yaml"
  for c in $COLLECTOR_CREDS; do new_credential collector "$c"; done
fi
# The manifest, without duplicates, in a stable order.
LC_ALL=C sort -u "$app/INSTALLED.tmp" > "$app/INSTALLED"
rm -f "$app/INSTALLED.tmp"
chmod 0644 "$app/INSTALLED"

if [ "$systemd" -eq 1 ]; then
  systemctl daemon-reload
  systemctl enable "${units[@]}" >/dev/null
  systemctl try-restart "${units[@]}"
  say "enabled ${units[*]}; start with: systemctl start ${units[*]}"
elif [ "$staged" -eq 1 ]; then
  say "staged under $DESTDIR: systemctl not run"
else
  say "systemd is not running this machine: units installed, not enabled (systemctl enable ${units[*]} once it does)"
fi
say "installed Driftline $("$NODE" -p "require('$app/package.json').version") in $PREFIX"
