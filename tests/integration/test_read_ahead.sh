#!/usr/bin/env bash
# The insuring service's read-ahead: on the fast path a batch locks all its persons and
# reads their policies and accumulators with two statements, and its claims then spend
# from that in memory, one after the other; what they spent is written once per batch.
#
# Three persons new to the database (Jiangsu employees living in Anhui: inpatient
# deductible 500.00 a year, account allowed) get six inpatient claims each, every one
# larger than the deductible. One of them also has a claim settled beforehand, and its
# cancel travels in the same batch as the person's new claims. The claims wait on the
# claims topic while the insuring service, restarted with debug logging, is paused; it
# then takes them together. Each person's deductible must be spent exactly once
# and each account drawn no further than its balance, whatever the order of the claims
# in the batch; the accumulators must equal the settlements; no batch may be split. The
# accounts open with different balances, so that a batch's draws written to the wrong
# persons show.
source "$(dirname "$0")/lib.sh"
dir=$(mktemp -d)
insuring=""
cleanup() {
  [[ -n $insuring ]] && kill -CONT "$insuring" 2>/dev/null
  rm -rf "$dir"
  "$ROOT/deploy/network.sh" restart insuring >/dev/null 2>&1 || true
}
trap cleanup EXIT

persons=(P320000000901 P320000000902 P320000000903)
# fen in each account, each less than the personal share of the person's six claims
declare -A balance=([P320000000901]=30000 [P320000000902]=20000 [P320000000903]=10000)
for p in "${persons[@]}"; do
  sql "INSERT INTO insuring.persons (person_id, region, insured_type, name, account_balance_fen)
       VALUES ('$p', '320000', 'EMPLOYEE', 'Read-ahead test', ${balance[$p]})"
  sql "INSERT INTO insuring.registrations (person_id, treating_region, reg_type, valid_from)
       VALUES ('$p', '340000', 'LONG_TERM', '2024-01-01')"
done

claim() { # claim PERSON ID SEQ [key = value lines...]: one claim in submit format
  local person=$1 id=$2 seq=$3
  shift 3
  printf '%s\n' "request_id = H3400000000120261119${person: -3}$id" \
    "treating_region = 340000" "hospital = H34000000001" "person = $person" \
    "insuring_region = 320000" "visit_type = INPATIENT" "visit_date = 2026-11-19" \
    "line = 1, 003105030010000, Ward bed per day, 3000, 4000, 12000" \
    "line = 2, 002101000010000, CT scan single site, 1000, 6${seq}000, 6${seq}000" "$@"
}

# The first person's claim settled before the batch: its cancel goes in the batch.
first=${persons[0]}
claim "$first" 0000000 0 >"$dir/before.claim"
before=$(mc submit --wait --json --timeout-ms 60000 "$dir/before.claim" | head -1)
check "the earlier claim settled" ACCEPTED "$(json_field "$before" status)"
check "it spent the first person's deductible" 50000 "$(json_field "$before" deductible_fen)"
sid=$(json_field "$before" settlement_id)
claim "$first" 1000000 0 "kind = CANCEL" "settlement_id = $sid" >"$dir/cancel.claim"

# Claim ids are the request ids, and a claim goes to the partition of its id's CRC-32
# (librdkafka's default partitioner). Three of the first person's six claims share the
# cancel's partition and reach it after the cancel, so the batch handles them after it:
# they must read the person again, not spend from what the batch read before the cancel.
topic="$MEDCLEAR_TOPIC_PREFIX.claims.320000"
parts=$(kcat -L -b "$MC_KAFKA_BROKERS" -t "$topic" 2>/dev/null | grep -c 'partition [0-9]*, leader')
ids=$(python3 - "$parts" "H3400000000120261119${first: -3}" <<'PY'
import sys, zlib
parts, stem = int(sys.argv[1]), sys.argv[2]
part = lambda s: zlib.crc32((stem + s).encode()) % parts
same, other = [], []
for k in range(2, 10000):
    s = "%07d" % k
    (same if part(s) == part("1000000") else other).append(s)
print(" ".join(same[:3] + other[:3]))
PY
)
read -r -a first_ids <<<"$ids"
check "six claim ids for the first person" 6 "${#first_ids[@]}"
for p in "${persons[@]}"; do
  for seq in 1 2 3 4 5 6; do
    id="000000$seq"
    [[ $p == "$first" ]] && id=${first_ids[$((seq - 1))]}
    claim "$p" "$id" "$seq"
    echo ---
  done
done >"$dir/batch.claims"
n=$((${#persons[@]} * 6 + 1))

# The insuring service again, logging at debug level, paused (SIGSTOP) while the claims
# are routed to it: for less than the claim timeout and its consumer session, so nothing
# times out or rebalances. The cancel is routed first.
MEDCLEAR_LOG_LEVEL=debug "$ROOT/deploy/network.sh" restart insuring >/dev/null
insuring=$(cat "$MC_RUN_DIR/insuring.pid")
routed() { sql "SELECT count(*) FROM clearing.claims WHERE person_id IN ('${persons[0]}', '${persons[1]}', '${persons[2]}') AND status = 'ROUTED'"; }
kill -STOP "$insuring"
mc submit --wait --json --timeout-ms 60000 "$dir/cancel.claim" >"$dir/replies.cancel" &
cancelled=$!
for _ in $(seq 100); do
  [[ $(routed) -ge 1 ]] && break
  sleep 0.05
done
mc submit --wait --json --timeout-ms 60000 "$dir/batch.claims" >"$dir/replies" &
submitter=$!
for _ in $(seq 100); do
  [[ $(routed) -ge $n ]] && break
  sleep 0.05
done
check "all claims wait on the claims topic" "$n" "$(routed)"
kill -CONT "$insuring"
wait "$submitter" "$cancelled" || true
cat "$dir/replies.cancel" >>"$dir/replies"
check "every claim answered" "$n" "$(grep -c '"status"' "$dir/replies" || true)"
check "every claim accepted" "$n" "$(grep -c '"status":"ACCEPTED"' "$dir/replies" || true)"
cp "$MC_RUN_DIR/insuring.log" "$dir/insuring.log"

# A batch read ahead more claims than persons: claims of one person shared its lock and
# spent one after the other from memory.
check "claims of one person were read ahead together" 1 "$(awk '/read ahead/ {
    for (i = 1; i <= NF; i++) if ($i == "ahead") { c = $(i + 1); p = $(i + 4) }
    if (c > p) ok = 1 } END { print ok + 0 }' "$dir/insuring.log")"
# The service's own count: a batch split by a handler's failure or by a write deferred to
# the batch's end (the log names only the first).
check "no batch was split" 0 "$(batches insuring split)"

for p in "${persons[@]:1}"; do
  check "$p: deductible spent exactly once" 50000 \
    "$(sql "SELECT sum(deductible_fen) FROM insuring.settlements WHERE person_id = '$p' AND status = 'SETTLED'")"
  check "$p: account drawn to its balance, never below" "${balance[$p]} 0" \
    "$(sql "SELECT sum(account_fen) || ' ' || (SELECT account_balance_fen FROM insuring.persons WHERE person_id = '$p') FROM insuring.settlements WHERE person_id = '$p' AND status = 'SETTLED'")"
done
check "$first: the earlier settlement cancelled" CANCELLED \
  "$(sql "SELECT status FROM insuring.settlements WHERE settlement_id = '$sid'")"
# The first person's claims in the order the service answered them (its outbox): each
# SETTLE spends what is left of the deductible (every claim is larger than it), and the
# cancel gives back what the earlier claim spent, to the claims answered after it.
order=$(sql "SELECT string_agg(s.kind || ':' || s.deductible_fen, ' ' ORDER BY o.id)
  FROM insuring.outbox o JOIN insuring.settlements s ON s.claim_id = o.msg_key
  WHERE s.person_id = '$first' AND s.settlement_id <> '$sid' AND o.reason IS NULL
  AND o.resent_of IS NULL AND o.topic = '$MEDCLEAR_TOPIC_PREFIX.results'")
check "$first: each claim spent what the ones answered before it left ($order)" ok \
  "$(awk '{ left = 0; for (i = 1; i <= NF; i++) { split($i, f, ":")
      if (f[1] == "SETTLE" && f[2] != left) { print "claim " i " spent " f[2] " of " left; exit }
      left -= f[2] } print "ok" }' <<<"$order")"
check "$first: six claims and the cancel answered" 7 "$(wc -w <<<"$order")"
check "$first: at least three claims answered after the cancel" 1 \
  "$(awk '{ for (i = 1; i <= NF; i++) if ($i ~ /^CANCEL/) { print (NF - i >= 3); exit } }' <<<"$order")"
for p in "${persons[@]}"; do
  check "$p: accumulators equal its settlements" \
    "$(sql "SELECT coalesce(sum(deductible_fen), 0) || ' ' || coalesce(sum(fund_fen), 0) || ' ' || coalesce(sum(tier2_fen), 0) FROM insuring.settlements WHERE person_id = '$p' AND status IN ('SETTLED', 'CANCELLED')")" \
    "$(sql "SELECT ytd_deductible_fen || ' ' || ytd_fund_paid_fen || ' ' || ytd_tier2_paid_fen FROM insuring.accumulators WHERE person_id = '$p' AND year = 2026 AND cap_group = 'POOL'")"
  check "$p: balance equals the opening less its payments" \
    "$(sql "SELECT ${balance[$p]} - coalesce(sum(account_fen), 0) FROM insuring.settlements WHERE person_id = '$p' AND status IN ('SETTLED', 'CANCELLED')")" \
    "$(sql "SELECT account_balance_fen FROM insuring.persons WHERE person_id = '$p'")"
done
in_list="'${persons[0]}', '${persons[1]}', '${persons[2]}'"
check "the centre and the treating region book what the insuring region settled" 0 \
  "$(sql "SELECT count(*) FROM insuring.settlements s
    LEFT JOIN clearing.claims c ON c.claim_id = s.claim_id
    LEFT JOIN treating.claims t ON t.claim_id = s.claim_id
    WHERE s.person_id IN ($in_list) AND s.status IN ('SETTLED', 'CANCELLED')
    AND ((c.fund_fen, c.tier2_fen, c.settlement_id, t.fund_fen, t.tier2_fen, t.settlement_id)
      IS DISTINCT FROM (s.fund_fen, s.tier2_fen, s.settlement_id, s.fund_fen, s.tier2_fen, s.settlement_id))")"
finish
