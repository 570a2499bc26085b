#!/usr/bin/env bash
# Effects exactly once under faults (DESIGN.md section 4). While `medclear load` sends
# MC_FAULT_COUNT requests (default 20000: settles, cancels, reversals, duplicates), each
# service is killed with SIGKILL three times at random moments and started again, the
# broker is restarted once and PostgreSQL once. Afterwards every request has exactly one
# reply (the load generator counts distinct replies per request) and `medclear verify`
# finds every invariant holding.
#
# MC_FAULT_SEED replays a schedule; MC_FAULT_RATE sets the offered rate (default 200/s).
source "$(dirname "$0")/../integration/lib.sh"
count=${MC_FAULT_COUNT:-20000}
rate=${MC_FAULT_RATE:-200}
seed=${MC_FAULT_SEED:-$(date +%s)}
echo "fault test: $count requests at $rate/s, schedule seed $seed"
RANDOM=$seed
dir="$MC_BUILD_DIR/${MC_FIXTURE}/fault"
mkdir -p "$dir"

mc load --count "$count" --rate "$rate" --cancel-pct 5 --reverse-pct 2 --duplicate-pct 2 \
  --seed "$seed" --timeout-ms 300000 --json --quiet >"$dir/load.json" 2>"$dir/load.err" &
load=$!

# The schedule: three kills per service and one restart of each server, at random
# moments over the sending time, one at a time.
duration=$((count / rate))
events=()
for role in treating insuring clearing; do
  for _ in 1 2 3; do events+=("$((duration * (5 + RANDOM % 85) / 100)) kill $role"); done
done
events+=("$((duration * (30 + RANDOM % 10) / 100)) kafka-restart")
events+=("$((duration * (60 + RANDOM % 10) / 100)) pg-restart")
mapfile -t schedule < <(printf '%s\n' "${events[@]}" | sort -n)

start=$SECONDS
done_events=0
for ev in "${schedule[@]}"; do
  read -r at what role <<<"$ev"
  while ((SECONDS - start < at)) && kill -0 $load 2>/dev/null; do sleep 0.5; done
  kill -0 $load 2>/dev/null || break
  echo "t=$((SECONDS - start))s: $what ${role:-}"
  case $what in
    kill)
      "$ROOT/deploy/network.sh" kill "$role" >/dev/null
      sleep "$((1 + RANDOM % 3))"
      "$ROOT/deploy/network.sh" start >/dev/null ;;
    kafka-restart | pg-restart)
      "$ROOT/deploy/infra.sh" "$what" >/dev/null ;;
  esac
  done_events=$((done_events + 1))
done
if wait $load; then load_rc=0; else load_rc=$?; fi
cat "$dir/load.json"
tail -5 "$dir/load.err"

check "every fault was injected" "${#schedule[@]}" "$done_events"
check "load generator: every request exactly one reply" 0 "$load_rc"
summary=$(tail -1 "$dir/load.json")
check "requests sent" "$count" "$(json_field "$summary" sent)"
check "no request without a reply" 0 "$(json_field "$summary" unanswered)"
check "no request with two different replies" 0 "$(json_field "$summary" multiple_replies)"
# Its own CPU from the first send, which the benchmark counts with the network's: more
# than nothing, and no more than all the cores for as long as it ran.
check "load generator: its own CPU reported, within the cores' time" 1 \
  "$(python3 -c 'import json, os, sys
d = json.loads(sys.argv[1]); c = d.get("cpu_s")
print(int(c is not None and 0 < c <= d["duration_s"] * os.cpu_count()))' "$summary")"
mc verify --wait-ms 120000 >"$dir/verify" || true
cat "$dir/verify"
check "verify holds" "verify: all invariants hold" "$(tail -1 "$dir/verify")"
check "services all running at the end" 0 "$("$ROOT/deploy/network.sh" status >/dev/null; echo $?)"
finish
