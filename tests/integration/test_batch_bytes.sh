#!/usr/bin/env bash
# batch.max.bytes bounds what a batch holds, whatever its messages' count: a second
# clearing centre instance with batch.max.bytes = 1 takes one message a batch (its first
# is always taken) while claims reach it in bursts, and every claim is still answered.
source "$(dirname "$0")/lib.sh"
dir=$(mktemp -d)
cleanup() { stop_second; rm -rf "$dir"; }
trap cleanup EXIT

second_instance clearing "$dir/clearing2.log" log.level=debug batch.max.bytes=1
sleep 5 # let the group rebalance

long_term_persons "$dir/persons"
n=40
inpatient_claims "$n" 13 "$dir/persons" "$dir/claims"
mc submit --wait --json --timeout-ms 90000 "$dir/claims" >"$dir/replies"
check "every claim settled" "$n" "$(grep -c '"status":"ACCEPTED"' "$dir/replies" || true)"
# "committed a batch of N messages", a debug line per batch
grep -o 'committed a batch of [0-9]* messages' "$dir/clearing2.log" | awk '{print $5}' >"$dir/sizes" || true
check "the second instance committed batches" 1 "$([[ -s $dir/sizes ]] && echo 1 || echo 0)"
check "each of one message" "" "$(awk '$1 != 1' "$dir/sizes" | sort -u | xargs)"
finish
