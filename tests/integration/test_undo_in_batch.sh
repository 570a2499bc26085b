#!/usr/bin/env bash
# Resends and undos that meet what the treating service's batch still holds. The batch
# writes its new requests, and the messages it sends, in one statement each at its end;
# a resend, CANCEL or REVERSE writes them first only when it names one of them (or a
# result the batch holds), and otherwise leaves them held. One request is settled first.
# Then, with the treating service stopped, six requests wait on one partition of an
# intake topic (ids chosen by CRC-32, librdkafka's partitioner), so that the restarted
# service takes them in one batch and in this order:
#   1. a new request (its claim to the centre held);
#   2. the first request again, same bytes: its earlier reply read back from the outbox
#      and sent again, while the claim of 1 is still to be written;
#   3. a reversal of 1: the request is still in the batch, so the reversal finds it in
#      flight (not "never received"), answers it REVERSED and undoes its result when
#      that comes;
#   4. a new request, then 5. a cancel of the settlement made first: nothing of the batch
#      is involved; the cancel undoes it;
#   6. a reversal of 4: found in flight too, though a cancel came between.
# No batch is split, and nothing is dead-lettered.
source "$(dirname "$0")/lib.sh"
dir=$(mktemp -d)
trap 'rm -rf "$dir"; "$ROOT/deploy/network.sh" restart treating >/dev/null 2>&1 || true' EXIT

topic="$MEDCLEAR_TOPIC_PREFIX.intake.330000"
read -r -a ids <<<"$(ids_on_one_partition "$topic" "H33000000001$(date +%Y%m%d%H%M%S)" 6)"
check "six request ids on one partition" 6 "${#ids[@]}"
first=${ids[0]} new=${ids[1]} rev=${ids[2]} other=${ids[3]} cancel=${ids[4]} rev2=${ids[5]}

outpatient_request "$first" "$dir/first.claim"
out=$(mc submit --wait --json --timeout-ms 60000 "$dir/first.claim" | head -1)
check "settled before" ACCEPTED "$(json_field "$out" status)"
sid=$(json_field "$out" settlement_id)

outpatient_request "$new" "$dir/new.claim"
outpatient_request "$rev" "$dir/rev.claim" "kind = REVERSE" "original_request_id = $new"
outpatient_request "$other" "$dir/other.claim"
outpatient_request "$cancel" "$dir/cancel.claim" "kind = CANCEL" "settlement_id = $sid"
outpatient_request "$rev2" "$dir/rev2.claim" "kind = REVERSE" "original_request_id = $other"
dead_before=$(sql "SELECT count(*) FROM treating.outbox WHERE reason IS NOT NULL")
"$ROOT/deploy/network.sh" kill treating >/dev/null
for f in new first rev other cancel rev2; do
  mc submit "$dir/$f.claim" >/dev/null
done
check "the six wait on one partition, after the first request's own" 7 "$(kcat -C -b "$MC_KAFKA_BROKERS" -t "$topic" -o beginning -e -q -f '%k\n' |
  grep -cxF -e "$first" -e "$new" -e "$rev" -e "$other" -e "$cancel" -e "$rev2")"
"$ROOT/deploy/network.sh" restart treating >/dev/null
wait_for "SELECT count(*) FROM treating.requests WHERE request_id IN ('$new', '$rev', '$other', '$cancel', '$rev2') AND status <> 'PENDING'" 5
# the two reversed claims' results come back from the insuring region and are undone
wait_for "SELECT count(*) FROM treating.claims WHERE undoes IN ('$new', '$other')" 2
wait_for "SELECT status FROM treating.claims WHERE undoes = '$first'" SETTLED

has() { # has REQUEST_ID TEXT: the agency's replies for that request id carrying TEXT
  sql "SELECT count(*) FROM treating.outbox WHERE msg_key = '$1'
    AND topic = '$MEDCLEAR_TOPIC_PREFIX.reply.330000' AND position(convert_to('$2', 'UTF8') IN payload) > 0"
}
replies() { sql "SELECT count(*) || ' ' || count(DISTINCT payload) FROM treating.outbox WHERE msg_key = '$1' AND topic = '$MEDCLEAR_TOPIC_PREFIX.reply.330000'"; }
check "2: the resend got the earlier reply again" "2 1" "$(replies "$first")"
check "1: its claim to the centre is in the outbox, written with the batch's others" 1 \
  "$(sql "SELECT count(*) FROM treating.outbox WHERE msg_key = '$new' AND topic = '$MEDCLEAR_TOPIC_PREFIX.claims'")"
for pair in "$new:$rev:1-3" "$other:$rev2:4-6"; do
  IFS=: read -r orig undo which <<<"$pair"
  check "$which: the original answered REVERSED while in flight" "REVERSED 1" \
    "$(sql "SELECT status || ' ' || answers FROM treating.requests WHERE request_id = '$orig'")"
  check "$which: its reply says so" 1 "$(has "$orig" 'reversed by request while in flight')"
  check "$which: the reversal accepted as in flight" "ACCEPTED original request in flight: its result will be undone" \
    "$(sql "SELECT status || ' ' || reason_text FROM treating.requests WHERE request_id = '$undo'")"
  check "$which: the original's claim went out, settled and was undone" "SETTLED 1" \
    "$(sql "SELECT status || ' ' || (SELECT count(*) FROM treating.claims u WHERE u.undoes = c.claim_id AND u.status = 'SETTLED')
      FROM treating.claims c WHERE c.claim_id = '$orig'")"
done
check "5: the cancel undid the first settlement" "ACCEPTED $cancel" \
  "$(sql "SELECT r.status || ' ' || c.undone_by FROM treating.requests r, treating.claims c
    WHERE r.request_id = '$cancel' AND c.claim_id = '$first'")"
check "the insuring region holds the three settlements undone" 3 \
  "$(sql "SELECT count(*) FROM insuring.settlements WHERE status = 'CANCELLED' AND claim_id IN ('$first', '$new', '$other')")"
check "nothing dead-lettered" "$dead_before" "$(sql "SELECT count(*) FROM treating.outbox WHERE reason IS NOT NULL")"
check "no batch was split" 0 "$(batches treating split)"
finish
