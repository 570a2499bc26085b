#!/usr/bin/env bash
# The clearing centre's read-ahead: on the fast path a batch records every claim it routes
# with one statement, and reads and locks the claims its results are for with one more;
# the handlers then decide from what it found. Messages built by hand (signed as their
# source region) wait on the centre's topics while it is paused (SIGSTOP, for less than
# its consumer session), so that they meet in one batch:
# 1. claim A, another message with A's claim id and another total, claim B, and a result
#    for a claim id never routed: A is routed once, as the first message has it; the
#    second is dead-lettered as routed before; B is routed; the result is dead-lettered.
# 2. With the insuring service paused too, so that B waits unanswered, two results for B
#    in one batch: the first is recorded and forwarded, the second is dead-lettered
#    because B has a result by then.
source "$(dirname "$0")/lib.sh"
dir=$(mktemp -d)
centre=""
insuring=$(cat "$MC_RUN_DIR/insuring.pid")
cleanup() {
  kill -CONT "$insuring" 2>/dev/null
  [[ -n $centre ]] && kill -CONT "$centre" 2>/dev/null
  rm -rf "$dir"
  "$ROOT/deploy/network.sh" restart clearing >/dev/null 2>&1 || true
}
trap cleanup EXIT

# The centre is paused a moment before messages are produced, so that a fetch it had
# waiting at the broker is answered empty and the next one, after it resumes, finds
# them all.
pause_centre() { kill -STOP "$centre"; sleep 0.5; }
# produce TOPIC KEY FILE...: one message per file, sent together
produce() {
  local topic=$1 key=$2
  shift 2
  kcat -P -b "$MC_KAFKA_BROKERS" -t "$MEDCLEAR_TOPIC_PREFIX.$topic" -k "$key" "$@"
}
claim() { # claim MESSAGE_ID CLAIM_ID TOTAL: a claim of treating region 310000
  echo "message_id: \"$1\" created_at_ms: $(date +%s%3N) schema_version: 1 source_region: \"310000\"
    claim { claim_id: \"$2\" request_id: \"$2\" kind: SETTLE treating_region: \"310000\"
    insuring_region: \"330000\" hospital_code: \"H31000000003\" hospital_level: 3
    person_id: \"P330000000001\" visit_type: OUTPATIENT visit_date: 20261121
    totals { total_fen: $3 in_scope_fen: $3 } }" | encode >"$dir/$1"
}
result() { rejection "$dir/$1" "$1" "$2"; } # result MESSAGE_ID CLAIM_ID
# dead_letter MESSAGE_ID: the reason and detail the centre dead-lettered it with, if any
dead_letter() { sql "SELECT string_agg(reason || ': ' || detail, '; ') FROM clearing.outbox WHERE cause_id = '$1' AND reason IS NOT NULL"; }

MEDCLEAR_LOG_LEVEL=debug "$ROOT/deploy/network.sh" restart clearing >/dev/null
centre=$(cat "$MC_RUN_DIR/clearing.pid")
tag=$(date +%H%M%S%N | cut -c1-12)
a="CA$tag" b="CB$tag" ghost="CG$tag"

claim "a1-$tag" "$a" 2500
claim "a2-$tag" "$a" 9900
claim "b-$tag" "$b" 3000
result "g-$tag" "$ghost"
kill -STOP "$insuring"
pause_centre
produce claims "$a" "$dir/a1-$tag" "$dir/a2-$tag"
produce claims "$b" "$dir/b-$tag"
produce results "$ghost" "$dir/g-$tag"
kill -CONT "$centre"
wait_for "SELECT count(*) FROM clearing.outbox WHERE cause_id IN ('a1-$tag', 'a2-$tag', 'b-$tag', 'g-$tag')" 4
check "A routed once, as its first message has it" "1 2500 ROUTED" \
  "$(sql "SELECT count(*) || ' ' || min(total_fen) || ' ' || min(status) FROM clearing.claims WHERE claim_id = '$a'")"
check "A's first message forwarded" 1 \
  "$(sql "SELECT count(*) FROM clearing.outbox WHERE cause_id = 'a1-$tag' AND reason IS NULL AND topic = '$MEDCLEAR_TOPIC_PREFIX.claims.330000'")"
check "A's second message dead-lettered" "DUPLICATE_MODIFIED: claim id \"$a\" was routed before" "$(dead_letter "a2-$tag")"
check "B routed" ROUTED "$(sql "SELECT status FROM clearing.claims WHERE claim_id = '$b'")"
check "a result for a claim never routed dead-lettered" \
  "UNKNOWN_SETTLEMENT: result for claim \"$ghost\" that was never routed" "$(dead_letter "g-$tag")"

result "r1-$tag" "$b"
result "r2-$tag" "$b"
pause_centre
produce results "$b" "$dir/r1-$tag" "$dir/r2-$tag"
kill -CONT "$centre"
wait_for "SELECT count(*) FROM clearing.outbox WHERE cause_id IN ('r1-$tag', 'r2-$tag')" 2
check "B's first result recorded" "REJECTED NO_POLICY" \
  "$(sql "SELECT status || ' ' || reason_code FROM clearing.claims WHERE claim_id = '$b'")"
check "B's first result forwarded" 1 \
  "$(sql "SELECT count(*) FROM clearing.outbox WHERE cause_id = 'r1-$tag' AND reason IS NULL AND topic = '$MEDCLEAR_TOPIC_PREFIX.results.310000'")"
check "B's second result dead-lettered" "DUPLICATE_MODIFIED: claim \"$b\" already has a result (REJECTED)" \
  "$(dead_letter "r2-$tag")"
kill -CONT "$insuring"

log="$MC_RUN_DIR/clearing.log"
# A's two messages share a partition and were sent together, so they came in one batch
# (B may have come apart).
check "A's two messages were read ahead together" 1 \
  "$(awk '/read ahead [0-9]+ claims to route/ { for (i = 1; i <= NF; i++) if ($i == "ahead" && $(i + 1) >= 2) ok = 1 }
    END { print ok + 0 }' "$log")"
check "B's claim was read ahead once for both its results" 1 \
  "$(grep -c "read ahead 0 claims to route and 1 claims of results" "$log" | awk '{print ($1 >= 1)}')"
check "no batch was split" 0 "$(batches clearing split)"
finish
