#!/usr/bin/env bash
# A write that a batch sent without waiting (mc_db_defer, pipelined) fails in the
# database: a trigger refuses the insuring region's settlement of one claim (total 43.21
# yuan). Its failure is found only later in the batch; the batch is applied again message
# by message, so that claim alone is dead-lettered INTERNAL with the database's error and
# answered TIMED_OUT, while the claims around it settle, with their ledger entries (posted
# once per batch, mc_ledger.c) as on the fast path. The service does not take the
# failure for a lost database and is not restarted.
source "$(dirname "$0")/lib.sh"
dir=$(mktemp -d)
drop_trigger() {
  sql "DROP TRIGGER IF EXISTS test_refuse_settlement ON insuring.settlements" >/dev/null
  sql "DROP FUNCTION IF EXISTS public.test_refuse_settlement()" >/dev/null
  sql "DROP TRIGGER IF EXISTS test_refuse_claim ON treating.claims" >/dev/null
  sql "DROP FUNCTION IF EXISTS public.test_refuse_claim()" >/dev/null
}
trap 'drop_trigger; rm -rf "$dir"; "$ROOT/deploy/network.sh" start >/dev/null 2>&1 || true' EXIT
pids_before=$(cat "$MC_RUN_DIR"/*.pid | sort | tr '\n' ' ')
lost_before=$(grep -c 'database lost during a batch' "$MC_RUN_DIR/insuring.log" || true)

sql "CREATE FUNCTION public.test_refuse_settlement() RETURNS trigger LANGUAGE plpgsql AS \$\$
BEGIN RAISE EXCEPTION 'test: settlement of claim % refused', NEW.claim_id; END \$\$" >/dev/null
sql "CREATE TRIGGER test_refuse_settlement BEFORE INSERT ON insuring.settlements FOR EACH ROW
     WHEN (NEW.total_fen = 4321) EXECUTE FUNCTION public.test_refuse_settlement()" >/dev/null

base="H3100000000320261121$(date +%H%M%S)"
claim() { # claim NAME PRICE_FEN: request id $base followed by NAME
  outpatient_claim "$dir/$1.claim" H31000000003 330000 P330000000001 \
    "1, 001201000010000, Consultation, 1000, $2, $2" "request_id = $base$1"
}
claim B 500000
claim R 4321
claim A 234500
mc submit --wait --json --timeout-ms 60000 "$dir/B.claim" "$dir/R.claim" "$dir/A.claim" >"$dir/out"
field() { json_field "$(reply_of "$dir/out" "$base$1")" "$2"; }
check "three replies" 3 "$(grep -c '"request_id"' "$dir/out")"
check "claim before the refused one settled" ACCEPTED "$(field B status)"
check "claim after the refused one settled" ACCEPTED "$(field A status)"
check "refused claim answered TIMED_OUT" TIMED_OUT "$(field R reason_code)"
check "refused claim has no settlement" 0 "$(sql "SELECT count(*) FROM insuring.settlements WHERE total_fen = 4321")"
# what each ledger posted for a claim, against the fund amount its settlement records
ledgers=$(sql "SELECT string_agg(format('%s:%s/%s/%s/%s', right(s.claim_id, 1), s.fund_fen + s.tier2_fen,
    coalesce(il.fen, 0), coalesce(tl.fen, 0), coalesce(cl.fen, 0)), ' ' ORDER BY s.claim_id)
  FROM insuring.settlements s
  LEFT JOIN ($(ledger_posted insuring fund_expense)) il USING (claim_id)
  LEFT JOIN ($(ledger_posted treating due_from)) tl USING (claim_id)
  LEFT JOIN ($(ledger_posted clearing receivable)) cl USING (claim_id)
 WHERE s.claim_id IN ('${base}A', '${base}B')")
check "settled claims posted their fund amounts to the three ledgers" \
  "$(sql "SELECT string_agg(format('%s:%s/%s/%s/%s', right(claim_id, 1), f, f, f, f), ' ' ORDER BY claim_id)
          FROM (SELECT claim_id, fund_fen + tier2_fen AS f FROM insuring.settlements
                 WHERE claim_id IN ('${base}A', '${base}B')) x")" "$ledgers"
check "refused claim posted nothing" 0 \
  "$(sql "SELECT count(*) FROM insuring.journal WHERE claim_id = '${base}R'")"

mc dlq list --json >"$dir/dlq"
check "refused claim dead-lettered INTERNAL with the database's error" 1 \
  "$(grep -F '"reason":"INTERNAL"' "$dir/dlq" | grep -c 'test: settlement of claim')"
lost_after=$(grep -c 'database lost during a batch' "$MC_RUN_DIR/insuring.log" || true)
check "not taken for a lost database" "$lost_before" "$lost_after"
check "no service restarted" "$pids_before" "$(cat "$MC_RUN_DIR"/*.pid | sort | tr '\n' ' ')"

# The treating region writes the requests of a batch, their claims and fee lines in one
# statement at the end of the batch (treating_rows_new(), mc_rows.h). A claim refused there (total
# 43.22 yuan) fails that statement; the batch is applied again message by message, so
# that request alone is dead-lettered and left unrecorded, and the two around it settle.
# The three wait on the intake topic while the service is stopped, to arrive in one batch.
sql "CREATE FUNCTION public.test_refuse_claim() RETURNS trigger LANGUAGE plpgsql AS \$\$
BEGIN RAISE EXCEPTION 'test: claim % refused', NEW.claim_id; END \$\$" >/dev/null
sql "CREATE TRIGGER test_refuse_claim BEFORE INSERT ON treating.claims FOR EACH ROW
     WHEN (NEW.total_fen = 4322) EXECUTE FUNCTION public.test_refuse_claim()" >/dev/null
claim C 500000
claim S 4322
claim D 234500
lost_before=$(grep -c 'database lost during a batch' "$MC_RUN_DIR/treating.log" || true)
"$ROOT/deploy/network.sh" kill treating >/dev/null
mc submit "$dir/C.claim" "$dir/S.claim" "$dir/D.claim" >/dev/null
"$ROOT/deploy/network.sh" restart treating >/dev/null
for _ in $(seq 150); do
  [[ $(sql "SELECT count(*) FROM treating.requests WHERE request_id IN ('${base}C', '${base}D') AND status <> 'PENDING'") == 2 ]] && break
  sleep 0.2
done
for r in C D; do
  check "treating: claim $r beside the refused one settled" "ACCEPTED SETTLED" \
    "$(sql "SELECT r.status || ' ' || c.status FROM treating.requests r JOIN treating.claims c USING (request_id) WHERE r.request_id = '$base$r'")"
  check "treating: claim $r has its lines" 1 "$(sql "SELECT count(*) FROM treating.claim_line_sets WHERE claim_id = '$base$r'")"
done
check "treating: refused request left unrecorded" 0 \
  "$(sql "SELECT count(*) FROM treating.requests WHERE request_id = '${base}S'")"
check "treating: refused request sent no claim" 0 \
  "$(sql "SELECT count(*) FROM clearing.claims WHERE request_id = '${base}S'")"
mc dlq list --json >"$dir/dlq"
check "treating: refused request dead-lettered INTERNAL with the database's error" 1 \
  "$(grep -F '"reason":"INTERNAL"' "$dir/dlq" | grep -c "test: claim ${base}S refused")"
split=$(batches treating split)
check "treating: the batch statement failed and its batch was applied one by one" 1 \
  "$([[ $split =~ ^[0-9]+$ ]] && ((split >= 1)) && echo 1 || echo "$split")"
check "treating: not taken for a lost database" "$lost_before" \
  "$(grep -c 'database lost during a batch' "$MC_RUN_DIR/treating.log" || true)"
finish
