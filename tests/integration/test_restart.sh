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
"$ROOT/deploy/network.sh" start
check "data kept across the restart" "$before" "$(sql "SELECT count(*) FROM insuring.settlements")"
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
