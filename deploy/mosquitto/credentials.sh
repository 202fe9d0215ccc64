#!/usr/bin/env bash
# Issues the credentials of a Driftline Mosquitto: a private CA, the broker's TLS certificate, and for
# each client (device, collector, display) a client certificate whose CN is its MQTT username, a
# password in Mosquitto's password file, and the scrypt hash of that same password for the device
# registry. Also writes Mosquitto's ACL from the registry. Every command is idempotent: run it again
# and what exists and is still valid is kept, byte for byte. docs/security.md, "Mosquitto".
#
#   deploy/mosquitto/credentials.sh [-d DIR] ca
#   deploy/mosquitto/credentials.sh [-d DIR] server NAME...
#   deploy/mosquitto/credentials.sh [-d DIR] client USERNAME --site SITE [--device DEVICE]
#   deploy/mosquitto/credentials.sh [-d DIR] client USERNAME --role viewer [--site SITE]
#   deploy/mosquitto/credentials.sh [-d DIR] client USERNAME --role collector
#   deploy/mosquitto/credentials.sh [-d DIR] rotate USERNAME
#   deploy/mosquitto/credentials.sh [-d DIR] revoke USERNAME
#   deploy/mosquitto/credentials.sh [-d DIR] acl REGISTRY
#   deploy/mosquitto/credentials.sh [-d DIR] crl
#
# DRIFTLINE_BROKER_GROUP: the group the files in broker/ get, so that Mosquitto, once it has dropped
# to its own user, can read its key and the password file (0640): mosquitto on Debian, 1883 for the
# eclipse-mosquitto image in deploy/compose.yaml. Changing a file's group needs root, or membership.
#
# DIR (default $DRIFTLINE_PKI, else ./pki) holds:
#   ca/        the CA's key and database. Keep it off the broker, backed up, readable by you only.
#   clients/   USERNAME.key, .pem, .password, .registry.yaml: hand the first three to that client once.
#   broker/    exactly what Mosquitto reads, and nothing else: ca.pem, crl.pem, broker.pem,
#              broker.key, driftline.passwd, driftline.acl. Mount or copy this folder to
#              /etc/mosquitto/driftline/ (deploy/mosquitto/driftline.conf).
#
# Needs openssl, mosquitto_passwd (Debian package mosquitto) and node with this repository's
# node_modules (for `driftline registry`); DRIFTLINE overrides that command, e.g.
# DRIFTLINE="node /opt/driftline/bin/driftline.js" for an installed copy.
set -euo pipefail
umask 077

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
DIR=${DRIFTLINE_PKI:-$PWD/pki}
CA_DAYS=${DRIFTLINE_CA_DAYS:-3650}
CERT_DAYS=${DRIFTLINE_CERT_DAYS:-825}
CRL_DAYS=${DRIFTLINE_CRL_DAYS:-3650}
RENEW_DAYS=${DRIFTLINE_RENEW_DAYS:-30}
USERNAME_RE='^[A-Za-z0-9][A-Za-z0-9_.@-]{0,127}$'
# The topic-segment pattern of protocol/topics.ts (SEGMENT_PATTERN); test/protocol/topics.test.ts keeps the two equal.
SEGMENT_RE='^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$'

usage() {
  sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"
}

die() {
  printf 'credentials.sh: %s\n' "$*" >&2
  exit 1
}

say() {
  printf '%s\n' "$*" >&2
}

driftline() {
  if [[ -n ${DRIFTLINE:-} ]]; then
    local -a cmd
    read -ra cmd <<<"$DRIFTLINE"
    "${cmd[@]}" "$@"
  else
    node "$REPO/bin/driftline.js" "$@"
  fi
}

find_passwd_tool() {
  local p
  for p in "$(command -v mosquitto_passwd 2>/dev/null || true)" /usr/bin/mosquitto_passwd /usr/sbin/mosquitto_passwd; do
    if [[ -n $p && -x $p ]]; then
      printf '%s\n' "$p"
      return 0
    fi
  done
  die "mosquitto_passwd not found (Debian: apt-get install mosquitto)"
}

# openssl ca's settings; regenerated at each run, so it never drifts from this script.
write_ca_config() {
  cat >"$DIR/ca/openssl.cnf" <<EOF
# Written by deploy/mosquitto/credentials.sh; paths are relative to the PKI folder.
[ ca ]
default_ca = driftline_ca

[ driftline_ca ]
database = ca/index.txt
new_certs_dir = ca/newcerts
certificate = ca/ca.pem
private_key = ca/ca.key
serial = ca/serial
crlnumber = ca/crlnumber
default_md = sha256
default_days = $CERT_DAYS
default_crl_days = $CRL_DAYS
policy = policy_cn
unique_subject = no
email_in_dn = no
copy_extensions = none

[ policy_cn ]
commonName = supplied
organizationName = optional
EOF
}

need_ca() {
  [[ -s $DIR/ca/ca.key && -s $DIR/ca/ca.pem ]] || die "no CA in $DIR: run '$0 -d $DIR ca' first"
  write_ca_config
}

# broker_mode FILE MODE: what Mosquitto reads after it drops to its own user. Files that only the
# broker may read (its key, the password hashes) are 0640, in DRIFTLINE_BROKER_GROUP when set.
broker_mode() {
  chmod "$2" "$1"
  if [[ -n ${DRIFTLINE_BROKER_GROUP:-} ]]; then chgrp "$DRIFTLINE_BROKER_GROUP" "$1"; fi
}

# Publishes a file into broker/ only when its content changed, so an unchanged run changes nothing.
publish() {
  local src=$1 dst=$2 mode=$3
  if [[ -f $dst ]] && cmp -s "$src" "$dst"; then
    broker_mode "$dst" "$mode"
    return 0
  fi
  cp "$src" "$dst.tmp"
  broker_mode "$dst.tmp" "$mode"
  mv -f "$dst.tmp" "$dst"
}

gencrl() {
  (cd "$DIR" && openssl ca -batch -config ca/openssl.cnf -gencrl -out ca/crl.pem 2>/dev/null) || die "openssl could not write the CRL"
  publish "$DIR/ca/crl.pem" "$DIR/broker/crl.pem" 644
}

# valid FILE: the certificate exists, verifies against the CA, and is not within RENEW_DAYS of expiry.
valid() {
  [[ -s $1 ]] &&
    openssl x509 -in "$1" -noout -checkend $((RENEW_DAYS * 86400)) >/dev/null 2>&1 &&
    openssl verify -CAfile "$DIR/ca/ca.pem" "$1" >/dev/null 2>&1
}

# sign CN KEY CERT EXTENSIONS: a new EC P-256 key and a certificate for it, signed by the CA.
sign() {
  local cn=$1 key=$2 cert=$3 ext=$4 tmp
  # Inside ca/ (0700): a key left behind by a failed run is as private as the CA's own.
  tmp=$(mktemp -d "$DIR/ca/tmp.XXXXXX")
  openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$tmp/key.pem" 2>/dev/null
  openssl req -new -key "$tmp/key.pem" -subj "/O=Driftline/CN=$cn" -out "$tmp/req.csr"
  printf '[ ext ]\n%s\n' "$ext" >"$tmp/ext.cnf"
  (cd "$DIR" && openssl ca -batch -config ca/openssl.cnf -notext -in "$tmp/req.csr" -out "$tmp/cert.pem" \
    -extfile "$tmp/ext.cnf" -extensions ext 2>"$tmp/err") || die "openssl ca refused $cn: $(cat "$tmp/err")"
  mv -f "$tmp/key.pem" "$key"
  mv -f "$tmp/cert.pem" "$cert"
  rm -rf "$tmp"
}

revoke_cert() {
  local cert=$1
  [[ -s $cert ]] || return 0
  # Already revoked (a rerun after an interrupted rotate) is fine.
  (cd "$DIR" && openssl ca -batch -config ca/openssl.cnf -revoke "$cert" 2>/dev/null) || true
}

cmd_ca() {
  mkdir -p "$DIR/ca/newcerts" "$DIR/clients" "$DIR/broker"
  # Mosquitto, on this machine, must reach broker/; ca/ and clients/ stay yours alone.
  chmod go+x "$DIR"
  chmod 700 "$DIR/ca" "$DIR/clients"
  chmod 755 "$DIR/broker"
  if [[ -s $DIR/ca/ca.key && -s $DIR/ca/ca.pem ]]; then
    say "CA: unchanged ($DIR/ca/ca.pem)"
  else
    openssl req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
      -keyout "$DIR/ca/ca.key" -out "$DIR/ca/ca.pem" -days "$CA_DAYS" -subj "/O=Driftline/CN=Driftline MQTT CA" \
      -addext "basicConstraints=critical,CA:TRUE,pathlen:0" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
    say "CA: created $DIR/ca/ca.pem (valid $CA_DAYS days); its key ca/ca.key never leaves this folder"
  fi
  [[ -f $DIR/ca/index.txt ]] || : >"$DIR/ca/index.txt"
  [[ -s $DIR/ca/serial ]] || openssl rand -hex 16 >"$DIR/ca/serial"
  [[ -s $DIR/ca/crlnumber ]] || echo 1000 >"$DIR/ca/crlnumber"
  write_ca_config
  publish "$DIR/ca/ca.pem" "$DIR/broker/ca.pem" 644
  [[ -s $DIR/ca/crl.pem ]] || gencrl
  publish "$DIR/ca/crl.pem" "$DIR/broker/crl.pem" 644
}

cmd_server() {
  (($# > 0)) || die "server needs the broker's names: e.g. server mqtt.plant.local mosquitto"
  need_ca
  local name san=""
  for name in "$@"; do
    if [[ $name =~ ^[0-9.]+$ || $name == *:* ]]; then san+="${san:+,}IP:$name"; else san+="${san:+,}DNS:$name"; fi
  done
  if valid "$DIR/broker/broker.pem" && [[ -f $DIR/ca/broker.san && $(cat "$DIR/ca/broker.san") == "$san" ]]; then
    broker_mode "$DIR/broker/broker.key" 640
    broker_mode "$DIR/broker/broker.pem" 644
    say "broker certificate: unchanged ($san)"
    return 0
  fi
  sign "$1" "$DIR/ca/broker.key.new" "$DIR/ca/broker.pem.new" "basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = $san"
  publish "$DIR/ca/broker.key.new" "$DIR/broker/broker.key" 640
  publish "$DIR/ca/broker.pem.new" "$DIR/broker/broker.pem" 644
  rm -f "$DIR/ca/broker.key.new" "$DIR/ca/broker.pem.new"
  printf '%s' "$san" >"$DIR/ca/broker.san"
  say "broker certificate: issued for $san (valid $CERT_DAYS days); restart Mosquitto to load it"
}

# set_password USERNAME: the client's password file, and its line in Mosquitto's password file.
set_password() {
  local user=$1 pwfile=$DIR/clients/$1.password tool pw
  tool=$(find_passwd_tool)
  if [[ ! -s $pwfile ]]; then
    openssl rand -base64 24 | tr -d '\n' >"$pwfile"
    rm -f "$DIR/clients/$user.registry.yaml"
  fi
  chmod 600 "$pwfile"
  local passwd=$DIR/broker/driftline.passwd
  [[ -f $passwd ]] || : >"$passwd"
  broker_mode "$passwd" 640
  if ! grep -q "^$user:" "$passwd" || [[ $pwfile -nt $passwd ]]; then
    pw=$(cat "$pwfile")
    # On stdin, twice (it asks to confirm): never in an argument, so never in the process list.
    printf '%s\n%s\n' "$pw" "$pw" | "$tool" "$passwd" "$user" >/dev/null 2>&1 || die "mosquitto_passwd failed for $user"
    broker_mode "$passwd" 640
    say "$user: password set in $passwd"
  fi
}

# registry_entry USERNAME ROLE SITE DEVICE: the entry to paste into the device registry.
registry_entry() {
  local user=$1 role=$2 site=$3 device=$4 out=$DIR/clients/$1.registry.yaml hash
  if [[ ! -s $out ]]; then
    hash=$(driftline registry hash <"$DIR/clients/$user.password") || die "driftline registry hash failed"
    {
      printf '  - username: %s\n' "$user"
      [[ $role == device ]] || printf '    role: %s\n' "$role"
      [[ -z $site ]] || printf '    site: %s\n' "$site"
      [[ -z $device ]] || printf '    device: %s\n' "$device"
      printf '    passwordHash: "%s"\n' "$hash"
    } >"$out.tmp"
    mv -f "$out.tmp" "$out"
  fi
  chmod 644 "$out"
}

cmd_client() {
  local user=${1:-} role=device site="" device=""
  [[ $user =~ $USERNAME_RE ]] || die "client needs a USERNAME of letters, digits, _ . @ - (got '${user}')"
  shift
  while (($#)); do
    case $1 in
      --site) site=${2:-}; shift 2 || die "--site needs a value" ;;
      --device) device=${2:-}; shift 2 || die "--device needs a value" ;;
      --role) role=${2:-}; shift 2 || die "--role needs a value" ;;
      *) die "unknown option '$1' for client" ;;
    esac
  done
  case $role in
    device)
      [[ -n $device ]] || device=$user
      [[ $site =~ $SEGMENT_RE && $site != alerts ]] || die "a device needs --site (a topic segment, not 'alerts')"
      [[ $device =~ $SEGMENT_RE ]] || die "--device must be a topic segment (letters, digits, _ . -)" ;;
    viewer)
      [[ -z $device ]] || die "a viewer has no --device"
      [[ -z $site || $site =~ $SEGMENT_RE ]] || die "--site must be a topic segment" ;;
    collector)
      [[ -z $site && -z $device ]] || die "a collector has no --site or --device" ;;
    *) die "--role must be device, viewer or collector" ;;
  esac
  need_ca
  local key=$DIR/clients/$user.key cert=$DIR/clients/$user.pem
  if valid "$cert" && [[ -s $key ]]; then
    say "$user: certificate unchanged ($cert)"
  else
    revoke_cert "$cert"
    sign "$user" "$key" "$cert" "basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = clientAuth"
    gencrl
    say "$user: certificate issued, CN=$user (valid $CERT_DAYS days)"
  fi
  chmod 600 "$key"
  chmod 644 "$cert"
  set_password "$user"
  registry_entry "$user" "$role" "$site" "$device"
  say "$user: give it $cert, $key and ${DIR}/clients/$user.password (mqtt.cert, mqtt.key, mqtt.passwordFile)"
  say "$user: its registry entry (broker.registry; then run: $0 -d $DIR acl REGISTRY):"
  cat "$DIR/clients/$user.registry.yaml"
}

cmd_rotate() {
  local user=${1:-}
  [[ $user =~ $USERNAME_RE && -f $DIR/clients/$user.registry.yaml ]] || die "rotate needs a USERNAME issued before (no $DIR/clients/${user}.registry.yaml)"
  need_ca
  local role site device entry=$DIR/clients/$user.registry.yaml
  role=$(sed -n 's/^    role: //p' "$entry")
  site=$(sed -n 's/^    site: //p' "$entry")
  device=$(sed -n 's/^    device: //p' "$entry")
  revoke_cert "$DIR/clients/$user.pem"
  rm -f "$DIR/clients/$user.pem" "$DIR/clients/$user.key" "$DIR/clients/$user.password" "$entry"
  gencrl
  say "$user: old certificate revoked (in crl.pem), old password dropped"
  local -a opts=(--role "${role:-device}")
  [[ -z $site ]] || opts+=(--site "$site")
  [[ -z $device ]] || opts+=(--device "$device")
  cmd_client "$user" "${opts[@]}"
  say "$user: replace its passwordHash in the registry, then restart Mosquitto (it reads crl.pem at start)"
}

cmd_revoke() {
  local user=${1:-}
  [[ $user =~ $USERNAME_RE ]] || die "revoke needs a USERNAME"
  need_ca
  revoke_cert "$DIR/clients/$user.pem"
  gencrl
  if [[ -f $DIR/broker/driftline.passwd ]] && grep -q "^$user:" "$DIR/broker/driftline.passwd"; then
    "$(find_passwd_tool)" -D "$DIR/broker/driftline.passwd" "$user" >/dev/null
    broker_mode "$DIR/broker/driftline.passwd" 640
  fi
  rm -f "$DIR/clients/$user.pem" "$DIR/clients/$user.key" "$DIR/clients/$user.password" "$DIR/clients/$user.registry.yaml"
  say "$user: revoked. Remove it from the registry, run '$0 -d $DIR acl REGISTRY', and restart Mosquitto"
}

cmd_acl() {
  local registry=${1:-}
  [[ -f $registry ]] || die "acl needs the registry file (the collector's broker.registry)"
  mkdir -p "$DIR/broker"
  driftline registry mosquitto-acl "$registry" --out "$DIR/broker/driftline.acl"
  broker_mode "$DIR/broker/driftline.acl" 644
  say "ACL: $DIR/broker/driftline.acl; Mosquitto rereads it on SIGHUP (docker compose kill -s HUP mosquitto)"
}

cmd_crl() {
  need_ca
  gencrl
  say "CRL: $DIR/broker/crl.pem renewed (valid $CRL_DAYS days); restart Mosquitto to load it"
}

main() {
  while (($#)); do
    case $1 in
      -d | --dir) DIR=${2:-}; [[ -n $DIR ]] || die "-d needs a folder"; shift 2 ;;
      -h | --help) usage; exit 0 ;;
      *) break ;;
    esac
  done
  mkdir -p "$DIR"
  DIR=$(cd "$DIR" && pwd)
  local action=${1:-}
  shift || true
  case $action in
    ca) cmd_ca ;;
    server) cmd_server "$@" ;;
    client) cmd_client "$@" ;;
    rotate) cmd_rotate "$@" ;;
    revoke) cmd_revoke "$@" ;;
    acl) cmd_acl "$@" ;;
    crl) cmd_crl ;;
    *) usage >&2; exit 2 ;;
  esac
}

main "$@"
