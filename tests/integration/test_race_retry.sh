#!/usr/bin/env bash
# A message that lost a race with another transaction (mc_db_lost_race(): a duplicate key,
# a serialization failure, a deadlock) is applied again, at most three times, and is then
# dead-lettered like any other failure (apply_careful() in services/lib/mc_service.c).
# A trigger on the insuring region's settlements raises the server's own error codes for
# one claim, counting its attempts in a sequence (which a rollback does not undo):
#
# - 40P01 (deadlock_detected) on the first four attempts: the batch's fast path fails,
#   the careful path loses three races and the fourth try settles the claim, once, with
#   its ledger entries and accumulators counted once;
# - 40001 (serialization_failure) on every attempt: the fast path and 1 + 3 careful
#   attempts, no more, and the claim is dead-lettered INTERNAL and answered TIMED_OUT.
#
# The claims beside it settle either way, and the service is not restarted.
source "$(dirname "$0")/lib.sh"
dir=$(mktemp -d)
drop_trigger() {
  sql "DROP TRIGGER IF EXISTS test_lose_race ON insuring.settlements" >/dev/null
  sql "DROP FUNCTION IF EXISTS public.test_lose_race()" >/dev/null
  sql "DROP SEQUENCE IF EXISTS public.test_race_tries" >/dev/null
}
trap 'drop_trigger; rm -rf "$dir"' EXIT
pids_before=$(cat "$MC_RUN_DIR"/*.pid | sort | tr '\n' ' ')
# A person of this run alone, so that the year's deductible and caps are as the test
# expects whatever ran before it: the raced claim is paid by the fund and posted.
person="P3309$(date +%d%H%M%S)"
sql "INSERT INTO insuring.persons (person_id, region, insured_type, name, account_balance_fen)
     VALUES ('$person', '330000', 'EMPLOYEE', 'Race retry test', 0)" >/dev/null
sql "INSERT INTO insuring.registrations (person_id, treating_region, reg_type, valid_from)
     VALUES ('$person', '310000', 'LONG_TERM', '2024-01-01')" >/dev/null

# lose_race CODE TIMES TOTAL_FEN: the settlement of the claim of TOTAL_FEN fails with
# SQLSTATE CODE on its first TIMES attempts
lose_race() {
  drop_trigger
  sql "CREATE SEQUENCE public.test_race_tries" >/dev/null
  sql "GRANT USAGE ON SEQUENCE public.test_race_tries TO PUBLIC" >/dev/null
  sql "CREATE FUNCTION public.test_lose_race() RETURNS trigger LANGUAGE plpgsql AS \$\$
BEGIN
  IF nextval('public.test_race_tries') <= $2 THEN
    RAISE EXCEPTION 'test: claim % lost a race', NEW.claim_id USING ERRCODE = '$1';
  END IF;
  RETURN NEW;
END \$\$" >/dev/null
  sql "CREATE TRIGGER test_lose_race BEFORE INSERT ON insuring.settlements FOR EACH ROW
     WHEN (NEW.total_fen = $3) EXECUTE FUNCTION public.test_lose_race()" >/dev/null
}
tries() { sql "SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM public.test_race_tries"; }
dead_letters() { mc dlq list --json | grep -c '"reason":' || true; }
retries_logged() { grep -c 'lost a race with a concurrent transaction' "$MC_RUN_DIR/insuring.log" || true; }
# the person's accumulated deductible, fund and tier-2 payments of 2026
accumulated() {
  sql "SELECT coalesce(sum(ytd_deductible_fen), 0) || '/' || coalesce(sum(ytd_fund_paid_fen), 0)
              || '/' || coalesce(sum(ytd_tier2_paid_fen), 0)
         FROM insuring.accumulators WHERE person_id = '$person' AND year = 2026"
}

base="H3100000000320261121$(date +%H%M%S)"
claim() { # claim NAME PRICE_FEN: request id $base followed by NAME
  outpatient_claim "$dir/$1.claim" H31000000003 330000 "$person" \
    "1, 001201000010000, Consultation, 1000, $2, $2" "request_id = $base$1"
}
field() { json_field "$(reply_of "$dir/out" "$base$1")" "$2"; }

# --- three lost races, then settled ----------------------------------------------------
lose_race 40P01 4 432300
claim B 120000
claim R 432300
claim A 56700
acc_before=$(accumulated)
logged_before=$(retries_logged)
dlq_before=$(dead_letters)
mc submit --wait --json --timeout-ms 60000 "$dir/B.claim" "$dir/R.claim" "$dir/A.claim" >"$dir/out"
check "three replies" 3 "$(grep -c '"request_id"' "$dir/out")"
for c in B R A; do
  check "claim $c settled" ACCEPTED "$(field $c status)"
done
check "the raced claim was tried five times: the fast path, three lost races, the last" 5 "$(tries)"
check "each lost race logged" 3 "$(($(retries_logged) - logged_before))"
check "the raced claim paid by the fund" 1 \
  "$(sql "SELECT count(*) FROM insuring.settlements WHERE claim_id = '${base}R' AND fund_fen > 0")"
check "the raced claim has one settlement" 1 \
  "$(sql "SELECT count(*) FROM insuring.settlements WHERE claim_id = '${base}R'")"
check "the raced claim posted once in each ledger" "1/1/1" \
  "$(sql "SELECT (SELECT count(*) FROM insuring.journal WHERE claim_id = '${base}R') || '/' ||
                 (SELECT count(*) FROM clearing.journal WHERE claim_id = '${base}R') || '/' ||
                 (SELECT count(*) FROM treating.journal WHERE claim_id = '${base}R')")"
check "the person's accumulators grew by the three settlements, once each" \
  "$(sql "SELECT (split_part('$acc_before', '/', 1)::bigint + sum(deductible_fen)) || '/' ||
                 (split_part('$acc_before', '/', 2)::bigint + sum(fund_fen)) || '/' ||
                 (split_part('$acc_before', '/', 3)::bigint + sum(tier2_fen))
            FROM insuring.settlements WHERE claim_id IN ('${base}A', '${base}B', '${base}R')")" \
  "$(accumulated)"
check "nothing dead-lettered" "$dlq_before" "$(dead_letters)"

# --- a race lost every time: bounded, then dead-lettered -------------------------------
lose_race 40001 1000 432400
claim C 98700
claim S 432400
claim D 65400
logged_before=$(retries_logged)
mc submit --wait --json --timeout-ms 60000 "$dir/C.claim" "$dir/S.claim" "$dir/D.claim" >"$dir/out"
check "three replies" 3 "$(grep -c '"request_id"' "$dir/out")"
check "claim before the raced one settled" ACCEPTED "$(field C status)"
check "claim after the raced one settled" ACCEPTED "$(field D status)"
check "the claim that always loses answered TIMED_OUT" TIMED_OUT "$(field S reason_code)"
check "tried five times, no more: the fast path, the first try and three retries" 5 "$(tries)"
check "three retries logged" 3 "$(($(retries_logged) - logged_before))"
check "it has no settlement" 0 \
  "$(sql "SELECT count(*) FROM insuring.settlements WHERE claim_id = '${base}S'")"
check "it posted nothing" 0 "$(sql "SELECT count(*) FROM insuring.journal WHERE claim_id = '${base}S'")"
mc dlq list --json >"$dir/dlq"
check "it was dead-lettered INTERNAL with the database's error" 1 \
  "$(grep -F '"reason":"INTERNAL"' "$dir/dlq" | grep -c "test: claim ${base}S lost a race")"
check "no service restarted" "$pids_before" "$(cat "$MC_RUN_DIR"/*.pid | sort | tr '\n' ' ')"
finish
