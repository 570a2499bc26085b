#!/usr/bin/env bash
# Two instances of the clearing centre in one consumer group, each with part of the
# partitions of the claims and results topics: both route claims and book results into
# the same region pairs at the same time. Every claim is answered, both instances take
# part, each pair's usage moves by exactly what the claims booked meanwhile add up to
# (a pair's row is locked and added to, never written back from a stale read), and the
# three ledgers agree on each claim.
source "$(dirname "$0")/lib.sh"
dir=$(mktemp -d)
cleanup() { stop_second; rm -rf "$dir"; }
trap cleanup EXIT

parts() { kcat -L -b "$MC_KAFKA_BROKERS" -t "$MEDCLEAR_TOPIC_PREFIX.$1" 2>/dev/null | grep -c 'partition [0-9]*, leader'; }
check "the claims and results topics have two partitions or more" 1 \
  "$([[ $(parts claims) -ge 2 && $(parts results) -ge 2 ]] && echo 1 || echo 0)"

second_instance clearing "$dir/clearing2.log" log.level=debug
sleep 5 # let the group rebalance

# each pair's usage, "insuring>treating used_fen" a line
usage() { sql "SELECT insuring_party || '>' || treating_party || ' ' || used_fen FROM clearing.pairs ORDER BY 1"; }
usage >"$dir/before"
from=$(sql "SELECT now()")

# Claims of persons with a long-term registration, over every pair of the network, sent
# by two submitters at once.
long_term_persons "$dir/persons"
n=40
inpatient_claims "$n" 11 "$dir/persons" "$dir/a.claims"
inpatient_claims "$n" 12 "$dir/persons" "$dir/b.claims"
mc submit --wait --json --timeout-ms 90000 "$dir/a.claims" >"$dir/a" &
a=$!
mc submit --wait --json --timeout-ms 90000 "$dir/b.claims" >"$dir/b"
wait $a || true
check "every claim settled" $((2 * n)) "$(cat "$dir/a" "$dir/b" | grep -c '"status":"ACCEPTED"' || true)"
# The second instance's batches read ahead the claims of the results they book; the first
# has the other partitions of the results topic.
check "the second instance booked results" 1 "$(awk '/read ahead [0-9]+ claims to route and/ {
    for (i = 1; i <= NF; i++) if ($i == "and" && $(i + 1) > 0) k++ } END { print (k > 0) }' "$dir/clearing2.log")"

usage >"$dir/after"
expected=$(sql "SELECT p.insuring_party || '>' || p.treating_party || ' ' ||
    coalesce(sum(c.fund_fen + c.tier2_fen), 0)
  FROM clearing.pairs p LEFT JOIN clearing.claims c ON c.insuring_party = p.insuring_party
   AND c.treating_party = p.treating_party AND c.booked_at >= '$from' AND c.window_id IS NOT NULL
 GROUP BY p.insuring_party, p.treating_party ORDER BY 1")
# "pair before after", a pair the centre first met in this test counting 0 before
join -a 2 -e 0 -o 0,1.2,2.2 "$dir/before" "$dir/after" >"$dir/moved"
check "each pair's usage moved by what its claims booked meanwhile add up to" "$expected" \
  "$(awk '{print $1, $3 - $2}' "$dir/moved")"
check "the usage of several pairs moved" 1 "$(awk '$3 > $2 {k++} END {print (k > 1)}' "$dir/moved")"

# The three ledgers agree claim by claim on what the funds owe for each of these claims
# (nothing posted for a claim the funds pay nothing of), as `medclear verify` checks over
# a whole database, which earlier tests here leave with refused writes on purpose.
check "the three ledgers posted each claim's fund amount (claims, differing, some paid)" \
  "$((2 * n)) 0 true" "$(sql "
  SELECT count(*) || ' ' || count(*) FILTER (WHERE c.fund_fen + c.tier2_fen <> coalesce(cl.fen, 0)
           OR coalesce(cl.fen, 0) <> coalesce(tl.fen, 0) OR coalesce(cl.fen, 0) <> coalesce(il.fen, 0))
         || ' ' || bool_or(cl.fen > 0)
    FROM clearing.claims c
    LEFT JOIN ($(ledger_posted clearing receivable)) cl USING (claim_id)
    LEFT JOIN ($(ledger_posted treating due_from)) tl USING (claim_id)
    LEFT JOIN ($(ledger_posted insuring fund_expense)) il USING (claim_id)
   WHERE c.booked_at >= '$from' AND c.kind = 'SETTLE'")"
finish
