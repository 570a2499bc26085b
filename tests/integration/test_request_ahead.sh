#!/usr/bin/env bash
# The treating service's look-ahead of requests: on the fast path one statement reads,
# for a whole batch, which of its request ids were seen before (with their bytes' hash),
# and the hospitals, insuring regions and catalog items its requests name; a request
# whose id the batch touched since (a reversal of it, or a second request of that id)
# is looked up on its own. Two requests are settled first. Then, with the treating
# service stopped, seven requests wait on one partition of an intake topic (their ids
# chosen by CRC-32, librdkafka's partitioner), so that the restarted service, with debug
# logging, takes them in one batch and in this order:
#   1. the first request again, same bytes in a new message: its earlier reply again;
#   2. the second request id with other lines: a modified-duplicate rejection;
#   3. a reversal of a request not received yet, then 4. that request: refused as
#      reversed before it arrived (the batch read it as never seen);
#   5. a hospital of another region and 6. an insuring region outside the network:
#      refused, each naming what is wrong;
#   7. a new request: settled by the catalog.
# No batch is split, and the log shows the seven read ahead together.
source "$(dirname "$0")/lib.sh"
dir=$(mktemp -d)
trap 'rm -rf "$dir"; "$ROOT/deploy/network.sh" restart treating >/dev/null 2>&1 || true' EXIT

topic="$MEDCLEAR_TOPIC_PREFIX.intake.330000"
read -r -a ids <<<"$(ids_on_one_partition "$topic" "H33000000001$(date +%Y%m%d%H%M%S)" 7)"
check "seven request ids on one partition" 7 "${#ids[@]}"
a=${ids[0]} b=${ids[1]} rev=${ids[2]} late=${ids[3]} other=${ids[4]} outside=${ids[5]} new=${ids[6]}

claim() { # claim REQUEST_ID FILE [HOSPITAL] [INSURING] [AMOUNT] [FIELD]
  printf '%s\n' "request_id = $1" "treating_region = 330000" "hospital = ${3:-H33000000001}" \
    "person = P340000000003" "insuring_region = ${4:-340000}" "visit_type = OUTPATIENT" \
    "visit_date = 2026-11-20" "line = 1, 002101000010000, CT scan single site, 1000, ${5:-12000}" \
    ${6:+"$6"} >"$2"
}
claim "$a" "$dir/a.claim"
claim "$b" "$dir/b.claim"
for r in a b; do
  out=$(mc submit --wait --json --timeout-ms 60000 "$dir/$r.claim" | head -1)
  check "$r: settled before" ACCEPTED "$(json_field "$out" status)"
done

claim "$b" "$dir/b2.claim" "" "" 13000
claim "$rev" "$dir/rev.claim" "" "" "" "kind = REVERSE"
echo "original_request_id = $late" >>"$dir/rev.claim"
claim "$late" "$dir/late.claim"
claim "$other" "$dir/other.claim" H31000000001
claim "$outside" "$dir/outside.claim" "" 990000
claim "$new" "$dir/new.claim"
"$ROOT/deploy/network.sh" kill treating >/dev/null
for f in a b2 rev late other outside new; do
  mc submit "$dir/$f.claim" >/dev/null
done
check "the seven wait on one partition" 7 "$(kcat -C -b "$MC_KAFKA_BROKERS" -t "$topic" -o beginning -e -q -f '%k\n' |
  grep -cxF -e "$a" -e "$b" -e "$rev" -e "$late" -e "$other" -e "$outside" -e "$new" | awk '{print $1 - 2}')"
MEDCLEAR_LOG_LEVEL=debug "$ROOT/deploy/network.sh" restart treating >/dev/null
wait_for "SELECT count(*) FROM treating.requests WHERE request_id IN ('$rev', '$late', '$other', '$outside', '$new') AND status <> 'PENDING'" 5
wait_for "SELECT status FROM treating.claims WHERE claim_id = '$new'" SETTLED

replies() { sql "SELECT count(*) || ' ' || count(DISTINCT payload) FROM treating.outbox WHERE msg_key = '$1' AND topic = '$MEDCLEAR_TOPIC_PREFIX.reply.330000'"; }
has() { # has REQUEST_ID TEXT: the agency's replies for that request id carrying TEXT
  sql "SELECT count(*) FROM treating.outbox WHERE msg_key = '$1'
    AND topic = '$MEDCLEAR_TOPIC_PREFIX.reply.330000' AND position(convert_to('$2', 'UTF8') IN payload) > 0"
}
check "1: the resent request's earlier reply, twice" "2 1" "$(replies "$a")"
check "1: still one claim" 1 "$(sql "SELECT count(*) FROM treating.claims WHERE request_id = '$a'")"
check "2: the reused id answered again, differently" "2 2" "$(replies "$b")"
check "2: the recorded request stays the first" "1 12000" \
  "$(sql "SELECT answers || ' ' || (SELECT total_fen FROM treating.claims WHERE claim_id = '$b') FROM treating.requests WHERE request_id = '$b'")"
check "2: the second answered as a modified duplicate" 1 \
  "$(sql "SELECT count(*) FROM treating.outbox WHERE msg_key = '$b' AND topic = '$MEDCLEAR_TOPIC_PREFIX.reply.330000'
    AND cause_id <> (SELECT message_id FROM treating.requests WHERE request_id = '$b')
    AND position(convert_to('DUPLICATE_MODIFIED', 'UTF8') IN payload) > 0")"
check "3: the reversal answered" ACCEPTED "$(sql "SELECT status FROM treating.requests WHERE request_id = '$rev'")"
check "4: the late original refused as reversed" 1 "$(has "$late" REVERSED)"
check "4: the late original not settled" "REVERSED 0" \
  "$(sql "SELECT status || ' ' || (SELECT count(*) FROM treating.claims WHERE request_id = '$late') FROM treating.requests WHERE request_id = '$late'")"
check "5: a hospital of another region refused" "REJECTED UNKNOWN_HOSPITAL hospital \"H31000000001\" is not known in region 330000" \
  "$(sql "SELECT status || ' ' || reason_code || ' ' || reason_text FROM treating.requests WHERE request_id = '$other'")"
check "6: an insuring region outside the network refused" "REJECTED UNKNOWN_REGION insuring region 990000 is not served by this network" \
  "$(sql "SELECT status || ' ' || reason_code || ' ' || reason_text FROM treating.requests WHERE request_id = '$outside'")"
check "7: the new request settled" "SETTLED 12000" "$(sql "SELECT status || ' ' || total_fen FROM treating.claims WHERE claim_id = '$new'")"
check "7: its line split by the class in force in region 330000" \
  "$(sql "SELECT class FROM treating.catalog_items WHERE region = '330000' AND item_code = '002101000010000'
    AND valid_from <= '2026-11-20' AND (valid_to IS NULL OR valid_to >= '2026-11-20') ORDER BY valid_from DESC LIMIT 1")" \
  "$(sql "SELECT (lines[1]).item_class FROM treating.claim_line_sets WHERE claim_id = '$new'")"
log="$MC_RUN_DIR/treating.log"
check "the seven were read ahead in one batch" 1 "$(grep -c 'read ahead 7 requests' "$log" | awk '{print ($1 >= 1)}')"
check "no batch was split" 0 "$(batches treating split)"
finish
