#!/usr/bin/env bash
# A local cluster: N `sigil serve` nodes on loopback ports against one PostgreSQL database, and
# HAProxy in front of them (round robin, health checks on /readyz). See docs/deploy.md.
#
#   scripts/cluster.sh up N [--database URL] [--port P] [--debug]
#   scripts/cluster.sh status
#   scripts/cluster.sh kill-node I      # kill -9 node I (a crash)
#   scripts/cluster.sh start-node I     # start node I again, on its port
#   scripts/cluster.sh down             # stop what `up` started, by PID
#
# up: the database (default postgres://postgres@127.0.0.1:5432/sigil_cluster) is created when
# missing; the balancer listens on 127.0.0.1:8080 (or --port) and is the public URL of every
# node, so all of them issue for the same issuers; the nodes listen on free loopback ports.
# All nodes share one master key, generated once into the state directory and kept there across
# `down` and `up` (the database's secrets are sealed with it). The first node's first start
# writes the operator API key to $SIGIL_CLUSTER_DIR/operator-key.
#
# The binary is built with `cargo build --release` (`--debug` for a debug build), unless
# SIGIL_BIN names one. Other SIGIL_* variables in the environment (SIGIL_METRICS_TOKEN,
# SIGIL_ARGON2_MEMORY_KIB, ...) reach every node; `up` records them, and `start-node` starts a
# node with those, whatever its own environment holds.
#
# State (PIDs, ports, logs, haproxy.cfg, the master key, the operator key) is in
# $SIGIL_CLUSTER_DIR, ./.cluster by default. `down` kills exactly the PIDs recorded there
# (SIGTERM, then SIGKILL after 15 s) and returns once they have exited, never processes found
# by name.
set -euo pipefail

repo="$(cd "$(dirname "$0")/.." && pwd)"
dir="${SIGIL_CLUSTER_DIR:-$PWD/.cluster}"
# How long `up` and `start-node` wait for the nodes and HAProxy, seconds.
wait_seconds="${SIGIL_CLUSTER_WAIT:-60}"
PATH="$PATH:/usr/sbin"

die() {
  echo "cluster.sh: $*" >&2
  exit 1
}

usage() {
  sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
}

# --- recorded state -------------------------------------------------------------------------

# The settings `up` chose, for the later commands (start-node needs the same ones).
load_env() {
  [ -f "$dir/cluster.env" ] || die "no cluster in $dir (run \`scripts/cluster.sh up N\` first)"
  # shellcheck source=/dev/null
  . "$dir/cluster.env"
}

pid_of() { cat "$dir/$1.pid" 2>/dev/null || true; }

# Whether PID $1 is alive and still the program $2 (a recycled PID is someone else's process:
# it is never signalled).
alive() {
  local pid="$1" program="$2"
  [ -n "$pid" ] && [ -r "/proc/$pid/cmdline" ] || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "$program"
}

# Whether our child PID $1 has not exited (a zombie, exited but not yet waited for, has). Until
# it is waited for, its PID cannot be reused, so no check of what it runs is needed (it may
# not have exec'd the binary yet).
child_running() {
  local stat
  stat="$(cat "/proc/$1/stat" 2>/dev/null)" || return 1
  [ "$(echo "${stat##*)}" | awk '{print $1}')" != Z ]
}


# Whether any process the state records is still running.
running() {
  local i
  for ((i = 1; i <= N; i++)); do
    alive "$(pid_of "node-$i")" "$SIGIL_BIN" && return 0
  done
  alive "$(pid_of haproxy)" "$dir/haproxy.cfg"
}

# --- nodes ------------------------------------------------------------------------------------

# Starts node $1 on port $2 (0: a free one, read back from its log) and waits until it is
# ready; records its PID and port.
start_node() {
  local i="$1" port="$2" log="$dir/node-$1.log" seen=0
  # The log is appended to across starts: only this start's lines tell its port.
  [ -f "$log" ] && seen="$(wc -l <"$log")"
  # The port is read back from the `sigil listening` line (INFO): a RUST_LOG that hides INFO
  # keeps that one line.
  local log_filter=()
  [ -n "${RUST_LOG:-}" ] && log_filter=("RUST_LOG=$RUST_LOG,sigil::cli::serve=info")
  # The settings `up` was given (see cmd_up), whatever this shell's environment holds.
  # shellcheck source=/dev/null
  [ -f "$dir/node.env" ] && . "$dir/node.env"
  env ${log_filter[@]+"${log_filter[@]}"} \
    SIGIL_MASTER_KEY="$(cat "$dir/master.key")" \
    SIGIL_OPERATOR_KEY_FILE="$dir/operator-key" \
    nohup "$SIGIL_BIN" --database "$DATABASE_URL" --public-url "$PUBLIC_URL" \
    --listen "127.0.0.1:$port" serve --trusted-proxy 127.0.0.1 \
    </dev/null >>"$log" 2>&1 &
  local pid=$!
  echo "$pid" >"$dir/node-$i.pid"
  local deadline=$((SECONDS + wait_seconds))
  while :; do
    child_running "$pid" || {
      tail -n 20 "$log" >&2
      die "node $i (PID $pid) exited; its log is $log"
    }
    if [ "$port" = 0 ]; then
      port="$(tail -n "+$((seen + 1))" "$log" | grep 'sigil listening' | head -n 1 |
        grep -o 'address=127\.0\.0\.1:[0-9]*' | cut -d: -f2 || true)"
      [ -n "$port" ] || port=0
    fi
    if [ "$port" != 0 ] && [ "$(readyz "$port")" = 200 ]; then
      break
    fi
    [ $SECONDS -lt "$deadline" ] || die "node $i (PID $pid) not ready after ${wait_seconds}s; its log is $log"
    sleep 0.2
  done
  echo "$port" >"$dir/node-$i.port"
}

readyz() {
  curl -s -o /dev/null -w '%{http_code}' --max-time 2 "http://127.0.0.1:$1/readyz" || true
}

# --- HAProxy ----------------------------------------------------------------------------------

write_haproxy_cfg() {
  local cfg="$dir/haproxy.cfg" i
  cat >"$cfg" <<EOF
# Written by scripts/cluster.sh; see docs/deploy.md for what each setting is for.
global
    log stdout format raw local0 info
    maxconn 4096

defaults
    mode http
    log global
    option httplog
    # The client's address in X-Forwarded-For: the nodes trust it from 127.0.0.1
    # (--trusted-proxy), so the brute-force lock counts attempts per client, not per balancer.
    option forwardfor
    timeout connect 2s
    timeout http-request 10s
    timeout client 30s
    timeout server 30s
    timeout queue 5s
    # A health check's answer may take this long (without it, HAProxy allows only \`inter\`,
    # 500 ms, which a busy machine's /readyz can miss, taking a healthy node out).
    timeout check 2s
    # One retry, on another node (redispatch), only when the request never reached a node:
    # conn-failure means the connection was refused or failed before the request was sent, so
    # no node can have acted on it. Token requests are not idempotent (a code is redeemed once,
    # a refresh token rotates), so a request a node may have received is never sent again:
    # empty-response (the node closed without answering, e.g. killed after its commit) and
    # response-timeout retries are allowed for GET and HEAD only (disable-l7-retry below).
    retries 1
    option redispatch
    retry-on conn-failure empty-response response-timeout

frontend sigil
    bind 127.0.0.1:$BALANCER_PORT
    http-request disable-l7-retry unless METH_GET
    default_backend nodes

backend nodes
    balance roundrobin
    # A node takes traffic while /readyz answers 200 (the database reachable, migrations
    # applied); two failed checks 500 ms apart take it out, one good check brings it back.
    option httpchk GET /readyz
    http-check expect status 200
    default-server inter 500ms fall 2 rise 1
EOF
  for ((i = 1; i <= N; i++)); do
    echo "    server node$i 127.0.0.1:$(cat "$dir/node-$i.port") check" >>"$cfg"
  done
  cat >>"$cfg" <<EOF

# The servers' state (CSV at /stats;csv), for \`scripts/cluster.sh status\`.
listen stats
    bind 127.0.0.1:$STATS_PORT
    stats enable
    stats uri /stats
EOF
}

# The state HAProxy gives node $1 (UP, DOWN, ...), or nothing when HAProxy does not answer.
haproxy_state() {
  curl -s --max-time 2 "http://127.0.0.1:$STATS_PORT/stats;csv" 2>/dev/null |
    awk -F, -v sv="node$1" '$1 == "nodes" && $2 == sv { print $18 }' || true
}

# Waits until HAProxy reports every node UP.
wait_balanced() {
  local deadline=$((SECONDS + wait_seconds)) i up
  while :; do
    up=0
    for ((i = 1; i <= N; i++)); do
      [ "$(haproxy_state "$i")" = UP ] && up=$((up + 1))
    done
    [ "$up" = "$N" ] && return 0
    child_running "$(pid_of haproxy)" || die "haproxy exited; its log is $dir/haproxy.log"
    [ $SECONDS -lt "$deadline" ] || die "HAProxy sees $up of $N nodes up after ${wait_seconds}s"
    sleep 0.2
  done
}

# A loopback port nothing listens on now, for the stats listener.
free_port() {
  local p
  while :; do
    p=$((20000 + RANDOM % 30000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
      echo "$p"
      return
    fi
  done
}

# --- PostgreSQL -------------------------------------------------------------------------------

# Creates the database of URL $1 when it does not exist, through the server's `postgres`
# database.
ensure_database() {
  local url
  url="$(without_pooler "$1")"
  command -v psql >/dev/null || die "psql is missing (scripts/setup-cluster-tools.sh installs it)"
  if psql "$url" -qtAc 'SELECT 1' >/dev/null 2>&1; then
    return 0
  fi
  local base="${url%%\?*}" query=""
  [ "$base" != "$url" ] && query="?${url#*\?}"
  local name="${base##*/}"
  [[ "$name" =~ ^[A-Za-z_][A-Za-z0-9_]*$ ]] || die "cannot create database \`$name\`: create it yourself"
  psql "${base%/*}/postgres$query" -qc "CREATE DATABASE $name" >/dev/null ||
    die "cannot create database $name at ${base%/*}"
  echo "created database $name"
}

# URL $1 without Sigil's own `pooler=` parameter, which psql would refuse.
without_pooler() {
  local base="${1%%\?*}" kept=() pair
  [ "$base" = "$1" ] && { echo "$1"; return; }
  local IFS='&'
  for pair in ${1#*\?}; do
    [[ "$pair" == pooler=* ]] || kept+=("$pair")
  done
  if [ ${#kept[@]} -eq 0 ]; then echo "$base"; else echo "$base?${kept[*]}"; fi
}

# --- commands ---------------------------------------------------------------------------------

cmd_up() {
  [ $# -ge 1 ] && [[ "$1" =~ ^[1-9][0-9]*$ ]] || usage
  N="$1"
  shift
  local database="postgres://postgres@127.0.0.1:5432/sigil_cluster" port=8080 profile=release
  while [ $# -gt 0 ]; do
    case "$1" in
      --database) database="${2:?--database needs a URL}"; shift 2 ;;
      --port) port="${2:?--port needs a port}"; shift 2 ;;
      --debug) profile=debug; shift ;;
      *) usage ;;
    esac
  done
  mkdir -p "$dir"
  chmod 700 "$dir"
  if [ -f "$dir/cluster.env" ] && (load_env && running); then
    die "a cluster is running from $dir (\`scripts/cluster.sh down\` first)"
  fi
  rm -f "$dir"/node-*.pid "$dir"/node-*.port "$dir"/haproxy.pid

  if [ -z "${SIGIL_BIN:-}" ]; then
    local flag="--release"
    [ "$profile" = debug ] && flag=""
    echo "building sigil ($profile)..."
    (cd "$repo" && cargo build $flag --bin sigil --quiet)
    SIGIL_BIN="${CARGO_TARGET_DIR:-$repo/target}/$profile/sigil"
  fi
  SIGIL_BIN="$(cd "$(dirname "$SIGIL_BIN")" && pwd)/$(basename "$SIGIL_BIN")"
  [ -x "$SIGIL_BIN" ] || die "no sigil binary at $SIGIL_BIN"
  command -v haproxy >/dev/null || die "haproxy is missing (scripts/setup-cluster-tools.sh installs it)"
  command -v curl >/dev/null || die "curl is missing (scripts/setup-tools.sh installs it)"

  ensure_database "$database"
  if [ ! -s "$dir/master.key" ]; then
    (umask 077 && head -c 32 /dev/urandom | base64 >"$dir/master.key")
  fi
  DATABASE_URL="$database"
  BALANCER_PORT="$port"
  PUBLIC_URL="http://127.0.0.1:$port"
  STATS_PORT="$(free_port)"
  cat >"$dir/cluster.env" <<EOF
N=$N
SIGIL_BIN='$SIGIL_BIN'
DATABASE_URL='$DATABASE_URL'
BALANCER_PORT=$BALANCER_PORT
PUBLIC_URL='$PUBLIC_URL'
STATS_PORT=$STATS_PORT
EOF
  chmod 600 "$dir/cluster.env"
  # The nodes' SIGIL_* settings, so that `start-node` (often from another shell) starts a node
  # with the settings the others run with. Owner-only: a metrics token may be among them.
  (umask 077 && export -p | grep -E '^declare -x SIGIL_' |
    grep -vE '^declare -x SIGIL_(BIN|CLUSTER_DIR|CLUSTER_WAIT|MASTER_KEY|NEW_MASTER_KEY)=' >"$dir/node.env" || true)

  # A failed `up` stops what it started.
  trap 'echo "cluster.sh: up failed; stopping what it started" >&2; cmd_down >/dev/null' EXIT

  # Node 1 alone first: it applies the migrations and, on a new database, makes the default
  # tenant and the operator key; the others then start together.
  start_node 1 0
  local i pids=()
  for ((i = 2; i <= N; i++)); do
    start_node "$i" 0 &
    pids+=($!)
  done
  for p in "${pids[@]}"; do wait "$p" || die "a node did not start"; done

  write_haproxy_cfg
  haproxy -c -q -f "$dir/haproxy.cfg" || die "haproxy refuses $dir/haproxy.cfg"
  nohup haproxy -db -f "$dir/haproxy.cfg" </dev/null >>"$dir/haproxy.log" 2>&1 &
  echo $! >"$dir/haproxy.pid"
  wait_balanced
  trap - EXIT

  echo "issuer    $PUBLIC_URL/t/default  (any tenant: $PUBLIC_URL/t/{tenant})"
  for ((i = 1; i <= N; i++)); do
    echo "node $i    http://127.0.0.1:$(cat "$dir/node-$i.port")  PID $(pid_of "node-$i")  log $dir/node-$i.log"
  done
  echo "haproxy   $PUBLIC_URL  PID $(pid_of haproxy)  stats http://127.0.0.1:$STATS_PORT/stats"
  if [ -s "$dir/operator-key" ]; then
    echo "operator key in $dir/operator-key"
  else
    echo "operator key: made at the database's first start (not this one); \`sigil api-keys create --operator\` makes another"
  fi
}

cmd_status() {
  load_env
  local i pid port state
  for ((i = 1; i <= N; i++)); do
    pid="$(pid_of "node-$i")"
    port="$(cat "$dir/node-$i.port" 2>/dev/null || echo -)"
    if alive "$pid" "$SIGIL_BIN"; then state=alive; else state=dead; fi
    echo "node $i  pid ${pid:--}  $state  port $port  readyz $(readyz "$port")  haproxy $(haproxy_state "$i")"
  done
  pid="$(pid_of haproxy)"
  if alive "$pid" "$dir/haproxy.cfg"; then state=alive; else state=dead; fi
  echo "haproxy  pid ${pid:--}  $state  port $BALANCER_PORT  stats http://127.0.0.1:$STATS_PORT/stats"
}

# The recorded PID of node $1, or a message.
node_arg() {
  [ $# -eq 1 ] && [[ "$1" =~ ^[1-9][0-9]*$ ]] || usage
  [ "$1" -le "$N" ] || die "no node $1 (the cluster has $N)"
}

cmd_kill_node() {
  load_env
  node_arg "$@"
  local pid
  pid="$(pid_of "node-$1")"
  alive "$pid" "$SIGIL_BIN" || die "node $1 is not running"
  kill -KILL "$pid"
  echo "killed node $1 (PID $pid)"
}

cmd_start_node() {
  load_env
  node_arg "$@"
  ! alive "$(pid_of "node-$1")" "$SIGIL_BIN" || die "node $1 is running"
  start_node "$1" "$(cat "$dir/node-$1.port")"
  echo "node $1 started (PID $(pid_of "node-$1"), port $(cat "$dir/node-$1.port"))"
}

# The state and start time of PID $1 (fields 3 and 22 of /proc/PID/stat), nothing once it is
# gone. A PID is reused; a PID with its start time names one process.
state_and_start() {
  local stat fields
  stat="$(cat "/proc/$1/stat" 2>/dev/null)" || return 0
  read -r -a fields <<<"${stat##*) }"
  echo "${fields[0]} ${fields[19]}"
}

# Whether the process PID $1 that started at $2 has finished exiting: gone, a zombie, or its
# PID now someone else's. A process stops matching `alive` (its command line reads empty) as
# soon as it lets go of its memory, before it has finished exiting: tearing down a node's
# address space (the hook pool's reservations) takes a while, all the more on a busy machine.
exited() {
  local now
  now="$(state_and_start "$1")"
  [ -z "$now" ] || [ "${now% *}" = Z ] || [ "${now% *}" = X ] || [ "${now#* }" != "$2" ]
}

# Stops PID $1 (program $2) and returns once it has exited: SIGTERM, then SIGKILL if it is still
# there after a node's default drain (10 s) and 5 s more to store its traces and close.
stop() {
  local pid="$1" program="$2" i since
  alive "$pid" "$program" || return 0
  since="$(state_and_start "$pid")"
  since="${since#* }"
  kill -TERM "$pid" 2>/dev/null || return 0
  for ((i = 0; i < 150; i++)); do
    exited "$pid" "$since" && return 0
    sleep 0.1
  done
  echo "cluster.sh: PID $pid still running 15 s after SIGTERM; sending SIGKILL" >&2
  kill -KILL "$pid" 2>/dev/null || true
  for ((i = 0; i < 100; i++)); do
    exited "$pid" "$since" && return 0
    sleep 0.1
  done
  echo "cluster.sh: PID $pid still exiting 10 s after SIGKILL" >&2
}

cmd_down() {
  load_env
  local i stopping=()
  stop "$(pid_of haproxy)" "$dir/haproxy.cfg" &
  stopping+=($!)
  for ((i = 1; i <= N; i++)); do
    stop "$(pid_of "node-$i")" "$SIGIL_BIN" &
    stopping+=($!)
  done
  # Only the stopping jobs: during a failed `up` the nodes are this shell's children too.
  wait "${stopping[@]}"
  rm -f "$dir"/*.pid
  echo "stopped; state kept in $dir (the master key and logs; \`up\` reuses the key)"
}

[ $# -ge 1 ] || usage
command="$1"
shift
case "$command" in
  up) cmd_up "$@" ;;
  down) cmd_down ;;
  status) cmd_status ;;
  kill-node) cmd_kill_node "$@" ;;
  start-node) cmd_start_node "$@" ;;
  *) usage ;;
esac
