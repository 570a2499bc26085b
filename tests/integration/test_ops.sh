#!/usr/bin/env bash
# Operating the network: each service's /metrics counts what it consumed, produced and
# dead-lettered and shows the domain figures its database holds; /readyz turns 503
# within seconds of PostgreSQL stopping and 200 again by itself once it is back, and is
# 503 while the broker cannot be reached; logs can be JSON lines; the sample
# configurations hold every key; systemd accepts the unit files.
#
# PostgreSQL is shared: it is stopped here for a few seconds only, and another fixture
# running at that moment sees the outage too (its services reconnect).
source "$(dirname "$0")/lib.sh"
dir=$(mktemp -d)
standby=""
pg_stopped=0
cleanup() {
  if [[ -n $standby ]]; then kill -KILL "$standby" 2>/dev/null || true; fi
  if [[ $pg_stopped -eq 1 ]]; then "$ROOT/deploy/infra.sh" pg-start >/dev/null || true; fi
  rm -rf "$dir"
}
trap cleanup EXIT

# ---- where the services serve /metrics ------------------------------------------------
declare -A port
roles=(clearing insuring treating)
for r in "${roles[@]}"; do port[$r]=$(metrics_port "$r"); done

status_of() { curl -s -o /dev/null --max-time 10 -w '%{http_code}' "http://127.0.0.1:${port[$1]}$2" || true; }
body_of() { curl -s --max-time 10 "http://127.0.0.1:${port[$1]}$2" || true; }
scrape() { curl -fsS --max-time 20 "http://127.0.0.1:${port[$1]}/metrics" >"$dir/$1.prom"; }
# sample ROLE NAME [LABELS]: one sample of the last scrape ('' when absent), e.g.
# sample clearing medclear_clearing_claims ',status="SETTLED"'
sample() { { grep -F "$2{role=\"$1\"${3:-}}" "$dir/$1.prom" || true; } | awk 'NR == 1 {print $NF}'; }
# total ROLE NAME: the sum of every sample of a metric (0 when absent)
total() { { grep "^$2{" "$dir/$1.prom" || true; } | awk '{s += $NF} END {printf "%d\n", s}'; }
# until_ok SECONDS COMMAND...: runs COMMAND every 0.25 s until it succeeds; false at the end
until_ok() {
  local deadline=$((SECONDS + $1))
  shift
  until "$@"; do
    ((SECONDS < deadline)) || return 1
    sleep 0.25
  done
}
all_status() { # all_status CODE PATH: every service answers CODE on PATH
  local r
  for r in "${roles[@]}"; do [[ $(status_of "$r" "$2") == "$1" ]] || return 1; done
}
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
P=$MEDCLEAR_TOPIC_PREFIX

# ---- health of the running fixture ----------------------------------------------------
until_ok 30 all_status 200 /readyz || true
for r in "${roles[@]}"; do
  check "$r /livez is 200" 200 "$(status_of "$r" /livez)"
  check "$r /readyz is 200" "200 ready" "$(status_of "$r" /readyz) $(body_of "$r" /readyz)"
  check "$r answers 404 elsewhere" 404 "$(status_of "$r" /nothing)"
done

# ---- counters follow the traffic ------------------------------------------------------
for r in "${roles[@]}"; do scrape "$r"; cp "$dir/$r.prom" "$dir/$r.before"; done
before() { cp "$dir/$1.before" "$dir/$1.prom"; sample "$@"; }
delta() { # delta ROLE NAME LABELS: the sample now less before (absent = 0)
  local a b
  b=$(before "$1" "$2" "$3"); cp "$dir/$1.now" "$dir/$1.prom"; a=$(sample "$1" "$2" "$3")
  echo $((${a:-0} - ${b:-0}))
}
inbox_before() { sql "SELECT (SELECT count(*) FROM treating.inbox), (SELECT count(*) FROM insuring.inbox), (SELECT count(*) FROM clearing.inbox)"; }
inbox0=$(inbox_before)

n=6
for i in $(seq $n); do
  cat <<CLAIM
treating_region = 340000
hospital = H34000000001
person = P310000000003
insuring_region = 310000
visit_type = OUTPATIENT
visit_date = 2026-11-22
line = 1, 001201000010000, Consultation, 1000, 2500, 2500
---
CLAIM
done >"$dir/claims"
mc submit --wait --json --timeout-ms 60000 "$dir/claims" >"$dir/replies"
check "the $n claims settled" $n "$(grep -c '"status":"ACCEPTED"' "$dir/replies")"
# and one message that is not an envelope, for the dead-letter counter and log line
printf 'not a medclear envelope' | kcat -P -b "$MC_KAFKA_BROKERS" -t "$P.intake.340000" -k ops-bad-1
dead_lettered() { [[ $(sql "SELECT count(*) FROM treating.outbox o WHERE msg_key = 'ops-bad-1' AND NOT EXISTS (SELECT 1 FROM treating.outbox_unpublished u WHERE o.id BETWEEN u.first_id AND u.last_id)") == 1 ]]; }
until_ok 20 dead_lettered || echo "the bad message was not dead-lettered in time"

# The delivery reports of the last messages may trail the replies: wait until the
# produced counters show them.
counted() {
  local r
  for r in "${roles[@]}"; do scrape "$r" && cp "$dir/$r.prom" "$dir/$r.now"; done
  [[ $(delta treating medclear_messages_produced_total ",topic=\"$P.reply.340000\"") -ge $n &&
    $(delta treating medclear_dead_letters_total ',reason="UNDECODABLE"') -ge 1 &&
    $(delta insuring medclear_messages_produced_total ",topic=\"$P.results\"") -ge $n &&
    $(delta clearing medclear_messages_produced_total ",topic=\"$P.results.340000\"") -ge $n ]]
}
until_ok 20 counted || true
check "treating consumed the requests and the bad message" $((n + 1)) "$(delta treating medclear_messages_consumed_total ",topic=\"$P.intake.340000\"")"
check "treating consumed the results" $n "$(delta treating medclear_messages_consumed_total ",topic=\"$P.results.340000\"")"
check "treating produced the claims" $n "$(delta treating medclear_messages_produced_total ",topic=\"$P.claims\"")"
check "treating produced the replies" $n "$(delta treating medclear_messages_produced_total ",topic=\"$P.reply.340000\"")"
check "treating produced one dead letter" 1 "$(delta treating medclear_messages_produced_total ",topic=\"$P.dlq\"")"
check "treating counted it UNDECODABLE" 1 "$(delta treating medclear_dead_letters_total ',reason="UNDECODABLE"')"
check "clearing consumed the claims" $n "$(delta clearing medclear_messages_consumed_total ",topic=\"$P.claims\"")"
check "clearing consumed the results" $n "$(delta clearing medclear_messages_consumed_total ",topic=\"$P.results\"")"
check "clearing routed the claims to 310000" $n "$(delta clearing medclear_messages_produced_total ",topic=\"$P.claims.310000\"")"
check "clearing routed the results to 340000" $n "$(delta clearing medclear_messages_produced_total ",topic=\"$P.results.340000\"")"
check "insuring consumed the claims" $n "$(delta insuring medclear_messages_consumed_total ",topic=\"$P.claims.310000\"")"
check "insuring produced the results" $n "$(delta insuring medclear_messages_produced_total ",topic=\"$P.results\"")"

# what was consumed is what the inboxes recorded (less the dead letter, which has no row)
read -r t0 i0 c0 <<<"$(tr '|' ' ' <<<"$inbox0")"
read -r t1 i1 c1 <<<"$(inbox_before | tr '|' ' ')"
consumed_delta() { # consumed_delta ROLE: all messages consumed since the first scrape
  local a b
  cp "$dir/$1.before" "$dir/$1.prom"; b=$(total "$1" medclear_messages_consumed_total)
  cp "$dir/$1.now" "$dir/$1.prom"; a=$(total "$1" medclear_messages_consumed_total)
  echo $((a - b))
}
check "treating: consumed = inbox rows + dead letters" $((t1 - t0 + 1)) "$(consumed_delta treating)"
check "insuring: consumed = inbox rows" $((i1 - i0)) "$(consumed_delta insuring)"
check "clearing: consumed = inbox rows" $((c1 - c0)) "$(consumed_delta clearing)"

# ---- the domain figures are the database's --------------------------------------------
for r in "${roles[@]}"; do scrape "$r"; done
settled=$(sql "SELECT count(*) FROM clearing.claims WHERE status = 'SETTLED'")
check "clearing has settled claims" 1 "$([[ $settled -gt 0 ]] && echo 1 || echo 0)"
check "clearing: settled claims = database" "$settled" "$(sample clearing medclear_clearing_claims ',status="SETTLED"')"
check "clearing: settled per pair add up" "$settled" "$(total clearing medclear_clearing_settled_claims)"
check "clearing: fund of 310000 to 340000 = database" \
  "$(sql "SELECT sum(fund_fen + tier2_fen) FROM clearing.claims WHERE status = 'SETTLED' AND insuring_party = '310000' AND treating_party = '340000'")" \
  "$(sample clearing medclear_clearing_fund_fen ',insuring="310000",treating="340000"')"
check "clearing: total fund = database" \
  "$(sql "SELECT coalesce(sum(fund_fen + tier2_fen), 0) FROM clearing.claims WHERE status = 'SETTLED'")" \
  "$(total clearing medclear_clearing_fund_fen)"
check "insuring: settled = database" \
  "$(sql "SELECT count(*) FROM insuring.settlements WHERE status = 'SETTLED'")" \
  "$(sample insuring medclear_insuring_settlements ',status="SETTLED"')"
check "insuring: fund of 310000 to 340000 = clearing's" \
  "$(sample clearing medclear_clearing_fund_fen ',insuring="310000",treating="340000"')" \
  "$(sample insuring medclear_insuring_fund_fen ',insuring="310000",treating="340000"')"
check "treating: accepted requests = database" \
  "$(sql "SELECT count(*) FROM treating.requests WHERE status = 'ACCEPTED'")" \
  "$(sample treating medclear_treating_requests ',status="ACCEPTED"')"
check "treating: settled claims = database" \
  "$(sql "SELECT count(*) FROM treating.claims WHERE status = 'SETTLED'")" \
  "$(sample treating medclear_treating_claims ',status="SETTLED"')"
check "treating: fund of 310000 to 340000 = clearing's" \
  "$(sample clearing medclear_clearing_fund_fen ',insuring="310000",treating="340000"')" \
  "$(sample treating medclear_treating_fund_fen ',insuring="310000",treating="340000"')"

# ---- the figures are kept by triggers, not counted at each scrape ----------------------
# Each backend adds to rows of its own; a connection's rows are folded into backend 0
# once it has gone. A pid above the kernel's pid_max stands for a gone backend here.
check "the services' own backends wrote the figures" 1 \
  "$(sql "SELECT (count(*) > 0)::int FROM clearing.figures WHERE backend <> 0")"
gone=2147483646
before_fig=$(sql "SELECT sum(row_count) FROM clearing.figures WHERE figure = 'claims' AND label1 = 'SETTLED'")
sql "INSERT INTO clearing.figures VALUES ('claims', 'SETTLED', '', $gone, 1, 0)"
mc verify >"$dir/verify.tampered" || true
check "verify names a figure that differs from its table" \
  "FAIL domain figures equal the tables they count: 1|clearing claims SETTLED" \
  "$(grep -E '^FAIL domain' "$dir/verify.tampered")|$(grep -oE 'clearing claims SETTLED' "$dir/verify.tampered")"
check "verify exits 1 then" "verify: FAILED" "$(tail -1 "$dir/verify.tampered")"
# (other checks of verify may fail on the fixture's shared database: only this one counts)
# the same row, with the difference taken back in backend 0: the sums are the table's again
sql "INSERT INTO clearing.figures AS f VALUES ('claims', 'SETTLED', '', 0, -1, 0)
     ON CONFLICT (figure, label1, label2, backend) DO UPDATE SET row_count = f.row_count - 1"
check "folding moves the gone backend's rows" "1 0" \
  "$(sql "SELECT clearing.fold_figures()") $(sql "SELECT count(*) FROM clearing.figures WHERE backend = $gone")"
check "folding changes no sum" "$before_fig" \
  "$(sql "SELECT sum(row_count) FROM clearing.figures WHERE figure = 'claims' AND label1 = 'SETTLED'")"
check "live backends' rows stay" 1 \
  "$(sql "SELECT (count(*) > 0)::int FROM clearing.figures WHERE backend <> 0")"
mc verify >"$dir/verify.folded" || true
check "verify finds the figures right after the fold" "ok   domain figures equal the tables they count" \
  "$(grep 'domain figures' "$dir/verify.folded")"
scrape clearing
check "the scrape after the fold: settled claims = database" "$settled" \
  "$(sample clearing medclear_clearing_claims ',status="SETTLED"')"

# delivered rows are marked published shortly after, and the gauge is sampled each second
published() { scrape "$1" && [[ $(sample "$1" medclear_outbox_unpublished) == 0 ]]; }
for r in "${roles[@]}"; do
  check "$r: domain figures read" 1 "$(sample "$r" medclear_domain_scrape_success)"
  check "$r: batches committed and timed" 1 "$([[ $(sample "$r" medclear_db_commit_seconds_count) -gt 0 && $(sample "$r" medclear_batch_messages_count) -gt 0 ]] && echo 1 || echo 0)"
  until_ok 10 published "$r" || true
  check "$r: outbox all published" "0 $(sql "SELECT count(*) FROM $r.outbox_unpublished")" "$(sample "$r" medclear_outbox_unpublished) 0"
done
lag_zero() {
  scrape treating
  [[ $(grep -c '^medclear_consumer_lag{' "$dir/treating.prom") -eq $(sample treating medclear_assigned_partitions) &&
    $(total treating medclear_consumer_lag) -eq 0 ]]
}
check "treating: a lag per assigned partition, all 0" 0 "$(until_ok 15 lag_zero; echo $?)"

# ---- logs -----------------------------------------------------------------------------
line=$(grep 'msg="dead letter' "$MC_RUN_DIR/treating.log" | grep 'key=ops-bad-1' | head -1 || true)
check "the dead-letter line names topic, partition and offset" 1 \
  "$([[ $line == *" topic=$P.intake.340000 partition="*" offset="*" key=ops-bad-1 "* ]] && echo 1 || echo 0)"

# ---- readiness follows the database ---------------------------------------------------
"$ROOT/deploy/infra.sh" pg-stop
pg_stopped=1
down_at=$SECONDS
until_ok 10 all_status 503 /readyz || true
check "/readyz 503 within 10 s of PostgreSQL stopping" "503 503 503" \
  "$(status_of clearing /readyz) $(status_of insuring /readyz) $(status_of treating /readyz)"
check "the reason is the database" "database unavailable" "$(body_of insuring /readyz)"
check "/livez stays 200" "200 200 200" \
  "$(status_of clearing /livez) $(status_of insuring /livez) $(status_of treating /livez)"
"$ROOT/deploy/infra.sh" pg-start
pg_stopped=0
echo "PostgreSQL was down for $((SECONDS - down_at)) s"
check "/readyz 200 again by itself" 0 "$(until_ok 60 all_status 200 /readyz; echo $?)"
cat >"$dir/after.claim" <<CLAIM
treating_region = 340000
hospital = H34000000001
person = P310000000003
insuring_region = 310000
visit_type = OUTPATIENT
visit_date = 2026-11-22
line = 1, 001201000010000, Consultation, 1000, 2500, 2500
CLAIM
mc submit --wait --json --timeout-ms 60000 "$dir/after.claim" >"$dir/after"
check "settled after the outage" ACCEPTED "$(json_field "$(head -1 "$dir/after")" status)"
scrape insuring
check "insuring counted its reconnection" 1 "$([[ $(sample insuring medclear_database_reconnects_total) -ge 1 ]] && echo 1 || echo 0)"

# ---- readiness before the broker is up ------------------------------------------------
# A treating instance pointed at a port where no broker listens, with an endpoint of its
# own and JSON logs; its group is its own, so the fixture's partitions are not touched.
closed=$(free_port)
port[standby]=$(free_port)
bash -c 'echo $$ >"$0"; exec "$@"' "$dir/standby.pid" \
  "$MC_BUILD_DIR/services/treating/medclear-treating" -c "$ROOT/deploy/config/treating.conf" \
  -o "kafka.bootstrap.servers=127.0.0.1:$closed" -o "metrics.port=${port[standby]}" \
  -o log.format=json -o "group.id=$P-ops-standby" >"$dir/standby.log" 2>&1 </dev/null &
disown # killed below; no job report
until_ok 10 test -s "$dir/standby.pid" || true
standby=$(cat "$dir/standby.pid")
until_ok 10 bash -c "[[ \$(curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:${port[standby]}/livez) == 200 ]]" || true
check "without a broker: /livez 200" 200 "$(status_of standby /livez)"
check "without a broker: /readyz 503" 503 "$(status_of standby /readyz)"
check "without a broker: the reason" "starting: creating topics on the broker" "$(body_of standby /readyz)"
sleep 1 # a few of librdkafka's connection errors are logged by now
check "JSON logs: every line is one JSON object" ok "$(python3 -c '
import json, sys
lines = open(sys.argv[1]).read().splitlines()
objs = [json.loads(l) for l in lines]
print("ok" if objs and all(o["service"] == "treating" and "msg" in o for o in objs) and
      any(o["msg"].startswith("kafka: ") for o in objs) else "no")' "$dir/standby.log" 2>&1)"
kill -KILL "$standby"
standby=""
check "log.format other than logfmt or json is refused" 2 \
  "$("$MC_BUILD_DIR/services/treating/medclear-treating" -o log.format=xml --dump-config >/dev/null 2>&1; echo $?)"

# ---- partitions of the topics a process creates -----------------------------------------
# topic.partitions sets them (0: the broker's num.partitions); nothing consumes this
# prefix, so the wait for the reply times out.
parts_of() { kcat -L -b "$MC_KAFKA_BROKERS" -t "$1" 2>/dev/null | grep -c 'partition [0-9]*, leader' || true; }
mc -o "topic.prefix=$P-parts3" -o topic.partitions=3 submit --wait --timeout-ms 200 \
  "$ROOT/deploy/sample/claims/3-emergency-outpatient.claim" >/dev/null 2>&1 || true
check "topic.partitions 3: the reply topic submit created has 3 partitions" 3 "$(parts_of "$P-parts3.reply.330000")"
mc -o "topic.prefix=$P-parts0" submit --wait --timeout-ms 200 \
  "$ROOT/deploy/sample/claims/3-emergency-outpatient.claim" >/dev/null 2>&1 || true
check "topic.partitions 0: the broker's num.partitions" "$(eval "$("$ROOT/deploy/infra.sh" env)"; sed -n 's/^num.partitions=//p' "$MC_STATE_DIR/kafka/server.properties")" \
  "$(parts_of "$P-parts0.reply.330000")"
check "topic.partitions below 0 is refused, naming the key" "medclear: topic.partitions: -1 is outside 0..100000" \
  "$(mc -o topic.partitions=-1 window list 2>&1 >/dev/null)"

# ---- how the local clients reach PostgreSQL (deploy/infra.sh env) ---------------------
# its Unix socket, where the services of this fixture connect too; loopback TCP when the
# socket's path would be too long for a socket address or the directory needs quoting
db_host() { MC_STATE_DIR="$1" "$ROOT/deploy/infra.sh" env | sed -n "s/^export MC_DB_CONNINFO='host=\([^ ]*\) .*/\1/p"; }
state=$(eval "$("$ROOT/deploy/infra.sh" env)"; echo "$MC_STATE_DIR")
check "env names the server's socket directory" "$state/pg" "$(db_host "$state")"
# the three services' own backends (each logs in as its role): a socket has no client address
check "the services' connections are Unix sockets" "3 0" "$(sql "SELECT count(DISTINCT usename) || ' ' || count(client_addr) FROM pg_stat_activity WHERE usename IN ('medclear_treating', 'medclear_insuring', 'medclear_clearing') AND datname = current_database()")"
check "a state directory with a space: loopback TCP" 127.0.0.1 "$(db_host "/tmp/medclear state")"
# state directories whose socket path, <dir>/pg/.s.PGSQL.<port>, is 107 and 108 bytes
sock_tail="/pg/.s.PGSQL.$(sed -n 's/.*port=\([0-9]*\).*/\1/p' <<<"$MEDCLEAR_DB_CONNINFO")"
long_dir() { printf '/tmp/%s' "$(printf "%$(($1 - ${#sock_tail} - 5))s" '' | tr ' ' d)"; }
check "a socket path of 107 bytes: the socket" "$(long_dir 107)/pg" "$(db_host "$(long_dir 107)")"
check "a socket path of 108 bytes: loopback TCP" 127.0.0.1 "$(db_host "$(long_dir 108)")"

# ---- sample configurations and systemd units ------------------------------------------
for r in treating insuring clearing; do
  bin="$MC_BUILD_DIR/services/$r/medclear-$r"
  for kind in minimal full; do
    check "$r.$kind.conf is accepted" 0 "$("$bin" -c "$ROOT/deploy/config/examples/$r.$kind.conf" --dump-config >/dev/null 2>&1; echo $?)"
  done
  missing=$("$bin" --help | awk '/^  [a-z][a-z0-9._]+ / && !/^  test\./ {print $1}' | while read -r key; do
    grep -Eq "^(# )?$key =" "$ROOT/deploy/config/examples/$r.full.conf" || printf '%s ' "$key"
  done)
  check "$r.full.conf lists every key (else: deploy/config/examples/generate.sh)" "" "$missing"
done

if ! command -v systemd-analyze >/dev/null && [[ $EUID -eq 0 ]] && command -v apt-get >/dev/null; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends systemd >/dev/null 2>&1 || true
fi
if command -v systemd-analyze >/dev/null; then
  # the units name the installed binaries; verify copies naming the built ones
  mkdir -p "$dir/units"
  for r in treating insuring clearing; do
    sed "s|/opt/medclear/bin/medclear-$r|$MC_BUILD_DIR/services/$r/medclear-$r|" \
      "$ROOT/deploy/systemd/medclear-$r.service" >"$dir/units/medclear-$r.service"
  done
  if systemd-analyze verify "$dir/units/"*.service >"$dir/verify" 2>&1; then
    check "systemd-analyze verify accepts the units" ok ok
  elif grep -qiE 'not booted|failed to (initialize|connect)|no such file or directory.*systemd' "$dir/verify"; then
    echo "skip systemd-analyze verify: it cannot run here: $(head -1 "$dir/verify")"
  else
    cat "$dir/verify"
    check "systemd-analyze verify accepts the units" ok failed
  fi
  check "the units have no ExecReload (no SIGHUP handling)" 0 "$(cat "$ROOT"/deploy/systemd/*.service | grep -c '^ExecReload' || true)"
else
  echo "skip systemd-analyze verify: systemd-analyze is not installed and could not be"
fi

# docker-compose.yml: `docker compose config` parses and resolves it where the compose
# plugin is installed (not a Debian package; see README).
if docker compose version >/dev/null 2>&1; then
  if docker compose -f "$ROOT/docker-compose.yml" config -q >"$dir/compose" 2>&1; then
    check "docker compose config accepts docker-compose.yml" ok ok
  else
    cat "$dir/compose"
    check "docker compose config accepts docker-compose.yml" ok failed
  fi
  check "the servers and services of the compose file have health checks" "kafka postgres treating insuring clearing" \
    "$(docker compose -f "$ROOT/docker-compose.yml" config --format json | python3 -c '
import json, sys
s = json.load(sys.stdin)["services"]
print(" ".join(n for n in ("kafka", "postgres", "treating", "insuring", "clearing")
               if s.get(n, {}).get("healthcheck", {}).get("test")))')"
else
  echo "skip docker compose config: the compose plugin is not installed"
fi

finish
