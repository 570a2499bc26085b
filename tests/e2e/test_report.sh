#!/usr/bin/env bash
# The month-end report of a clearing window (`medclear report window`), after the clearing
# cycle test: a window of claims over every pair is closed and issued but not yet paid,
# with quotas placed so its pairs' usage lies below, between and above the 70% and 90%
# lines. The text report's figures equal the statement rows in the database; the HTML
# page is self-contained, escapes what it shows and renders in headless Chromium without
# script errors (its screenshot is kept in the build directory); bad input is refused
# with a message and a non-zero exit, leaving no file behind. On a terminal `window
# close` and `data load` end with a summary line, which --quiet and a pipe leave out.
source "$(dirname "$0")/../integration/lib.sh"
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
out="$MC_BUILD_DIR/e2e/report" # this run's page and screenshot, the artifacts
rm -rf "$out"
mkdir -p "$out"
# on a pseudo-terminal, as someone at the keyboard; \r and ANSI-free, so grep reads it
on_tty() { script -qec "$(printf '%q ' "$MEDCLEAR" -c "$ROOT/deploy/config/medclear.conf" "$@")" /dev/null; }

# A month of claims over every pair, closed on a terminal and issued.
long_term_persons "$dir/persons"
inpatient_claims 14 8 "$dir/persons" "$dir/month.claims"
mc submit --wait --json --timeout-ms 60000 "$dir/month.claims" >"$dir/month.out"
check "claims settled" 14 "$(grep -c '"status":"ACCEPTED"' "$dir/month.out")"
on_tty window close >"$dir/close.tty"
check "window close on a terminal ends with a summary" 1 "$(grep -c 'closed window W[0-9T.]*: [0-9]* claims, fund [0-9.]* yuan; W[0-9T.]* is open in [0-9.]* m\?s' "$dir/close.tty")"
for w in $(sql "SELECT window_id FROM clearing.windows WHERE status = 'CLOSED' ORDER BY 1"); do
  mc window issue "$w" >/dev/null
done
w=$(sql "SELECT window_id FROM clearing.statement_lines JOIN clearing.windows USING (window_id)
  WHERE status = 'ISSUED' GROUP BY 1 ORDER BY count(*) FILTER (WHERE amount_fen > 0) DESC, 1 DESC LIMIT 1")
echo "report of window $w"

# Quotas for the pairs with nothing placed yet: usage 45%, 76%, 93% and 110% in turn.
targets=(4500 7600 9300 11000)
k=0
while read -r ins trt used; do
  mc prepay record --insuring "$ins" --treating "$trt" --kind PLACEMENT --reference "Q-report-$ins-$trt" \
    --amount $((used * 10000 / targets[k % 4])) >/dev/null
  k=$((k + 1))
done < <(sql "SELECT u.insuring_party || ' ' || u.treating_party || ' ' || u.used_fen FROM clearing.usage u
  JOIN clearing.statement_lines l USING (insuring_party, treating_party)
  WHERE l.window_id = '$w' AND u.quota_fen = 0 AND u.used_fen > 100 ORDER BY 1")
check "quotas placed over the lines" 1 "$(sql "SELECT (count(*) FILTER (WHERE usage_bp >= 9000) > 0 AND count(*) FILTER (WHERE usage_bp BETWEEN 7000 AND 8999) > 0)::int FROM clearing.usage")"

# The text report against the database: every figure, row by row.
mc report window "$w" >"$dir/report.txt"
section() { # section TITLE: the rows of the text report's section that starts with TITLE
  awk -v t="$1" 'index($0, t) == 1 { on = 1; next } on && /^$/ { exit } on' "$dir/report.txt"
}
fen='function fen(v) { gsub(/\./, "", v); return v + 0 }'
check "parties: receivable, payable and net of each" \
  "$(sql "SELECT party || ' ' || receivable_fen || ' ' || payable_fen || ' ' || net_fen FROM clearing.statement_parties WHERE window_id = '$w' ORDER BY party")" \
  "$(section Parties | awk "$fen"' $1 ~ /^[0-9]+$/ { print $1, fen($(NF-2)), fen($(NF-1)), fen($NF) }')"
check "parties: totals, nets summing to zero" \
  "$(sql "SELECT sum(receivable_fen) || ' ' || sum(payable_fen) || ' ' || sum(net_fen) FROM clearing.statement_parties WHERE window_id = '$w'")" \
  "$(section Parties | awk "$fen"' $1 == "total" { print fen($2), fen($3), fen($4) }')"
check "pairs: claims, amount and payment of each" \
  "$(sql "SELECT insuring_party || ' ' || treating_party || ' ' || claims || ' ' || amount_fen || ' ' || CASE WHEN paid THEN 'yes' ELSE 'no' END FROM clearing.window_statements WHERE window_id = '$w' ORDER BY insuring_party, treating_party")" \
  "$(section Pairs | awk "$fen"' $1 ~ /^[0-9]+$/ { print $1, $2, $3, fen($4), $5 }')"
check "pairs: totals" \
  "$(sql "SELECT sum(claims) || ' ' || sum(amount_fen) FROM clearing.statement_lines WHERE window_id = '$w'")" \
  "$(section Pairs | awk "$fen"' $1 == "total" { print $2, fen($3) }')"
check "quota usage of each pair" \
  "$(sql "SELECT u.insuring_party || ' ' || u.treating_party || ' ' || u.used_fen || ' ' || u.quota_fen || ' ' || coalesce(u.usage_bp::text, 'none') FROM clearing.usage u JOIN clearing.statement_lines l USING (insuring_party, treating_party) WHERE l.window_id = '$w' ORDER BY 1")" \
  "$(section Quota | awk "$fen"' $1 ~ /^[0-9]+$/ { print $1, $2, fen($3), fen($4), $5 == "no" ? "none" : fen($5) + 0 }')"
check "quota bars marked at the red line" "$(sql "SELECT count(*) FROM clearing.usage u JOIN clearing.statement_lines l USING (insuring_party, treating_party) WHERE l.window_id = '$w' AND usage_bp >= 9000")" \
  "$(section Quota | grep -c ' RED$')"

# HTML escapes what it shows: a party named with markup, for one rendering.
name=$(sql "SELECT name FROM clearing.parties WHERE code = '310000'")
sql "UPDATE clearing.parties SET name = 'Shang<b>hai & \"Co''</b>' WHERE code = '310000'"
mc report window "$w" --html "$dir/escaped.html" >/dev/null
sql "UPDATE clearing.parties SET name = '$name' WHERE code = '310000'"
check "markup in a name is escaped" 0 "$(grep -c '<b>' "$dir/escaped.html")"
check "escaped name shown" 1 "$(grep -q 'Shang&lt;b&gt;hai &amp; &quot;Co&#39;&lt;/b&gt;' "$dir/escaped.html" && echo 1)"

# The page: self-contained, one arrow per pair with an amount, one bar per pair.
html="$out/report-$w.html"
png="$out/report-$w.png"
rm -f "$html" "$png"
mc report window "$w" --html "$html" >"$dir/html.out"
check "HTML report written" "report of window $w written to $html" "$(cat "$dir/html.out")"
check "no external resources" 0 "$(grep -Eio '<link|src=|@import|url\(|https?://[^"]*' "$html" | grep -vc '^http://www.w3.org/2000/svg$')"
check "arrows: one per pair with an amount" "$(sql "SELECT count(*) FROM clearing.statement_lines WHERE window_id = '$w' AND amount_fen <> 0")" "$(grep -o '<path class="flow"' "$html" | wc -l)"
check "bars: one per pair" "$(sql "SELECT count(*) FROM clearing.statement_lines WHERE window_id = '$w'")" "$(grep -o '<div class="bar">' "$html" | wc -l)"
check "nets in yuan on the page" 1 "$(sql "SELECT net_fen FROM clearing.statement_parties WHERE window_id = '$w'" | while read -r n; do
  a=${n#-}; printf '%s.%02d\n' "$((a / 100))" "$((a % 100))"; done | { ok=1; while read -r y; do grep -q "&#165;$y<" "$html" || ok=0; done; echo $ok; })"

# Rendered by headless Chromium: the script marks the page once the diagram and bars are
# there (an error in it leaves no mark), and a screenshot shows them.
chrome=(chromium --headless --no-sandbox --disable-gpu --user-data-dir="$dir/chromium" --window-size=1400,1800)
timeout 120 "${chrome[@]}" --dump-dom "file://$html" >"$dir/dom.html" 2>"$dir/chromium.log" || true
check "page rendered without script errors" 1 "$(grep -c 'data-rendered="ok"' "$dir/dom.html")"
timeout 120 "${chrome[@]}" --screenshot="$png" "file://$html" >>"$dir/chromium.log" 2>&1 || true
check "screenshot is a 1400x1800 PNG" "1400x1800" "$(python3 -c 'import struct,sys
d = open(sys.argv[1], "rb").read(24)
print("%dx%d" % struct.unpack(">II", d[16:24]) if d[:8] == b"\x89PNG\r\n\x1a\n" else "not a PNG")' "$png" 2>&1)"
check "screenshot has content" 1 "$(($(stat -c %s "$png" 2>/dev/null || echo 0) > 50000))"
echo "screenshot: $png"

# Bad input.
status() { "$@" >"$dir/bad.out" 2>"$dir/bad.err"; echo $?; }
check "unknown window: exit 1" 1 "$(status mc report window W19990101T000000.000)"
check "unknown window: says so" 1 "$(grep -c 'no window "W19990101T000000.000"' "$dir/bad.err")"
check "malformed id: exit 2" 2 "$(status mc report window "W1'; DROP TABLE x")"
check "malformed id: says so" 1 "$(grep -c 'is not a window id' "$dir/bad.err")"
check "missing window id: exit 2" 2 "$(status mc report window)"
check "missing subcommand: exit 2" 2 "$(status mc report)"
check "--html without a file: exit 2" 2 "$(status mc report window "$w" --html)"
check "unwritable file: exit 1" 1 "$(status mc report window "$w" --html /nonexistent/report.html)"
check "unwritable file: says so" 1 "$(grep -c 'could not write "/nonexistent/report.html"' "$dir/bad.err")"
mkdir "$dir/taken"
check "file name taken by a directory: exit 1" 1 "$(status mc report window "$w" --html "$dir/taken")"
check "nothing half-written left behind" "taken" "$(cd "$dir" && ls -d taken*)"

# Progress lines and summaries: on a terminal only, and not with --quiet.
check "data load on a terminal ends with a summary" 1 "$(on_tty data load "$ROOT/deploy/sample" | grep -c 'data load: [0-9]* files, [0-9]* rows merged')"
check "data load --quiet: no summary" 0 "$(on_tty data load --quiet "$ROOT/deploy/sample" | grep -c 'data load:')"
check "data load in a pipe: no progress" 0 "$(mc data load "$ROOT/deploy/sample" 2>&1 | grep -c 'data load:')"
check "window close in a pipe: no summary" 0 "$(mc window close 2>&1 | grep -c 'closed window')"
finish
