#!/usr/bin/env bash
# Two instances of the treating service race on one row: a request and its reversal,
# keyed by their own request ids, arrive on partitions that different instances own
# (partition 0 and the last: apart under the range and the round-robin assignors). A
# trigger holds the instance that inserts the request for 2.5 s before it commits (half the
# fixture's claim timeout, so that the request is still in flight when it commits). The
# other instance's reversal finds no request and inserts a tombstone for it; a trigger
# refuses the first such insert, so that the batch goes the careful way, message by
# message, while the request is still held. There the tombstone waits on the held key and
# fails as a duplicate once the request commits: a race lost, not a bad message. The
# reversal is applied again, finds the request in flight and reverses it; nothing is
# dead-lettered.
source "$(dirname "$0")/lib.sh"
dir=$(mktemp -d)
drop_triggers() {
  sql "DROP TRIGGER IF EXISTS test_race_hold ON treating.requests" >/dev/null
  sql "DROP TRIGGER IF EXISTS test_race_refuse_once ON treating.requests" >/dev/null
  sql "DROP FUNCTION IF EXISTS public.test_race_hold()" >/dev/null
  sql "DROP FUNCTION IF EXISTS public.test_race_refuse_once()" >/dev/null
  sql "DROP SEQUENCE IF EXISTS public.test_race_once" >/dev/null
}
cleanup() { drop_triggers; stop_second; rm -rf "$dir"; }
trap cleanup EXIT

topic="$MEDCLEAR_TOPIC_PREFIX.intake.330000"
parts=$(kcat -L -b "$MC_KAFKA_BROKERS" -t "$topic" 2>/dev/null | grep -c 'partition [0-9]*, leader')
check "the intake topic has two partitions or more" 1 "$([[ $parts -ge 2 ]] && echo 1 || echo 0)"
stem="H33000000001$(date +%Y%m%d%H%M%S)"
read -r req rev <<<"$(python3 - "$parts" "$stem" <<'PY'
import sys, zlib
parts, stem = int(sys.argv[1]), sys.argv[2]
part = lambda s: zlib.crc32(s.encode()) % parts
ids = [stem + "%04d" % k for k in range(10000)]
print(next(i for i in ids if part(i) == 0), next(i for i in ids if part(i) == parts - 1))
PY
)"

outpatient_request "$req" "$dir/req.claim"
outpatient_request "$rev" "$dir/rev.claim" "kind = REVERSE" "original_request_id = $req"

drop_triggers
sql "CREATE SEQUENCE public.test_race_once" >/dev/null
sql "GRANT USAGE ON SEQUENCE public.test_race_once TO PUBLIC" >/dev/null
sql "CREATE FUNCTION public.test_race_hold() RETURNS trigger LANGUAGE plpgsql AS \$\$
BEGIN PERFORM pg_sleep(2.5); RETURN NULL; END \$\$" >/dev/null
sql "CREATE TRIGGER test_race_hold AFTER INSERT ON treating.requests FOR EACH ROW
     WHEN (NEW.request_id = '$req' AND NEW.request_hash <> '\\x') EXECUTE FUNCTION public.test_race_hold()" >/dev/null
sql "CREATE FUNCTION public.test_race_refuse_once() RETURNS trigger LANGUAGE plpgsql AS \$\$
BEGIN
  IF nextval('public.test_race_once') = 1 THEN
    RAISE EXCEPTION 'test: first tombstone of % refused', NEW.request_id;
  END IF;
  RETURN NEW;
END \$\$" >/dev/null
sql "CREATE TRIGGER test_race_refuse_once BEFORE INSERT ON treating.requests FOR EACH ROW
     WHEN (NEW.request_id = '$req' AND NEW.request_hash = '\\x') EXECUTE FUNCTION public.test_race_refuse_once()" >/dev/null

# A second treating instance in the same consumer group takes half of the partitions.
raced_before=$(grep -c 'lost a race' "$MC_RUN_DIR/treating.log" || true)
second_instance treating "$dir/treating2.log"
sleep 5 # let the group rebalance

mc submit "$dir/req.claim" >/dev/null
wait_for "SELECT count(*) FROM pg_stat_activity WHERE wait_event = 'PgSleep'" 1
check "the request's insert is held" 1 "$(sql "SELECT count(*) FROM pg_stat_activity WHERE wait_event = 'PgSleep'")"
out=$(mc submit --wait --json --timeout-ms 60000 "$dir/rev.claim" | head -1)
check "the reversal answered" ACCEPTED "$(json_field "$out" status)"
check "the first tombstone was refused, the second tried" 1 \
  "$([[ $(sql "SELECT last_value FROM public.test_race_once") -ge 2 ]] && echo 1 || echo 0)"
raced=$(( $(grep -c 'lost a race' "$MC_RUN_DIR/treating.log" || true) - raced_before + $(grep -c 'lost a race' "$dir/treating2.log" || true) ))
check "the reversal lost the race and was applied again" 1 "$([[ $raced -ge 1 ]] && echo 1 || echo 0)"
wait_for "SELECT status FROM treating.requests WHERE request_id = '$req'" REVERSED
check "the request reversed in flight" REVERSED "$(sql "SELECT status FROM treating.requests WHERE request_id = '$req'")"
check "no tombstone for the request" 0 "$(sql "SELECT count(*) FROM treating.requests WHERE request_id = '$req' AND request_hash = '\\x'")"
check "nothing dead-lettered" 0 \
  "$(sql "SELECT count(*) FROM treating.outbox WHERE reason IS NOT NULL AND msg_key IN ('$req', '$rev')")"
wait_for "SELECT count(*) FROM treating.claims WHERE undoes = '$req' AND status <> 'SENT'" 1
check "the request's late result undone" 1 \
  "$(sql "SELECT count(*) FROM treating.claims WHERE undoes = '$req' AND status <> 'SENT'")"
finish
