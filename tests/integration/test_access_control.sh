#!/usr/bin/env bash
# Broker access control (deploy/infra.sh with MC_KAFKA_AUTH=scram): a broker of its own
# (own state directory and ports, so the other tests' broker is never touched) with
# SASL/SCRAM logins and ACLs. Logged in as Jiangsu's agency (320000), kcat can neither
# read Zhejiang's replies nor write Zhejiang's intake, nor read a service topic, while it
# writes its own intake and reads its own replies; a wrong password is refused; and the
# network, each service logged in as its own user, still settles every sample claim.
export MC_FIXTURE=none
source "$(dirname "$0")/lib.sh"

# Own servers: MC_STATE_DIR-scram, ports from MC_KAFKA_PORT+10 and MC_PG_PORT+10 upwards.
port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
free_port() { local p=$1; while ! port_free "$p" || ! port_free $((p + 1)); do p=$((p + 2)); done; echo "$p"; }
export MC_STATE_DIR="${MC_STATE_DIR:-/tmp/medclear-state}-scram" MC_KAFKA_AUTH=scram
export MC_KAFKA_PORT MC_KAFKA_CONTROLLER_PORT MC_PG_PORT
MC_KAFKA_PORT=$(free_port $((${MC_KAFKA_PORT:-19092} + 10)))
MC_KAFKA_CONTROLLER_PORT=$((MC_KAFKA_PORT + 1))
MC_PG_PORT=$(free_port $((${MC_PG_PORT:-15432} + 10)))
export MC_RUN_DIR="$MC_STATE_DIR/run" MEDCLEAR_METRICS_PORT=0
unset MC_METRICS_BASE_PORT MEDCLEAR_KAFKA_SASL_PASSWORD MEDCLEAR_DB_USER MEDCLEAR_GROUP_ID
export MEDCLEAR_TOPIC_PREFIX=mc # the prefix whose ACLs `infra.sh start` grants
t0=$SECONDS

cleanup() {
  "$ROOT/deploy/network.sh" stop >/dev/null 2>&1 || true
  "$ROOT/deploy/infra.sh" stop >/dev/null 2>&1 || true
}
trap cleanup EXIT
"$ROOT/deploy/infra.sh" reset >/dev/null # a fresh storage: users and ACLs are made at format
"$ROOT/deploy/infra.sh" start
eval "$("$ROOT/deploy/infra.sh" env)"
export MEDCLEAR_DB_CONNINFO="$MC_DB_CONNINFO" MEDCLEAR_KAFKA_BOOTSTRAP_SERVERS="$MC_KAFKA_BROKERS"
S=$MC_KAFKA_SECRETS
check "operator logs in as operator" operator "$MEDCLEAR_KAFKA_SASL_USERNAME"
check "password files are private" "600 600 700" \
  "$(stat -c %a "$S/operator.password" "$S/agency-320000.password" "$S" | tr '\n' ' ' | sed 's/ $//')"

mc db migrate >/dev/null
mc data load "$ROOT/deploy/sample" >/dev/null
"$ROOT/deploy/network.sh" start # the services create their topics (CREATE on their own)

# kcat as a user, its password read from USER.kcat (never on the command line):
# as USER -P|-C TOPIC
as() {
  local user=$1 mode=$2 topic=$3
  if [[ $mode == -P ]]; then
    printf 'access-control-test\n' | timeout 30 kcat -F "$S/$user.kcat" -b "$MC_KAFKA_BROKERS" -P -t "$topic" -k "acl-$user" 2>&1
  else
    timeout 30 kcat -F "$S/$user.kcat" -b "$MC_KAFKA_BROKERS" -C -t "$topic" -o beginning -e -q -f '%k\n' 2>&1
  fi
}
denied() { grep -q 'Topic authorization failed' <<<"$1" && echo denied || echo "allowed: $1"; }

check "Jiangsu cannot write Zhejiang's intake" denied "$(denied "$(as agency-320000 -P mc.intake.330000)")"
check "Jiangsu cannot read Zhejiang's replies" denied "$(denied "$(as agency-320000 -C mc.reply.330000)")"
check "Jiangsu cannot read the claims topic" denied "$(denied "$(as agency-320000 -C mc.claims)")"
check "Zhejiang cannot write Jiangsu's intake" denied "$(denied "$(as agency-330000 -P mc.intake.320000)")"
out=$(as agency-320000 -P mc.intake.320000)
check "Jiangsu writes its own intake" "" "$(grep -iE 'fail|error' <<<"$out" || true)"
wrong=$(mktemp)
sed 's/^sasl.password=.*/sasl.password=wrong-password/' "$S/agency-320000.kcat" >"$wrong"
out=$(timeout 30 kcat -F "$wrong" -b "$MC_KAFKA_BROKERS" -L -m 5 2>&1 || true)
rm -f "$wrong"
check "a wrong password is refused" refused "$(grep -q 'Authentication failed' <<<"$out" && echo refused || echo "$out")"

# The whole path with every service logged in as its own user.
replies=$(mktemp)
trap 'rm -f "$replies"; cleanup' EXIT
mc submit --wait --json --timeout-ms 60000 "$ROOT"/deploy/sample/claims/*.claim >"$replies"
check "every claim answered" 5 "$(grep -c '"request_id"' "$replies")"
for id in H31000000001202611230930000001 H31000000002202611231015000001 H33000000003202611232210000001; do
  check "$id settled" ACCEPTED "$(json_field "$(reply_of "$replies" "$id")" status)"
done
check "H31000000001202611230930000001 fund" 15558 "$(json_field "$(reply_of "$replies" H31000000001202611230930000001)" fund_fen)"
check "not registered" NOT_REGISTERED "$(json_field "$(reply_of "$replies" H31000000003202611231100000001)" reason_code)"
check "amount mismatch" AMOUNT_MISMATCH "$(json_field "$(reply_of "$replies" H32000000001202611231130000001)" reason_code)"
check "insuring and clearing recorded the settlements" "3 3" \
  "$(sql "SELECT (SELECT count(*) FROM insuring.settlements WHERE status = 'SETTLED') || ' ' || (SELECT count(*) FROM clearing.claims WHERE status = 'SETTLED')")"

# Jiangsu's agency reads its own reply topic: the reply to the Jiangsu sample is there.
check "Jiangsu reads its own replies" 1 "$(as agency-320000 -C mc.reply.320000 | grep -c '^H32000000001202611231130000001$')"
# What Jiangsu wrote to its own intake arrived: treating dead-lettered it (unsigned), and
# the operator lists it.
check "Jiangsu's message reached treating" 1 "$(mc dlq list --json | grep -c '"source":"mc.intake.320000/')"

check "no authorization errors in the service logs" 0 \
  "$(cat "$MC_RUN_DIR"/{treating,insuring,clearing}.log | grep -ci 'authoriz' || true)"
leaks=0
for u in admin operator treating insuring clearing agency-320000; do
  pw=$(head -n 1 "$S/$u.password")
  if grep -rqF -- "$pw" "$MC_RUN_DIR" "$MC_STATE_DIR"/kafka/*.log; then leaks=$((leaks + 1)); fi
  for p in $(cat "$MC_RUN_DIR"/*.pid); do
    if tr '\0' ' ' <"/proc/$p/cmdline" | grep -qF -- "$pw"; then leaks=$((leaks + 1)); fi
  done
done
check "no password in a log or a service's command line" 0 "$leaks"
echo "access control test: $((SECONDS - t0)) s"
finish
