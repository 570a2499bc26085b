#!/usr/bin/env bash
# Signatures (HMAC-SM3, key per region): a request signed with another region's key, a
# body altered after signing, and a message older than security.max.age.ms land in the
# dead letters with their reason; nothing of them is applied. The same request properly
# signed is settled.
source "$(dirname "$0")/lib.sh"
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
intake="$MEDCLEAR_TOPIC_PREFIX.intake.310000"
produce() { kcat -P -b "$MC_KAFKA_BROKERS" -t "$intake" -k "$1" "$2"; }
text_of() { protoc --decode=medclear.Envelope -I "$ROOT/proto" "$ROOT/proto/medclear.proto"; }
bin_of() { protoc --encode=medclear.Envelope -I "$ROOT/proto" "$ROOT/proto/medclear.proto"; }
request() { # request MESSAGE_ID REQUEST_ID CREATED_MS: a good Shanghai request, unsigned
  echo "message_id: \"$1\" created_at_ms: $3 schema_version: 1 source_region: \"310000\"
    request { request_id: \"$2\" kind: SETTLE treating_region: \"310000\"
    hospital_code: \"H31000000003\" person_id: \"P330000000001\" insuring_region: \"330000\"
    visit_type: OUTPATIENT visit_date: 20261117
    lines { line_no: 1 item_code: \"001201000010000\" quantity_milli: 1000 unit_price_fen: 2500 amount_fen: 2500 } }" | bin_of
}
now=$(date +%s%3N)
tag=$(date +%s)
recorded() { sql "SELECT count(*) FROM treating.requests WHERE request_id = '$1'"; }

# 1. Shanghai's key id, Jiangsu's key bytes: a forgery.
awk '$1 == "320000" { jiangsu = $3 } END { print "310000 k310000-2026 " jiangsu }' \
  "$ROOT/deploy/config/keys.demo" >"$dir/forged.keys"
request "forged-$tag" "H310000000031117FORGED$tag" "$now" | mc -o security.keys.file="$dir/forged.keys" envelope sign >"$dir/forged.bin"
produce forged "$dir/forged.bin"

# 2. Properly signed, then the amount changed.
request "altered-$tag" "H310000000031117ALTERED$tag" "$now" | mc envelope sign >"$dir/signed.bin"
text_of <"$dir/signed.bin" | sed 's/amount_fen: 2500/amount_fen: 250/; s/unit_price_fen: 2500/unit_price_fen: 250/' | bin_of >"$dir/altered.bin"
produce altered "$dir/altered.bin"

# 3. Properly signed two days ago: a replay.
request "old-$tag" "H310000000031117OLD$tag" "$((now - 2 * 86400000))" | mc envelope sign >"$dir/old.bin"
produce old "$dir/old.bin"

# 3b. Properly signed, created at the earliest int64 time: its age overflowed int64_t
# (found by tests/fuzz/fuzz_envelope); a replay all the same.
request "ancient-$tag" "H310000000031117ANCIENT$tag" -9223372036854775808 | mc envelope sign >"$dir/ancient.bin"
produce ancient "$dir/ancient.bin"

# 4. The control: the signed original of 2, untouched.
produce good "$dir/signed.bin"
for _ in $(seq 150); do
  [[ $(recorded "H310000000031117ALTERED$tag") == 1 ]] && break
  sleep 0.2
done
check "signed request applied" 1 "$(recorded "H310000000031117ALTERED$tag")"
check "signed request kept its amount" 2500 "$(sql "SELECT total_fen FROM treating.claims WHERE claim_id = 'H310000000031117ALTERED$tag'")"
check "forged request not applied" 0 "$(recorded "H310000000031117FORGED$tag")"
check "replayed request not applied" 0 "$(recorded "H310000000031117OLD$tag")"
check "request of the earliest time not applied" 0 "$(recorded "H310000000031117ANCIENT$tag")"

mc dlq list --json >"$dir/dlq"
dl() { grep -F "\"source\":\"$intake/" "$dir/dlq" | grep -F "\"reason\":\"$1\"" | grep -c "$2" || true; }
check "forgery and altered body dead-lettered as not matching" 2 \
  "$(dl BAD_SIGNATURE 'does not match key k310000-2026')"
check "replays dead-lettered" 2 "$(dl REPLAYED 'ms ago')"
check "every service still running" 0 "$("$ROOT/deploy/network.sh" status >/dev/null; echo $?)"
finish
