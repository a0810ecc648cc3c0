#!/usr/bin/env bash
# `npm run test:ha`: the failover test (tests/ha/failover.test.ts) on etcd, two PostgreSQL 15 nodes
# under Patroni and HAProxy, all from Debian packages, installed here when missing (CI runs as root
# on Debian 12 with no terminal).
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
command -v patroni >/dev/null || missing+=(patroni)
command -v etcd >/dev/null || missing+=(etcd-server)
[ -x /usr/sbin/haproxy ] || missing+=(haproxy)
[ -x /usr/lib/postgresql/15/bin/postgres ] || missing+=(postgresql-15)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "test:ha needs ${missing[*]}: install them (apt-get install ${missing[*]}) or run as root" >&2
    exit 1
  fi
  echo "== installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${missing[@]}" >/dev/null
fi

RACKPLANE_TESTS=ha exec vitest run "$@"
