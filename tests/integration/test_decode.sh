#!/usr/bin/env bash
# Messages on mc.claims, read with kcat, decode with Google's protoc and proto/ alone:
# any protobuf implementation can read the bus.
source "$(dirname "$0")/lib.sh"
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
kcat -C -b "$MC_KAFKA_BROKERS" -t "$MEDCLEAR_TOPIC_PREFIX.claims" -o beginning -c 1 -e -f '%s' >"$dir/claim.bin"
check "a claim was read" 1 "$([[ -s $dir/claim.bin ]] && echo 1 || echo 0)"
protoc --decode=medclear.Envelope -I "$ROOT/proto" "$ROOT/proto/medclear.proto" <"$dir/claim.bin" >"$dir/claim.txt"
cat "$dir/claim.txt" | head -30
check "envelope schema version" 1 "$(grep -c '^schema_version: 1$' "$dir/claim.txt")"
check "body is a claim" 1 "$(grep -c '^claim {' "$dir/claim.txt")"
check "claim has an id" 1 "$(grep -c '^  claim_id: "H' "$dir/claim.txt")"
check "claim has split lines" 1 "$([[ $(grep -c '^  lines {' "$dir/claim.txt") -ge 1 ]] && echo 1 || echo 0)"
check "totals add up" 1 "$(awk '/^  totals/{t=1} t&&/total_fen/{T=$2} t&&/(full_self_pay|over_limit|self_pay_first|in_scope)_fen/{s+=$2} END{print (T==s && T>0)?1:0}' "$dir/claim.txt")"
finish
