#!/usr/bin/env bash
# Duplicates inside one batch: the fast path records a whole batch's message ids in the
# inbox with one statement, so the first copy of an id must be handled and the later
# copies of the same batch treated as duplicates, exactly as copies in later batches are.
# 1. With the treating service stopped, a request, two byte-for-byte copies of it and a
#    second request wait on the intake topic; the service, started again, takes them in
#    one batch. Each request is settled once and answered with one reply.
# 2. With the treating service stopped, a request and another message reusing its request
#    id with other lines wait on the intake topic, then arrive in one batch. The request
#    is held in memory until the batch writes its requests together (mc_rows.h); the
#    second must still find it, by writing them first rather than failing the batch: it
#    is answered as a modified duplicate, and the recorded request and its claim stay
#    the first one's.
# 3. With the clearing centre paused (SIGSTOP, for less than the claim timeout and the
#    consumer session, so that nothing times out or rebalances), a claim and two copies
#    of it wait on the claims topic. Copies the inbox missed would reach the centre's
#    handler as a claim "routed before" and be dead-lettered; copies it caught are skipped.
source "$(dirname "$0")/lib.sh"
dir=$(mktemp -d)
centre=$(cat "$MC_RUN_DIR/clearing.pid")
trap 'kill -CONT "$centre" 2>/dev/null; rm -rf "$dir"; "$ROOT/deploy/network.sh" restart treating >/dev/null 2>&1 || true' EXIT

stamp=$(date +%H%M%S)
claim() { # claim REQUEST_ID FILE
  printf '%s\n' "request_id = $1" "treating_region = 330000" "hospital = H33000000001" \
    "person = P340000000003" "insuring_region = 340000" "visit_type = OUTPATIENT" \
    "visit_date = 2026-11-20" "line = 1, 002101000010000, CT scan single site, 1000, 12000" >"$2"
}
a="H330000000012026112016${stamp}1"
b="H330000000012026112016${stamp}2"
claim "$a" "$dir/a.claim"
claim "$b" "$dir/b.claim"

"$ROOT/deploy/network.sh" kill treating >/dev/null
mc submit "$dir/a.claim" >/dev/null
# the request's bytes as they lie on the intake topic, sent twice more, then request b
topic="$MEDCLEAR_TOPIC_PREFIX.intake.330000"
where=$(kcat -C -b "$MC_KAFKA_BROKERS" -t "$topic" -o beginning -e -q -f '%k %p %o\n' | awk -v k="$a" '$1 == k {print $2, $3}' | tail -1)
check "request a is on the intake topic" 1 "$([[ -n $where ]] && echo 1 || echo 0)"
kcat -C -b "$MC_KAFKA_BROKERS" -t "$topic" -p "${where% *}" -o "${where#* }" -c 1 -e -q -f '%s' >"$dir/a.bin"
kcat -P -b "$MC_KAFKA_BROKERS" -t "$topic" -p "${where% *}" -k "$a" "$dir/a.bin" "$dir/a.bin"
mc submit "$dir/b.claim" >/dev/null
check "three copies of a wait on its partition" 3 "$(kcat -C -b "$MC_KAFKA_BROKERS" -t "$topic" -p "${where% *}" -o beginning -e -q -f '%k\n' | grep -c "^$a$")"
"$ROOT/deploy/network.sh" restart treating >/dev/null

for _ in $(seq 150); do
  [[ $(sql "SELECT count(*) FROM treating.requests WHERE request_id IN ('$a', '$b') AND status <> 'PENDING'") == 2 ]] && break
  sleep 0.2
done
for r in "$a" "$b"; do
  check "$r: settled" SETTLED "$(sql "SELECT status FROM treating.claims WHERE request_id = '$r' AND kind = 'SETTLE'")"
  check "$r: one claim" 1 "$(sql "SELECT count(*) FROM treating.claims WHERE request_id = '$r'")"
  check "$r: answered once" 1 "$(sql "SELECT answers FROM treating.requests WHERE request_id = '$r'")"
  check "$r: one settlement at the insuring region" 1 "$(sql "SELECT count(*) FROM insuring.settlements WHERE request_id = '$r'")"
  check "$r: one distinct reply" 1 "$(sql "SELECT count(DISTINCT payload) FROM treating.outbox WHERE msg_key = '$r' AND topic LIKE '%.reply.%'")"
done
check "a's message id recorded once in the inbox" 1 "$(sql "SELECT count(*) FROM treating.inbox i JOIN treating.requests r USING (message_id) WHERE r.request_id = '$a'")"
check "nothing of them dead-lettered" 0 "$(sql "SELECT count(*) FROM treating.outbox WHERE msg_key = '$a' AND reason IS NOT NULL")"
# 2. a request id reused inside one batch
d="H330000000012026112016${stamp}4"
claim "$d" "$dir/d.claim"
sed 's/, 12000$/, 13000/' "$dir/d.claim" >"$dir/d2.claim"
check "the second message has other lines" 1 "$(grep -c ', 13000$' "$dir/d2.claim")"
"$ROOT/deploy/network.sh" kill treating >/dev/null
mc submit "$dir/d.claim" >/dev/null
mc submit "$dir/d2.claim" >/dev/null
"$ROOT/deploy/network.sh" restart treating >/dev/null
for _ in $(seq 150); do
  [[ $(sql "SELECT status FROM treating.claims WHERE request_id = '$d' AND kind = 'SETTLE'") == SETTLED ]] &&
    [[ $(sql "SELECT count(*) FROM treating.outbox WHERE msg_key = '$d' AND topic LIKE '%.reply.%'") -ge 2 ]] && break
  sleep 0.2
done
check "$d: settled once, at the first message's amount" "1 SETTLED 12000" \
  "$(sql "SELECT count(*) || ' ' || min(status) || ' ' || min(total_fen) FROM treating.claims WHERE request_id = '$d'")"
check "$d: the recorded request answered once, accepted" "1 ACCEPTED" \
  "$(sql "SELECT answers || ' ' || status FROM treating.requests WHERE request_id = '$d'")"
check "$d: two different replies, the second a modified-duplicate rejection" "2 2" \
  "$(sql "SELECT count(*) || ' ' || count(DISTINCT payload) FROM treating.outbox WHERE msg_key = '$d' AND topic LIKE '%.reply.%'")"
check "$d: nothing dead-lettered" 0 "$(sql "SELECT count(*) FROM treating.outbox WHERE msg_key = '$d' AND reason IS NOT NULL")"
check "$d: one settlement at the insuring region" 1 "$(sql "SELECT count(*) FROM insuring.settlements WHERE request_id = '$d'")"
# the second message's lookup wrote the held request first, instead of failing the batch
check "$d: no batch of the treating region applied one by one" 0 "$(batches treating split)"
# 3. the clearing centre
c="H330000000012026112016${stamp}3"
claim "$c" "$dir/c.claim"
kill -STOP "$centre"
mc submit "$dir/c.claim" >/dev/null
for _ in $(seq 100); do
  cid=$(sql "SELECT claim_id FROM treating.claims WHERE request_id = '$c'")
  [[ -n $cid ]] && [[ $(sql "SELECT count(*) FROM treating.outbox o WHERE msg_key = '$cid' AND NOT EXISTS (SELECT 1 FROM treating.outbox_unpublished u WHERE o.id BETWEEN u.first_id AND u.last_id)") -ge 1 ]] && break
  sleep 0.2
done
claims="$MEDCLEAR_TOPIC_PREFIX.claims"
where=$(kcat -C -b "$MC_KAFKA_BROKERS" -t "$claims" -o beginning -e -q -f '%k %p %o\n' | awk -v k="$cid" '$1 == k {print $2, $3}' | tail -1)
check "claim of c is on the claims topic" 1 "$([[ -n $where ]] && echo 1 || echo 0)"
kcat -C -b "$MC_KAFKA_BROKERS" -t "$claims" -p "${where% *}" -o "${where#* }" -c 1 -e -q -f '%s' >"$dir/c.bin"
kcat -P -b "$MC_KAFKA_BROKERS" -t "$claims" -p "${where% *}" -k "$cid" "$dir/c.bin" "$dir/c.bin"
kill -CONT "$centre"
for _ in $(seq 300); do
  [[ $(sql "SELECT status FROM treating.claims WHERE request_id = '$c' AND kind = 'SETTLE'") == SETTLED ]] && break
  sleep 0.2
done
check "$c: settled" SETTLED "$(sql "SELECT status FROM treating.claims WHERE request_id = '$c' AND kind = 'SETTLE'")"
check "$c: routed once by the centre" 1 "$(sql "SELECT count(*) FROM clearing.claims WHERE claim_id = '$cid'")"
check "$c: no copy dead-lettered by the centre" 0 "$(sql "SELECT count(*) FROM clearing.outbox WHERE msg_key = '$cid' AND reason IS NOT NULL")"
check "$c: forwarded once to the insuring party" 1 "$(sql "SELECT count(*) FROM clearing.outbox WHERE msg_key = '$cid' AND topic LIKE '%.claims.%'")"

check "$c: answered once, not timed out" "1 ACCEPTED" "$(sql "SELECT answers || ' ' || status FROM treating.requests WHERE request_id = '$c'")"
# (not `medclear verify`: the fixture's database keeps the difference itest_reconcile
# makes on purpose) the three sides agree on each of the three claims
check "the three sides agree on a, b and c" 3 "$(sql "SELECT count(*) FROM treating.claims t
  JOIN clearing.claims c USING (claim_id) JOIN insuring.settlements i USING (claim_id)
  WHERE t.request_id IN ('$a', '$b', '$c') AND t.kind = 'SETTLE'
  AND (t.fund_fen, t.tier2_fen, t.account_fen, t.cash_fen, t.settlement_id)
    = (c.fund_fen, c.tier2_fen, c.account_fen, c.cash_fen, c.settlement_id)
  AND (t.fund_fen, t.tier2_fen, t.account_fen, t.cash_fen, t.settlement_id)
    = (i.fund_fen, i.tier2_fen, i.account_fen, i.cash_fen, i.settlement_id)")"
finish
