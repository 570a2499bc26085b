#!/usr/bin/env bash
# One person's claims settled at the same time from two treating regions, by two
# instances of the insuring service: the per-year deductible and the remaining pooled
# cap are each spent exactly once, and the accumulators equal the sum of the claims.
#
# P320000000008 (Jiangsu employee) lives in Shanghai and Zhejiang (two LONG_TERM
# registrations); 29900000 of the 30000000 inpatient cap is already paid this year.
source "$(dirname "$0")/lib.sh"
dir=$(mktemp -d)
cleanup() { stop_second; rm -rf "$dir"; }
trap cleanup EXIT

# A second insuring instance in the same consumer group takes half of the partitions.
second_instance insuring "$dir/insuring2.log" log.level=debug
sleep 3 # let the group rebalance

n=20
for region in 310000 330000; do
  for i in $(seq $n); do
    cat <<CLAIM
treating_region = $region
hospital = H${region}00001
person = P320000000008
insuring_region = 320000
visit_type = INPATIENT
visit_date = 2026-11-2$((i % 8 + 1))
line = 1, 003105030010000, Ward bed per day, 5000, 5000, 25000
---
CLAIM
  done >"$dir/$region.claims"
done
mc submit --wait --json --timeout-ms 90000 "$dir/310000.claims" >"$dir/a" &
a=$!
mc submit --wait --json --timeout-ms 90000 "$dir/330000.claims" >"$dir/b"
wait $a
check "every claim settled" $((2 * n)) "$(cat "$dir/a" "$dir/b" | grep -c '"status":"ACCEPTED"')"

sums=$(sql "SELECT sum(deductible_fen) || ' ' || sum(fund_fen) || ' ' || sum(tier2_fen) FROM insuring.settlements WHERE person_id = 'P320000000008' AND status = 'SETTLED'")
read -r ded fund tier2 <<<"$sums"
check "deductible spent exactly once" 50000 "$ded"
check "remaining cap spent exactly once" 100000 "$fund"
check "accumulators equal the sum of the claims" "50000 30000000 $tier2" \
  "$(sql "SELECT ytd_deductible_fen || ' ' || ytd_fund_paid_fen || ' ' || ytd_tier2_paid_fen FROM insuring.accumulators WHERE person_id = 'P320000000008' AND year = 2026 AND cap_group = 'POOL'")"
check "tier 2 took over above the cap" 1 "$([[ $tier2 -gt 0 ]] && echo 1 || echo 0)"
check "the second instance adjudicated claims too" 1 "$([[ $(grep -c 'msg="committed a batch' "$dir/insuring2.log") -gt 0 ]] && echo 1 || echo 0)"
check "the replies agree with the records" "$fund" \
  "$(cat "$dir/a" "$dir/b" | python3 -c 'import json,sys; print(sum(json.loads(l)["fund_fen"] for l in sys.stdin))')"
finish
