#!/usr/bin/env bash
# Key rotation (mc_sign.h): while a region lists its new key first and keeps the previous
# one, requests signed with either key are settled; once the previous key is removed from
# the receivers' keyring, a request signed with it goes to the dead letters as a bad
# signature and nothing of it is applied. The services are restarted with each keyring
# (security.keys.file) and with the demo keys again at the end.
source "$(dirname "$0")/lib.sh"
dir=$(mktemp -d)
network() { "$ROOT/deploy/network.sh" "$@" >/dev/null; }
with_keys() { # with_keys FILE: all three services restarted with that keyring
  network stop
  MEDCLEAR_SECURITY_KEYS_FILE="$1" network start
}
restore() {
  with_keys "$ROOT/deploy/config/keys.demo" || true
  rm -rf "$dir"
}
trap restore EXIT
intake="$MEDCLEAR_TOPIC_PREFIX.intake.310000"
demo="$ROOT/deploy/config/keys.demo"
tag=$(date +%s)

# Shanghai's keys: k310000-2026 (the demo key, now the previous one) and a new one.
new_hex=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
grep -v '^310000 ' "$demo" >"$dir/others"
{ echo "310000 k310000-2027 $new_hex"; cat "$demo"; } >"$dir/both.keys"  # rotating: new signs
{ echo "310000 k310000-2027 $new_hex"; cat "$dir/others"; } >"$dir/new.keys" # previous removed

bin_of() { protoc --encode=medclear.Envelope -I "$ROOT/proto" "$ROOT/proto/medclear.proto"; }
signed() { # signed KEYS REQUEST_ID: a good Shanghai request, signed with the first key of KEYS
  echo "message_id: \"rot-$2\" created_at_ms: $(date +%s%3N) schema_version: 1 source_region: \"310000\"
    request { request_id: \"$2\" kind: SETTLE treating_region: \"310000\"
    hospital_code: \"H31000000003\" person_id: \"P330000000001\" insuring_region: \"330000\"
    visit_type: OUTPATIENT visit_date: 20261117
    lines { line_no: 1 item_code: \"001201000010000\" quantity_milli: 1000 unit_price_fen: 2500 amount_fen: 2500 } }" |
    bin_of | mc -o security.keys.file="$1" envelope sign
}
produce() { kcat -P -b "$MC_KAFKA_BROKERS" -t "$intake" -k "$1" "$2"; }
recorded() { sql "SELECT count(*) FROM treating.requests WHERE request_id = '$1'"; }
replied() { sql "SELECT count(*) FROM treating.claims WHERE claim_id = '$1' AND status = 'SETTLED'"; }
wait_settled() {
  for _ in $(seq 300); do
    [[ $(replied "$1") == 1 ]] && return 0
    sleep 0.2
  done
}

# 1. Both keys listed (the new one first, so services sign with it): both are accepted.
with_keys "$dir/both.keys"
old1="H310000000031117ROTOLD$tag"
new1="H310000000031117ROTNEW$tag"
signed "$demo" "$old1" >"$dir/old1.bin"
signed "$dir/new.keys" "$new1" >"$dir/new1.bin"
produce old1 "$dir/old1.bin"
produce new1 "$dir/new1.bin"
wait_settled "$old1"
wait_settled "$new1"
check "signed with the previous key, both listed: settled" 1 "$(replied "$old1")"
check "signed with the new key, both listed: settled" 1 "$(replied "$new1")"

# 2. The previous key removed: refused as a bad signature, nothing applied. The request
# signed with the new key behind it shows the service went past it.
with_keys "$dir/new.keys"
old2="H310000000031117ROTGONE$tag"
new2="H310000000031117ROTNEW2$tag"
signed "$demo" "$old2" >"$dir/old2.bin"
signed "$dir/new.keys" "$new2" >"$dir/new2.bin"
produce old2 "$dir/old2.bin"
produce new2 "$dir/new2.bin"
wait_settled "$new2"
check "signed with the new key, previous removed: settled" 1 "$(replied "$new2")"
check "signed with the removed key: not applied" 0 "$(recorded "$old2")"
check "signed with the removed key: not in the inbox" 0 \
  "$(sql "SELECT count(*) FROM treating.inbox WHERE message_id = 'rot-$old2'")"
check "signed with the removed key: no claim sent" 0 \
  "$(sql "SELECT count(*) FROM clearing.claims WHERE request_id = '$old2'")"
mc dlq list --json --reason BAD_SIGNATURE >"$dir/dlq"
check "signed with the removed key: dead-lettered as a bad signature" 1 \
  "$(grep -F "\"source\":\"$intake/" "$dir/dlq" | grep -F "\"service\":\"treating\"" |
    grep -F 'no key \"k310000-2026\" for region 310000' | wc -l)"
finish
