#!/usr/bin/env bash
# The README's test command: sets up everything the tests need on a Debian 12 machine, then
# runs the checks. `.ci/run` calls this same script, so CI proves the README.
#
#   1. installs the system packages listed in .ci/packages.txt that are missing, with apt-get (as
#      root, or with sudo; otherwise it prints the one command to run and stops);
#   2. starts Mosquitto on 127.0.0.1:1883 when nothing listens there (the tests' shared broker), and
#      PostgreSQL on 127.0.0.1:5432 likewise; where PostgreSQL does not trust local connections (a
#      fresh Debian install), makes a role for the tests with a password of its own and passes its
#      URL on in DRIFTLINE_TEST_PG_URL (set that variable yourself to use another server);
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

# 2b. PostgreSQL for the store and replica tests: each test creates a database of its own there.
if [ -z "${DRIFTLINE_TEST_PG_URL-}" ]; then
  pg_up() { (exec 3<>/dev/tcp/127.0.0.1/5432) 2>/dev/null; }
  as_postgres() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else sudo -u postgres "$@"; fi; }
  if ! pg_up; then
    if [ "${sudo[0]-}" = none ]; then
      say "nothing listens on 127.0.0.1:5432: start the machine's PostgreSQL (systemctl start postgresql), then run this again"
      exit 1
    fi
    say "starting PostgreSQL on 127.0.0.1:5432"
    for v in /etc/postgresql/*/main; do
      if [ -d "$v" ]; then "${sudo[@]}" pg_ctlcluster "$(basename "$(dirname "$v")")" main start || true; fi
    done
    for _ in $(seq 100); do pg_up && break; sleep 0.1; done
    pg_up || { say "PostgreSQL did not start on 127.0.0.1:5432; see /var/log/postgresql/"; exit 1; }
  fi
  if ! psql 'postgres://postgres@127.0.0.1:5432/postgres' -Atqc 'SELECT 1' >/dev/null 2>&1; then
    if [ "${sudo[0]-}" = none ]; then
      say "PostgreSQL on 127.0.0.1:5432 asks for a password: set DRIFTLINE_TEST_PG_URL=postgres://USER:PASSWORD@127.0.0.1:5432/postgres (a role that may create databases) and run this again"
      exit 1
    fi
    pw=$(openssl rand -hex 16)
    as_postgres psql -q -v ON_ERROR_STOP=1 -c "DO \$\$ BEGIN CREATE ROLE driftline_test LOGIN CREATEDB; EXCEPTION WHEN duplicate_object THEN NULL; END \$\$" -c "ALTER ROLE driftline_test PASSWORD '$pw'" >/dev/null
    export DRIFTLINE_TEST_PG_URL="postgres://driftline_test:$pw@127.0.0.1:5432/postgres"
    say "PostgreSQL asks for passwords here: the tests use the role driftline_test (password made just now)"
  fi
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
