#!/usr/bin/env bash
# Versions: the catalog item and the policy in force on the visit date apply; loading a
# new catalog version leaves already settled claims as they were; accumulators start
# again at zero in a new calendar year; a bad data file loads nothing and says where.
source "$(dirname "$0")/lib.sh"
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT

visit() { # visit DATE NAME: a Shanghai employee living in Anhui, outpatient, amoxicillin
  cat >"$dir/$2.claim" <<CLAIM
treating_region = 340000
hospital = H34000000002
person = P310000000003
insuring_region = 310000
visit_type = OUTPATIENT
visit_date = $1
line = 1, XJ01CAA040A001010100001, Amoxicillin capsules, 10000, 1000, 10000
CLAIM
  mc submit --wait --json "$dir/$2.claim" >"$dir/$2.out"
  head -1 "$dir/$2.out"
}
line_field() { python3 -c 'import json,sys; print(json.loads(sys.argv[1])["lines"][0][sys.argv[2]])' "$1" "$2"; }

before=$(visit 2026-11-24 before)
check "before: class A in Anhui's catalog" A "$(line_field "$before" class)"
check "before: catalog version" C340000-2026.1 "$(json_field "$before" catalog_version)"
check "before: policy version" P310000-2026 "$(json_field "$before" policy_version)"

# From December, amoxicillin is class B with 20% self-pay first in Anhui; Shanghai's
# employee outpatient policy gets a new version too.
mkdir -p "$dir/v2/treating" "$dir/v2/insuring"
cat >"$dir/v2/treating/catalog.csv" <<CSV
region,item_code,name,class,self_pay_first_bp,price_ceiling_fen,version,valid_from,valid_to
340000,XJ01CAA040A001010100001,Amoxicillin capsules,B,2000,0,C340000-2026.12,2026-12-01,
CSV
cat >"$dir/v2/insuring/policies.csv" <<CSV
region,insured_type,visit_type,effective_from,version,deductible_fen,deductible_scope,ratio_l1_bp,ratio_l2_bp,ratio_l3_bp,annual_cap_fen,cap_group,tier2_ratio_bp,tier2_cap_fen,account_allowed
310000,EMPLOYEE,OUTPATIENT,2026-12-01,P310000-2026.12,1000,PER_YEAR,7500,7000,6500,500000,OUTPATIENT,0,0,true
CSV
mc data load "$dir/v2" >/dev/null

check "settled claim keeps its split" "A 10000" \
  "$(sql "SELECT item_class || ' ' || in_scope_fen FROM treating.claim_lines WHERE claim_id = '$(json_field "$before" request_id)'")"
nov=$(visit 2026-11-30 nov)
check "visit before the new version: class A" A "$(line_field "$nov" class)"
dec=$(visit 2026-12-02 dec)
check "visit after: class B" B "$(line_field "$dec" class)"
check "visit after: 20% self-pay first" 2000 "$(line_field "$dec" self_pay_first_fen)"
check "visit after: new catalog version" C340000-2026.12 "$(json_field "$dec" catalog_version)"
check "visit after: new policy version" P310000-2026.12 "$(json_field "$dec" policy_version)"
check "visit after: new ratio at level 2" 7000 "$(json_field "$dec" ratio_bp)"

acc() { sql "SELECT coalesce(max(ytd_deductible_fen), -1) FROM insuring.accumulators WHERE person_id = 'P310000000003' AND year = $1 AND cap_group = 'OUTPATIENT'"; }
y2026=$(acc 2026)
jan=$(visit 2027-01-03 jan)
check "new year: deductible applies again" 1000 "$(json_field "$jan" deductible_fen)"
check "new year: its own accumulators" 1000 "$(acc 2027)"
check "new year: last year's untouched" "$y2026" "$(acc 2026)"

# An item the treating region's catalog does not list: fully self-paid and flagged.
sed 's/XJ01CAA040A001010100001/NOTLISTED0000001/' "$dir/nov.claim" >"$dir/unlisted.claim"
mc submit --wait --json "$dir/unlisted.claim" >"$dir/unlisted.out"
unlisted=$(head -1 "$dir/unlisted.out")
check "unlisted item flagged" True "$(line_field "$unlisted" not_in_catalog)"
check "unlisted item fully self-paid" 10000 "$(line_field "$unlisted" full_self_pay_fen)"
check "unlisted item: nothing for the funds" 0 "$(json_field "$unlisted" fund_fen)"

# A bad file: nothing of the load is applied, the error names the file, line and column.
mkdir -p "$dir/bad/treating"
cat >"$dir/bad/treating/catalog.csv" <<CSV
region,item_code,name,class,self_pay_first_bp,price_ceiling_fen,version,valid_from,valid_to
340000,NEWITEM0001,New item,A,0,0,C340000-2027,2027-01-01,
340000,NEWITEM0002,Broken item,D,0,0,C340000-2027,2027-01-01,
CSV
if mc data load "$dir/bad" >"$dir/bad.out" 2>&1; then rc=0; else rc=$?; fi
check "bad data file fails" 1 "$rc"
check "error names the file" 1 "$(grep -c 'catalog.csv' "$dir/bad.out")"
check "error names the line" 1 "$(grep -c 'line 3' "$dir/bad.out")"
check "nothing of the bad load applied" 0 "$(sql "SELECT count(*) FROM treating.catalog_items WHERE item_code LIKE 'NEWITEM%'")"
finish
