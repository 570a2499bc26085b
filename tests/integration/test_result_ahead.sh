#!/usr/bin/env bash
# The treating service's read-ahead: on the fast path a batch reads and locks the claims
# its results are for, each with its lines, with one statement; a result that finds its
# claim changed by the batch since reads it again. A request is sent while the insuring
# service is paused (SIGSTOP), so that its claim waits without a result; two results for
# that claim, built by hand and signed as the insuring region, then wait on the treating
# region's result topic while the treating service, restarted with debug logging, is
# paused a moment too, so that they meet in one batch. The first is recorded and
# answered; the second is dead-lettered because the claim has a result by then; the
# agency gets one reply. The pauses are shorter than the claim timeout and the consumer
# sessions.
source "$(dirname "$0")/lib.sh"
dir=$(mktemp -d)
treating=""
insuring=$(cat "$MC_RUN_DIR/insuring.pid")
cleanup() {
  kill -CONT "$insuring" 2>/dev/null
  [[ -n $treating ]] && kill -CONT "$treating" 2>/dev/null
  rm -rf "$dir"
  "$ROOT/deploy/network.sh" restart treating >/dev/null 2>&1 || true
}
trap cleanup EXIT

MEDCLEAR_LOG_LEVEL=debug "$ROOT/deploy/network.sh" restart treating >/dev/null
treating=$(cat "$MC_RUN_DIR/treating.pid")
tag=$(date +%H%M%S)
id="H31000000003202611211400$tag"
outpatient_claim "$dir/request.claim" H31000000003 330000 P330000000001 \
  "1, 001201000010000, Consultation, 1000, 2500, 2500" "request_id = $id"
rejection "$dir/r1-$id" "r1-$id" "$id"
rejection "$dir/r2-$id" "r2-$id" "$id"

kill -STOP "$insuring"
mc submit "$dir/request.claim" >/dev/null
wait_for "SELECT status FROM treating.claims WHERE claim_id = '$id'" SENT
check "the claim waits for its result" SENT "$(sql "SELECT status FROM treating.claims WHERE claim_id = '$id'")"
kill -STOP "$treating"
sleep 0.5 # a fetch waiting at the broker is answered empty; the next finds both results
kcat -P -b "$MC_KAFKA_BROKERS" -t "$MEDCLEAR_TOPIC_PREFIX.results.310000" -k "$id" "$dir/r1-$id" "$dir/r2-$id"
kill -CONT "$treating"
wait_for "SELECT count(*) FROM treating.outbox WHERE cause_id IN ('r1-$id', 'r2-$id')" 2
kill -CONT "$insuring"

check "the first result recorded" "REJECTED NO_POLICY" \
  "$(sql "SELECT status || ' ' || reason_code FROM treating.claims WHERE claim_id = '$id'")"
check "the request answered once" "REJECTED 1" \
  "$(sql "SELECT status || ' ' || answers FROM treating.requests WHERE request_id = '$id'")"
check "one reply to the agency" 1 \
  "$(sql "SELECT count(*) FROM treating.outbox WHERE cause_id IN ('r1-$id', 'r2-$id') AND reason IS NULL AND topic = '$MEDCLEAR_TOPIC_PREFIX.reply.310000'")"
check "the second result dead-lettered" "DUPLICATE_MODIFIED: claim \"$id\" already has a result (REJECTED)" \
  "$(sql "SELECT string_agg(reason || ': ' || detail, '; ') FROM treating.outbox WHERE cause_id = 'r2-$id' AND reason IS NOT NULL")"
log="$MC_RUN_DIR/treating.log"
check "the claim was read ahead once for both results" 1 \
  "$(grep -c "read ahead 1 claims of results" "$log" | awk '{print ($1 >= 1)}')"
check "no batch was split" 0 "$(batches treating split)"
finish
