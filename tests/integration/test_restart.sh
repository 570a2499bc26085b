#!/usr/bin/env bash
# Stopping everything - services, broker, database - and starting again works: the data
# is reused and the next request is settled.
source "$(dirname "$0")/lib.sh"
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
before=$(sql "SELECT count(*) FROM insuring.settlements")
"$ROOT/deploy/network.sh" stop
"$ROOT/deploy/infra.sh" stop
check "servers stopped" 3 "$("$ROOT/deploy/infra.sh" status >/dev/null 2>&1; echo $?)"
"$ROOT/deploy/infra.sh" start

# A crash after a batch committed and before the broker acknowledged its outbox rows
# leaves their range in outbox_unpublished: the treating region's last two rows here. The
# next start publishes both again (the receiving inboxes skip them) and deletes the range.
sql "INSERT INTO treating.outbox_unpublished (first_id, last_id)
     SELECT min(id), max(id) FROM (SELECT id FROM treating.outbox ORDER BY id DESC LIMIT 2) x"
check "a range left unpublished" 2 "$(sql "SELECT count(*) FROM treating.outbox_unpublished u
  JOIN treating.outbox o ON o.id BETWEEN u.first_id AND u.last_id")"
"$ROOT/deploy/network.sh" start
check "data kept across the restart" "$before" "$(sql "SELECT count(*) FROM insuring.settlements")"
for _ in $(seq 150); do
  [[ $(sql "SELECT count(*) FROM treating.outbox_unpublished") == 0 ]] && break
  sleep 0.2
done
check "the range published and marked" 0 "$(sql "SELECT count(*) FROM treating.outbox_unpublished")"
check "its two rows published again" 1 \
  "$(grep -c 'publishing 2 outbox rows left from before' "$MC_RUN_DIR/treating.log" || true)"
cat >"$dir/after.claim" <<CLAIM
treating_region = 340000
hospital = H34000000001
person = P310000000003
insuring_region = 310000
visit_type = INPATIENT
visit_date = 2026-11-22
line = 1, 003105030010000, Ward bed per day, 3000, 4000, 12000
CLAIM
mc submit --wait --json --timeout-ms 90000 "$dir/after.claim" >"$dir/out"
check "settled after the restart" ACCEPTED "$(json_field "$(head -1 "$dir/out")" status)"
finish
