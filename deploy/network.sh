#!/usr/bin/env bash
#
# deploy/network.sh - start and stop the three medclear services of the local network
# (treating, insuring, clearing) in the background, with their logs and pid files in
# the state directory. The broker and the database are deploy/infra.sh's business.
#
# Usage: deploy/network.sh start|stop|status|restart ROLE|kill ROLE
#
# Environment (all optional):
#   MC_BUILD_DIR   build           where the binaries are (relative to the repository)
#   MC_CONFIG_DIR  deploy/config   one ROLE.conf per service
#   MC_RUN_DIR     $MC_STATE_DIR/run (default /tmp/medclear-state/run): logs, pids
#   MC_METRICS_BASE_PORT  when set, clearing, insuring and treating serve /metrics,
#                  /livez and /readyz on BASE, BASE+1 and BASE+2 (-o metrics.port, over
#                  ROLE.conf); `auto`: a free block of three from 19100, kept while a
#                  service of this run directory runs. The base is written to
#                  $MC_RUN_DIR/metrics.base (no file: the ports of ROLE.conf)
#   MEDCLEAR_*     configuration overrides passed on to every service
#   MC_KAFKA_AUTH  scram (as `deploy/infra.sh env` prints it for a broker started with
#                  access control): each service logs in as its own broker user (user
#                  ROLE, password file MC_KAFKA_SECRETS/ROLE.password)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
BUILD="${MC_BUILD_DIR:-$ROOT/build}"
[[ $BUILD = /* ]] || BUILD="$ROOT/$BUILD"
CONFIG="${MC_CONFIG_DIR:-$ROOT/deploy/config}"
RUN="${MC_RUN_DIR:-${MC_STATE_DIR:-/tmp/medclear-state}/run}"
ROLES=(clearing insuring treating) # also the order of the metrics ports from the base

say() { printf 'network: %s\n' "$*"; }
die() { printf 'network: ERROR: %s\n' "$*" >&2; exit 1; }

pid_of() { local f="$RUN/$1.pid"; [[ -f $f ]] && cat "$f" || true; }
running() { local p; p=$(pid_of "$1"); [[ -n $p ]] && kill -0 "$p" 2>/dev/null; }

METRICS_BASE="${MC_METRICS_BASE_PORT:-}"
[[ -z $METRICS_BASE || $METRICS_BASE == auto || ($METRICS_BASE =~ ^[0-9]+$ && $METRICS_BASE -gt 0 && $METRICS_BASE -le 65533) ]] ||
  die "MC_METRICS_BASE_PORT must be a port number or auto, got '$METRICS_BASE'"

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# Resolves METRICS_BASE=auto to a number: the block an earlier start of this run
# directory chose while one of its services still runs, else a free block of three
# ports. The search starts at a place of its own for each run directory, so that two
# fixtures starting at once do not pick the same block.
resolve_metrics_base() {
  local r b i start
  if [[ $METRICS_BASE != auto ]]; then
    # recorded for tests and operators: the ports of this run directory's services
    mkdir -p "$RUN"
    if [[ -n $METRICS_BASE ]]; then echo "$METRICS_BASE" >"$RUN/metrics.base"; else rm -f "$RUN/metrics.base"; fi
    return 0
  fi
  if [[ -f $RUN/metrics.base ]]; then
    for r in "${ROLES[@]}"; do
      if running "$r"; then METRICS_BASE=$(cat "$RUN/metrics.base"); return 0; fi
    done
  fi
  start=$(( $(printf '%s' "$RUN" | cksum | cut -d' ' -f1) % 100 ))
  for ((i = 0; i < 100; i++)); do
    b=$((19100 + 3 * ((start + i) % 100)))
    if port_free "$b" && port_free $((b + 1)) && port_free $((b + 2)); then
      mkdir -p "$RUN"
      echo "$b" >"$RUN/metrics.base"
      METRICS_BASE=$b
      return 0
    fi
  done
  die "no three free ports between 19100 and 19399 for MC_METRICS_BASE_PORT=auto"
}

# -o metrics.port=... for a role when a base port is set.
metrics_opts() {
  local i
  [[ -n $METRICS_BASE ]] || return 0
  for i in "${!ROLES[@]}"; do
    if [[ ${ROLES[$i]} == "$1" ]]; then printf '%s\n' -o "metrics.port=$((METRICS_BASE + i))"; fi
  done
}

# The environment of a service's broker login when access control is on: its own user,
# whose password stays in its file (never in the command line or the log).
login_env() {
  local role=$1 secrets="${MC_KAFKA_SECRETS:-${MC_STATE_DIR:-/tmp/medclear-state}/kafka/secrets}"
  [[ ${MC_KAFKA_AUTH:-none} == scram ]] || return 0
  [[ -r $secrets/$role.password ]] ||
    die "$role: no broker password $secrets/$role.password (start the broker with MC_KAFKA_AUTH=scram deploy/infra.sh start)"
  printf '%s\n' MEDCLEAR_KAFKA_SECURITY_PROTOCOL=SASL_PLAINTEXT \
    "MEDCLEAR_KAFKA_SASL_MECHANISM=${MC_KAFKA_SASL_MECHANISM:-SCRAM-SHA-512}" \
    "MEDCLEAR_KAFKA_SASL_USERNAME=$role" "MEDCLEAR_KAFKA_SASL_PASSWORD_FILE=$secrets/$role.password"
}

start_one() {
  local role=$1 bin="$BUILD/services/$1/medclear-$1"
  [[ -x $bin ]] || die "$bin not built (cmake --build build)"
  if running "$role"; then say "$role: already running (pid $(pid_of "$role"))"; return; fi
  mkdir -p "$RUN"
  local opts=() login=() text
  mapfile -t opts < <(metrics_opts "$role")
  text="$(login_env "$role")" || exit 1
  [[ -z $text ]] || mapfile -t login <<<"$text"
  # Not inheriting our stdout/stderr keeps callers (ctest) from waiting on the service.
  # The operator's password (MEDCLEAR_KAFKA_SASL_PASSWORD) is not passed on.
  env -u MEDCLEAR_KAFKA_SASL_PASSWORD "${login[@]}" \
    nohup "$bin" -c "$CONFIG/$role.conf" "${opts[@]}" >>"$RUN/$role.log" 2>&1 </dev/null &
  echo $! >"$RUN/$role.pid"
  say "$role: started (pid $!, log $RUN/$role.log${opts[1]:+, ${opts[1]}})"
}

# Waits until each service logs "running" (topics created, group joined) or dies.
wait_ready() {
  local role deadline=$((SECONDS + 60))
  for role in "$@"; do
    until grep -qE 'msg="running"|"msg":"running"' "$RUN/$role.log" 2>/dev/null; do
      running "$role" || { tail -20 "$RUN/$role.log" >&2; die "$role exited during start-up"; }
      ((SECONDS < deadline)) || { tail -20 "$RUN/$role.log" >&2; die "$role not ready in 60 s"; }
      sleep 0.2
    done
  done
  say "all services ready"
}

stop_one() {
  local role=$1 p
  p=$(pid_of "$role")
  if [[ -z $p ]] || ! kill -0 "$p" 2>/dev/null; then rm -f "$RUN/$role.pid"; return; fi
  kill -TERM "$p"
  for _ in $(seq 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$p" 2>/dev/null; then say "$role: did not stop in 10 s, killing"; kill -KILL "$p"; fi
  rm -f "$RUN/$role.pid"
  say "$role: stopped"
}

case "${1:-}" in
  start)
    resolve_metrics_base
    for r in "${ROLES[@]}"; do
      # a fresh log per start, so readiness is read from this start only; the
      # previous one is kept beside it
      if ! running "$r"; then
        mkdir -p "$RUN"
        if [[ -f $RUN/$r.log ]]; then cat "$RUN/$r.log" >>"$RUN/$r.log.prev"; fi
        : >"$RUN/$r.log"
      fi
      start_one "$r"
    done
    wait_ready "${ROLES[@]}" ;;
  stop)
    for r in treating insuring clearing; do stop_one "$r"; done ;;
  restart)
    [[ -n ${2:-} ]] || die "restart needs a role"
    resolve_metrics_base
    stop_one "$2"
    if [[ -f $RUN/$2.log ]]; then cat "$RUN/$2.log" >>"$RUN/$2.log.prev"; fi
    : >"$RUN/$2.log"; start_one "$2"; wait_ready "$2" ;;
  kill)
    [[ -n ${2:-} ]] || die "kill needs a role"
    p=$(pid_of "$2"); [[ -n $p ]] && kill -KILL "$p" 2>/dev/null || true
    rm -f "$RUN/$2.pid"; say "$2: killed" ;;
  status)
    rc=0
    for r in "${ROLES[@]}"; do
      if running "$r"; then say "$r: running (pid $(pid_of "$r"))"; else say "$r: stopped"; rc=3; fi
    done
    exit $rc ;;
  *)
    sed -n '3,21p' "$0" >&2; exit 2 ;;
esac
