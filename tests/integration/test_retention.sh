#!/usr/bin/env bash
# `medclear db prune`: the inboxes and outboxes lose what is older than the horizon, and
# nothing else.
# 1. Bad arguments, and a horizon not beyond security.max.age.ms (or an age check turned
#    off), are refused with a message naming what is wrong, and delete nothing.
# 2. A request is settled and a dead letter made; the rows this test wrote are dated 400
#    days back, and one of its outbox rows is marked not yet acknowledged. Pruning at 300
#    days, 2 rows a step, deletes exactly those inbox and published outbox rows: the dead
#    letter, the unacknowledged row and every other test's rows stay. Once acknowledged,
#    the next run takes that row; the run after finds nothing.
# 3. The request sent again, byte for byte, once its reply is gone, is refused REPLAYED
#    with the outcome recorded, and still counts as answered once.
source "$(dirname "$0")/lib.sh"
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT

# ---- 1. refusals ------------------------------------------------------------------------
total_rows() {
  sql "SELECT (SELECT count(*) FROM treating.inbox) + (SELECT count(*) FROM insuring.inbox)
            + (SELECT count(*) FROM clearing.inbox) + (SELECT count(*) FROM treating.outbox)
            + (SELECT count(*) FROM insuring.outbox) + (SELECT count(*) FROM clearing.outbox)"
}
rows0=$(total_rows)
refused() { # refused EXPECTED_TEXT ARGS...: exit status 2 and the text on stderr
  local want=$1 rc=0
  shift
  mc "$@" >"$dir/out" 2>"$dir/err" || rc=$?
  [[ $rc -eq 2 ]] && grep -qF -- "$want" "$dir/err" && echo refused || { echo "rc=$rc: $(cat "$dir/err")"; }
}
check "no arguments: usage" refused "$(refused "usage: medclear db prune --keep-days N" db prune)"
check "days not a number" refused "$(refused '--keep-days must be a whole number of days from 1 to 36500, not "3x"' db prune --keep-days 3x)"
check "days of 0" refused "$(refused 'not "0"' db prune --keep-days 0)"
check "a batch of none" refused "$(refused '--batch must be a whole number of rows from 1 to 1000000, not "0"' db prune --keep-days 30 --batch 0)"
check "an unknown option" refused "$(refused "usage:" db prune --keep-days 30 --older 4)"
check "a horizon within the accepted age" refused \
  "$(refused "--keep-days 1 does not reach beyond security.max.age.ms (86400000 ms)" db prune --keep-days 1)"
check "a longer accepted age needs a longer horizon" refused \
  "$(refused "keep at least 11 days" -o security.max.age.ms=864000000 db prune --keep-days 10)"
check "no age check: no pruning" refused \
  "$(refused "security.max.age.ms is 0" -o security.max.age.ms=0 db prune --keep-days 30)"
check "nothing deleted by the refusals" "$rows0" "$(total_rows)"

# ---- 2. what goes and what stays ----------------------------------------------------------
t0=$(sql "SELECT now()")
rid="H330000000012026112018$(date +%H%M%S)7"
outpatient_request "$rid" "$dir/r.claim"
mc submit --wait --json --timeout-ms 60000 "$dir/r.claim" >"$dir/first"
check "the request is settled" ACCEPTED "$(json_field "$(head -1 "$dir/first")" status)"
settlement=$(json_field "$(head -1 "$dir/first")" settlement_id)
printf 'not a medclear envelope' | kcat -P -b "$MC_KAFKA_BROKERS" -t "$MEDCLEAR_TOPIC_PREFIX.intake.330000" -k "retention-bad-$rid"
dead_letters="SELECT count(*) FROM treating.outbox WHERE msg_key = 'retention-bad-$rid' AND reason IS NOT NULL"
wait_for "$dead_letters" 1 20
check "the dead letter is recorded" 1 "$(sql "$dead_letters")"
for s in treating insuring clearing; do # acknowledged by the broker, all of them
  wait_for "SELECT count(*) FROM $s.outbox o JOIN $s.outbox_unpublished u ON o.id BETWEEN u.first_id AND u.last_id" 0 20
done

# every row this test wrote, 400 days older; one of the treating outbox rows (the claim
# sent to the centre) marked as not acknowledged yet
for s in treating insuring clearing; do
  sql "UPDATE $s.inbox SET received_at = received_at - interval '400 days' WHERE received_at >= '$t0'"
  sql "UPDATE $s.outbox SET created_at = created_at - interval '400 days' WHERE created_at >= '$t0'"
done
held=$(sql "SELECT id FROM treating.outbox WHERE msg_key = (SELECT claim_id FROM treating.claims WHERE request_id = '$rid') AND topic = '$MEDCLEAR_TOPIC_PREFIX.claims'")
sql "INSERT INTO treating.outbox_unpublished (first_id, last_id) VALUES ($held, $held)"
old_rows() { # old_rows SCHEMA: the rows the prune should delete, as "inbox outbox"
  sql "SELECT (SELECT count(*) FROM $1.inbox WHERE received_at < now() - interval '300 days') || ' ' ||
              (SELECT count(*) FROM $1.outbox o WHERE created_at < now() - interval '300 days'
                 AND reason IS NULL AND NOT EXISTS (SELECT 1 FROM $1.outbox_unpublished u
                 WHERE o.id BETWEEN u.first_id AND u.last_id))"
}
declare -A want
for s in treating insuring clearing; do want[$s]=$(old_rows "$s"); done
check "the treating region has old rows to prune" 1 "$([[ ${want[treating]} != "0 0" ]] && echo 1 || echo 0)"
check "the insuring region has old rows to prune" 1 "$([[ ${want[insuring]} != "0 0" ]] && echo 1 || echo 0)"
check "the centre has old rows to prune" 1 "$([[ ${want[clearing]} != "0 0" ]] && echo 1 || echo 0)"
young_rows() { # rows newer than the horizon that were there before the prune started
  local s q=""
  for s in treating insuring clearing; do
    q+="${q:+ + }(SELECT count(*) FROM $s.inbox WHERE received_at >= now() - interval '300 days' AND received_at <= '$1')"
    q+=" + (SELECT count(*) FROM $s.outbox WHERE created_at >= now() - interval '300 days' AND created_at <= '$1')"
  done
  sql "SELECT $q"
}
t1=$(sql "SELECT now()")
young=$(young_rows "$t1")

mc db prune --keep-days 300 --batch 2 >"$dir/prune"
cat "$dir/prune"
for s in treating insuring clearing; do
  check "$s: the rows past the horizon deleted" "${want[$s]}" "$(awk -v s="$s:" '$1 == s {print $2, $6}' "$dir/prune")"
  check "$s: none left" "0 0" "$(old_rows "$s")"
done
check "no row newer than the horizon deleted" "$young" "$(young_rows "$t1")"
check "the dead letter stays" 1 "$(sql "SELECT count(*) FROM treating.outbox WHERE msg_key = 'retention-bad-$rid'")"
check "the unacknowledged row stays" 1 "$(sql "SELECT count(*) FROM treating.outbox WHERE id = $held")"
check "the request's reply is gone" 0 "$(sql "SELECT count(*) FROM treating.outbox WHERE msg_key = '$rid' AND topic LIKE '%.reply.%'")"
check "the settlement stays" SETTLED "$(sql "SELECT status FROM treating.claims WHERE request_id = '$rid'")"
# acknowledged now: the next prune takes it, and the one after finds nothing
sql "DELETE FROM treating.outbox_unpublished WHERE first_id = $held AND last_id = $held"
mc db prune --keep-days 300 >"$dir/again"
check "once acknowledged, the held row goes" "0 1 0" \
  "$(awk '$1 == "treating:" {print $2, $6}' "$dir/again") $(sql "SELECT count(*) FROM treating.outbox WHERE id = $held")"
mc db prune --keep-days 300 >"$dir/third"
check "then a prune finds nothing" 3 "$(grep -c ': 0 inbox rows and 0 outbox rows from before ' "$dir/third")"

# ---- 3. the request again, its reply gone --------------------------------------------------
mc submit --wait --json --timeout-ms 60000 "$dir/r.claim" >"$dir/second"
r=$(head -1 "$dir/second")
check "sent again: refused as a replay" "REJECTED REPLAYED" "$(json_field "$r" status) $(json_field "$r" reason_code)"
check "the refusal names the outcome recorded" 1 \
  "$([[ $(json_field "$r" reason_text) == "request answered ACCEPTED at "*" UTC; that reply is past the bus retention" ]] && echo 1 || echo 0)"
check "and the settlement" "$settlement" "$(json_field "$r" settlement_id)"
check "still answered once" 1 "$(sql "SELECT answers FROM treating.requests WHERE request_id = '$rid'")"
check "still one claim" 1 "$(sql "SELECT count(*) FROM treating.claims WHERE request_id = '$rid'")"
finish
