#!/usr/bin/env bash
# `medclear dlq replay` re-submits a dead letter after a fix: a request refused as too
# large while the treating service ran with a small limit is settled once the limit is
# raised and the dead letter replayed.
source "$(dirname "$0")/lib.sh"
dir=$(mktemp -d)
trap 'rm -rf "$dir"; "$ROOT/deploy/network.sh" restart treating >/dev/null 2>&1 || true' EXIT

MEDCLEAR_MESSAGE_MAX_BYTES=1024 "$ROOT/deploy/network.sh" restart treating >/dev/null
id="H33000000001202611191300$(date +%S)01"
{
  printf '%s\n' "request_id = $id" "treating_region = 330000" "hospital = H33000000001" \
    "person = P340000000003" "insuring_region = 340000" "visit_type = INPATIENT" "visit_date = 2026-11-19"
  for i in $(seq 30); do echo "line = $i, XA10BAB010A001010100005, Metformin tablets, 1000, $((100 + i)), $((100 + i))"; done
} >"$dir/big.claim"
mc submit "$dir/big.claim" >/dev/null
source_prefix="\"source\":\"$MEDCLEAR_TOPIC_PREFIX.intake.330000/"
for _ in $(seq 100); do
  mc dlq list --json --reason TOO_LARGE | grep -F "$source_prefix" >"$dir/dl" && break
  sleep 0.2
done
check "refused as too large" 1 "$(wc -l <"$dir/dl")"
check "nothing recorded for it" 0 "$(sql "SELECT count(*) FROM treating.requests WHERE request_id = '$id'")"

"$ROOT/deploy/network.sh" restart treating >/dev/null
part=$(json_field "$(head -1 "$dir/dl")" partition)
off=$(json_field "$(head -1 "$dir/dl")" offset)
mc dlq replay --reason TOO_LARGE --partition "$part" --offset "$off" >"$dir/replay"
check "one dead letter replayed" 1 "$(grep -c '^1 dead letters replayed' "$dir/replay")"
for _ in $(seq 150); do
  [[ $(sql "SELECT status FROM treating.claims WHERE claim_id = '$id'") == SETTLED ]] && break
  sleep 0.2
done
check "replayed request settled" SETTLED "$(sql "SELECT status FROM treating.claims WHERE claim_id = '$id'")"
check "bad replay filter refused" 2 "$(mc dlq replay --reason NOPE >/dev/null 2>&1; echo $?)"
finish
