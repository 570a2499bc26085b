#!/usr/bin/env bash
# Bad input of every kind between good requests: undecodable bytes, an unknown schema
# version, an envelope without body, the wrong message type, an oversize message and a
# message id reused with a modified payload go to the dead-letter topic with their
# reason and source; unknown hospital, unknown region, a line whose amount is not
# quantity x price, a negative and an overflowing quantity get a rejection reply naming
# the problem. The good requests between them are settled and no service restarted.
source "$(dirname "$0")/lib.sh"
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
intake="$MEDCLEAR_TOPIC_PREFIX.intake.310000"
pids_before=$(cat "$MC_RUN_DIR"/*.pid | sort | tr '\n' ' ')
produce() { kcat -P -b "$MC_KAFKA_BROKERS" -X message.max.bytes=4000000 -t "$intake" -k "$1" "$2"; }
# Hand-built envelopes are signed as their source region (encode), so they pass the
# signature check.

printf 'this is not protobuf \001\002\377' >"$dir/garbage"
produce garbage "$dir/garbage"
echo "message_id: \"bad-version-1\" created_at_ms: $(date +%s%3N) schema_version: 99 source_region: \"310000\" request { request_id: \"R1\" }" | encode >"$dir/version"
produce version "$dir/version"
echo "message_id: \"no-body-1\" created_at_ms: $(date +%s%3N) schema_version: 1 source_region: \"310000\"" | encode >"$dir/nobody"
produce nobody "$dir/nobody"
echo "message_id: \"claim-on-intake-1\" created_at_ms: $(date +%s%3N) schema_version: 1 source_region: \"310000\" claim { claim_id: \"C1\" }" | encode >"$dir/wrongtype"
produce wrongtype "$dir/wrongtype"
head -c 1100000 /dev/zero | tr '\0' 'x' >"$dir/huge"
produce huge "$dir/huge"
# The same message id twice, the second time with another amount: the first is settled,
# the second is a modified duplicate.
request() { # request MESSAGE_ID REQUEST_ID QUANTITY
  echo "message_id: \"$1\" created_at_ms: $(date +%s%3N) schema_version: 1 source_region: \"310000\" request { request_id: \"$2\"
    kind: SETTLE treating_region: \"310000\" hospital_code: \"H31000000003\" person_id: \"P330000000001\"
    insuring_region: \"330000\" visit_type: OUTPATIENT visit_date: 20261121
    lines { line_no: 1 item_code: \"001201000010000\" quantity_milli: $3 unit_price_fen: 2500 amount_fen: $(($3 * 25 / 10)) } }" | encode
}
dupid="H3100000000320261121120000$(date +%S)"
request "dup-$MEDCLEAR_TOPIC_PREFIX" "$dupid" 1000 >"$dir/dup1"
request "dup-$MEDCLEAR_TOPIC_PREFIX" "$dupid" 2000 >"$dir/dup2"
produce dup1 "$dir/dup1"

claim() { outpatient_claim "$dir/$1.claim" "$2" "$3" "$4" "$5"; } # claim NAME HOSPITAL INSURING PERSON LINE
claim unknown_hospital H31000099999 330000 P330000000001 "1, 001201000010000, Consultation, 1000, 2500, 2500"
claim unknown_region H31000000003 990000 P990000000001 "1, 001201000010000, Consultation, 1000, 2500, 2500"
claim negative H31000000003 330000 P330000000001 "1, 001201000010000, Consultation, -1000, 2500, -2500"
claim overflow H31000000003 330000 P330000000001 "1, 001201000010000, Consultation, 10000000000000, 2500, 25000000000000"
claim good2 H31000000003 330000 P330000000001 "1, XJ01CAA040A001010100001, Amoxicillin capsules, 1000, 2345, 2345"
cat >"$dir/mismatch.claim" <<CLAIM
treating_region = 310000
hospital = H31000000003
person = P330000000001
insuring_region = 330000
visit_type = OUTPATIENT
visit_date = 2026-11-21
line = 1, 001201000010000, Consultation, 1000, 2500, 2500
line = 2, XJ01CAA040A001010100001, Amoxicillin capsules, 1500, 2345, 3517
CLAIM
claim good H31000000003 330000 P330000000001 "1, 001201000010000, Consultation, 1000, 2500, 2500"

for c in unknown_hospital good2 unknown_region negative overflow mismatch; do
  mc submit --wait --json --timeout-ms 60000 "$dir/$c.claim" >"$dir/$c.out"
done
produce dup2 "$dir/dup2"
mc submit --wait --json --timeout-ms 60000 "$dir/good.claim" >"$dir/good.out"
field() { json_field "$(head -1 "$dir/$1.out")" "$2"; }
check "unknown hospital rejected" UNKNOWN_HOSPITAL "$(field unknown_hospital reason_code)"
check "unknown hospital named" 1 "$(grep -c 'H31000099999' "$dir/unknown_hospital.out")"
check "unknown region rejected" UNKNOWN_REGION "$(field unknown_region reason_code)"
check "negative quantity rejected" NEGATIVE_VALUE "$(field negative reason_code)"
check "overflowing quantity rejected" OVERFLOW "$(field overflow reason_code)"
check "good request between bad ones settled" ACCEPTED "$(field good2 status)"
check "first of the reused message id settled" SETTLED "$(sql "SELECT status FROM treating.claims WHERE claim_id = '$dupid'")"
check "modified duplicate left the claim untouched" 2500 "$(sql "SELECT total_fen FROM treating.claims WHERE claim_id = '$dupid'")"
check "mismatch rejected" AMOUNT_MISMATCH "$(field mismatch reason_code)"
check "mismatch names line 2" 1 "$(grep -c 'line 2: amount_fen 3517' "$dir/mismatch.out")"
check "good request after bad input settled" ACCEPTED "$(field good status)"
check "rejected requests never reach the centre" 0 \
  "$(sql "SELECT count(*) FROM clearing.claims WHERE reason_code IN ('UNKNOWN_HOSPITAL', 'AMOUNT_MISMATCH', 'NEGATIVE_VALUE')")"

mc dlq list --json >"$dir/dlq"
from_intake() { grep -F "\"source\":\"$intake/" "$dir/dlq" | grep -c "\"reason\":\"$1\"" || true; }
check "undecodable bytes dead-lettered" 1 "$(from_intake UNDECODABLE)"
check "unknown version, no body, wrong type dead-lettered" 3 "$(from_intake UNKNOWN_TYPE)"
check "oversize message dead-lettered" 1 "$(from_intake TOO_LARGE)"
check "modified duplicate dead-lettered" 1 "$(from_intake DUPLICATE_MODIFIED)"
check "dead letter keeps the original bytes" 1 "$(grep -F "\"source\":\"$intake/" "$dir/dlq" | grep -c '"bytes":1100000')"
check "every service still running" 0 "$("$ROOT/deploy/network.sh" status >/dev/null; echo $?)"
check "no service restarted" "$pids_before" "$(cat "$MC_RUN_DIR"/*.pid | sort | tr '\n' ' ')"
finish
