#!/usr/bin/env bash
# The README's test command: sets up everything the tests need on a Debian 12 machine, then
# runs the checks. `.ci/run` calls this same script, so CI proves the README.
#
#   1. installs the system packages listed in .ci/packages.txt that are missing, with apt-get (as
#      root, or with sudo; otherwise it prints the one command to run and stops);
#   2. starts Mosquitto on 127.0.0.1:1883 when nothing listens there (the tests' shared broker);
#   3. installs the npm dependencies (npm ci) when node_modules is missing or older than the lock file;
#   4. runs lint, typecheck, the licence check and the test suite (npm test, which has its own time bound).
#
# Options: --no-lint skips lint, typecheck and the licence check. Anything after `--` goes to npm test (e.g. a test file).
set -euo pipefail
cd "$(dirname "$0")/.."

lint=1
while [ $# -gt 0 ]; do
  case "$1" in
    --no-lint) lint=0; shift ;;
    --) shift; break ;;
    -h|--help) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "test.sh: unknown option $1 (try --help)" >&2; exit 2 ;;
  esac
done

say() { printf 'test.sh: %s\n' "$*"; }

# 1. System packages (Debian and Ubuntu: dpkg and apt-get). Elsewhere nothing is installed here,
#    and npm test's own check names what is missing.
if [ "$(id -u)" -eq 0 ]; then sudo=()
elif command -v sudo >/dev/null; then sudo=(sudo)
else sudo=(none)
fi
if command -v dpkg-query >/dev/null && command -v apt-get >/dev/null; then
  mapfile -t wanted < <(sed -e 's/#.*//' -e '/^[[:space:]]*$/d' .ci/packages.txt | awk '{print $1}')
  missing=()
  for p in "${wanted[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  if [ "${#missing[@]}" -gt 0 ]; then
    if [ "${sudo[0]-}" = none ]; then
      say "missing system packages: ${missing[*]}. As root, run: apt-get update && apt-get install -y --no-install-recommends ${missing[*]}"
      exit 1
    fi
    say "installing ${missing[*]}"
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
  fi
else
  say "no dpkg/apt-get here: installing nothing; npm test checks for the programs in .ci/packages.txt"
fi

# 2. The shared broker on 127.0.0.1:1883 (a Debian install with systemd starts it by itself).
broker_up() { (exec 3<>/dev/tcp/127.0.0.1/1883) 2>/dev/null; }
if ! broker_up; then
  mosquitto=$(PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin" command -v mosquitto || true)
  if [ -z "$mosquitto" ] || [ "${sudo[0]-}" = none ]; then
    say "nothing listens on 127.0.0.1:1883 and mosquitto cannot be started from here: start the machine's Mosquitto (systemctl start mosquitto), then run this again"
    exit 1
  fi
  say "starting mosquitto on 127.0.0.1:1883"
  "${sudo[@]}" "$mosquitto" -d -c /etc/mosquitto/mosquitto.conf
  for _ in $(seq 50); do broker_up && break; sleep 0.1; done
  broker_up || { say "mosquitto did not start on 127.0.0.1:1883; see /var/log/mosquitto/"; exit 1; }
fi

# 3. npm dependencies.
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  say "npm ci"
  npm ci --no-audit --no-fund
fi

# 4. The checks.
say "node $(node --version), npm $(npm --version)"
if [ "$lint" -eq 1 ]; then
  npm run --silent lint
  npm run --silent typecheck
  npm run --silent licenses   # offline: no AGPL/SSPL and no unreadable licence among the shipped packages
fi
npm test -- "$@"
