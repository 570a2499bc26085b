#!/usr/bin/env bash
# An undo the insuring region rejects leaves the claim it was for free to be undone again.
# A claim is settled; with the insuring service paused (SIGSTOP) a CANCEL of it sends its
# undo claim, which marks the settled claim undone_by the undo. A result rejecting the
# undo, built by hand and signed as the insuring region, is then recorded by the treating
# service (with its other results in one statement at the batch's end) and clears the
# mark with a statement of its own; the cancel is answered REJECTED once. The pause is
# shorter than the claim timeout and the consumer sessions.
source "$(dirname "$0")/lib.sh"
dir=$(mktemp -d)
insuring=$(cat "$MC_RUN_DIR/insuring.pid")
cleanup() { kill -CONT "$insuring" 2>/dev/null; rm -rf "$dir"; }
trap cleanup EXIT

tag=$(date +%H%M%S)
id="H31000000003202611211500$tag"
cancel="${id}C"
outpatient_claim "$dir/settle.claim" H31000000003 330000 P330000000001 \
  "1, 001201000010000, Consultation, 1000, 2600, 2600" "request_id = $id"
out=$(mc submit --wait --json --timeout-ms 60000 "$dir/settle.claim" | head -1)
check "settled" ACCEPTED "$(json_field "$out" status)"
sid=$(json_field "$out" settlement_id)
printf '%s\n' "request_id = $cancel" "kind = CANCEL" "settlement_id = $sid" "treating_region = 310000" \
  "hospital = H31000000003" "person = P330000000001" "insuring_region = 330000" >"$dir/cancel.claim"
rejection "$dir/reject" "r-$cancel" "$cancel"

kill -STOP "$insuring"
mc submit "$dir/cancel.claim" >/dev/null
wait_for "SELECT status FROM treating.claims WHERE claim_id = '$cancel'" SENT
check "the undo waits for its result" SENT "$(sql "SELECT status FROM treating.claims WHERE claim_id = '$cancel'")"
check "the settled claim is marked undone by it" "$cancel" \
  "$(sql "SELECT undone_by FROM treating.claims WHERE claim_id = '$id'")"
kcat -P -b "$MC_KAFKA_BROKERS" -t "$MEDCLEAR_TOPIC_PREFIX.results.310000" -k "$cancel" "$dir/reject"
wait_for "SELECT status FROM treating.claims WHERE claim_id = '$cancel'" REJECTED
kill -CONT "$insuring"

check "the undo rejected" "REJECTED NO_POLICY" \
  "$(sql "SELECT status || ' ' || reason_code FROM treating.claims WHERE claim_id = '$cancel'")"
check "the cancel answered once, rejected" "REJECTED 1" \
  "$(sql "SELECT status || ' ' || answers FROM treating.requests WHERE request_id = '$cancel'")"
check "the settled claim free to be undone again" "" \
  "$(sql "SELECT coalesce(undone_by, '') FROM treating.claims WHERE claim_id = '$id'")"
check "the settled claim unchanged" "SETTLED $sid" \
  "$(sql "SELECT status || ' ' || settlement_id FROM treating.claims WHERE claim_id = '$id'")"
finish
