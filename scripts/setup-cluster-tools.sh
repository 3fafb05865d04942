#!/usr/bin/env bash
# Installs what scripts/cluster.sh and the multi-node tests need: Debian's HAProxy (the load
# balancer in front of the nodes), PgBouncer (tests/api/pgbouncer.rs runs nodes through it in
# transaction pooling mode), psql (cluster.sh creates its database when missing) and the
# PostgreSQL server binaries (the fault run starts a server of its own).
# Idempotent; needs root or passwordless sudo when something is missing.
#
# Neither package's system service is used: cluster.sh and the tests start their own haproxy
# and pgbouncer, on free loopback ports, with configs of their own. Debian's pgbouncer service
# would listen on 127.0.0.1:6432 if a package script started it (Docker images forbid that
# through policy-rc.d, full systems may not); nothing here depends on that port, and the
# service is stopped if it runs, so a machine that runs the suite has no fixed listener it did
# not ask for.
set -euo pipefail
# Debian installs both in /usr/sbin, which a non-root PATH may lack.
PATH="$PATH:/usr/sbin"

missing=()
command -v haproxy >/dev/null 2>&1 || missing+=(haproxy)
command -v pgbouncer >/dev/null 2>&1 || missing+=(pgbouncer)
command -v psql >/dev/null 2>&1 || missing+=(postgresql-client)
# The PostgreSQL server binaries (initdb, pg_ctl): the fault run (tests/faults) starts a server
# of its own, so that restarting it mid-load touches no other test.
compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || missing+=(postgresql)
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
"$(dirname "$0")/apt-install.sh" "${missing[@]}"

sudo=""
if [ "$(id -u)" != "0" ]; then
  sudo="sudo -n"
fi
for service in haproxy pgbouncer; do
  if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet "$service" 2>/dev/null; then
    $sudo systemctl disable --now "$service" >/dev/null 2>&1 || true
  elif [ -x "/etc/init.d/$service" ] && "/etc/init.d/$service" status >/dev/null 2>&1; then
    $sudo "/etc/init.d/$service" stop >/dev/null 2>&1 || true
  fi
done

haproxy -v | sed -n 1p
pgbouncer --version | sed -n 1p
