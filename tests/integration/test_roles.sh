#!/usr/bin/env bash
# Least-privilege database roles: the finance role reads the finance views and nothing
# else, and can change nothing; a service's role reaches only its own schema and cannot
# delete or rewrite ledger entries.
source "$(dirname "$0")/lib.sh"
as() { # as ROLE SQL: 0 when the statement succeeds
  psql "${MEDCLEAR_DB_CONNINFO/user=medclear /user=$1 }" -XAtq -v ON_ERROR_STOP=1 \
    -c "BEGIN" -c "$2" -c "ROLLBACK" >/dev/null 2>&1 && echo 0 || echo 1
}
refusal() { # refusal ROLE SQL: the first error (SQLSTATE and message) SQL raises, rolled back
  psql "${MEDCLEAR_DB_CONNINFO/user=medclear /user=$1 }" -XAtq -v ON_ERROR_STOP=1 -v VERBOSITY=verbose \
    -c "BEGIN" -c "$2" -c "ROLLBACK" 2>&1 >/dev/null | grep -m1 '^ERROR' || true
}
for view in clearing.trial_balance clearing.statement_parties clearing.usage \
  clearing.window_statements treating.trial_balance insuring.trial_balance; do
  check "finance reads $view" 0 "$(as medclear_finance "SELECT count(*) FROM $view")"
done
check "finance cannot read claims" 1 "$(as medclear_finance "SELECT count(*) FROM clearing.claims")"
check "finance cannot read persons" 1 "$(as medclear_finance "SELECT count(*) FROM insuring.persons")"
check "finance cannot insert" 1 "$(as medclear_finance "INSERT INTO clearing.accounts VALUES ('x', 'ASSET')")"
check "finance cannot update" 1 "$(as medclear_finance "UPDATE clearing.pairs SET quota_fen = 0")"
check "finance cannot delete" 1 "$(as medclear_finance "DELETE FROM clearing.alerts")"

check "treating role reads its schema" 0 "$(as medclear_treating "SELECT count(*) FROM treating.claims")"
check "treating role writes its schema" 0 "$(as medclear_treating "INSERT INTO treating.regions VALUES ('990000', 'Test')")"
check "treating role cannot read the insuring schema" 1 "$(as medclear_treating "SELECT count(*) FROM insuring.persons")"
check "treating role cannot read the centre's schema" 1 "$(as medclear_treating "SELECT count(*) FROM clearing.claims")"
check "treating role cannot delete" 1 "$(as medclear_treating "DELETE FROM treating.inbox")"
check "treating role cannot update its ledger" 1 "$(as medclear_treating "UPDATE treating.journal SET memo = memo")"
check "insuring role cannot read the treating schema" 1 "$(as medclear_insuring "SELECT count(*) FROM treating.claims")"
check "insuring role updates accumulators" 0 "$(as medclear_insuring "UPDATE insuring.accumulators SET year = year WHERE false")"
check "clearing role cannot delete postings" 1 "$(as medclear_clearing "DELETE FROM clearing.postings")"
check "clearing role posts balanced entries" 0 "$(as medclear_clearing "SELECT clearing.post_pair('test', NULL, 'test', NULL, '310000', '320000', 1)")"
# Every journal entry balances, checked at the end of each statement that adds postings,
# over all the postings of the entries it touched (sql/019_ledger_statement_checks.sql).
mc submit --wait --timeout-ms 60000 "$ROOT/deploy/sample/claims/1-inpatient-long-term.claim" >/dev/null 2>&1 || true
for s in treating insuring; do
  acct=$(sql "SELECT account FROM $s.accounts ORDER BY account LIMIT 1")
  check "$s: a balanced entry commits" 0 "$(as "medclear_$s" "SELECT $s.post('test', NULL, 'test', '$acct', 'ASSET', 'test:other', 'LIABILITY', 5); SET CONSTRAINTS ALL IMMEDIATE")"
  unbalanced="WITH e AS (INSERT INTO $s.journal (source_id, memo) VALUES ('test', 'test') RETURNING entry_id) INSERT INTO $s.postings (entry_id, account, debit_fen) SELECT entry_id, '$acct', 5 FROM e; SET CONSTRAINTS ALL IMMEDIATE"
  check "$s: an entry that does not balance is refused" 1 "$(as "medclear_$s" "$unbalanced")"
  err=$(refusal "medclear_$s" "$unbalanced")
  check "$s: the refusal names the entry and its sums" 1 "$(grep -cE "journal entry $s\.[0-9]+ does not balance: debits 5 credits 0" <<<"$err")"
done
# The centre's ledger has the same check.
unbalanced="WITH e AS (INSERT INTO clearing.journal (source_id, memo) VALUES ('test', 'test') RETURNING entry_id) INSERT INTO clearing.postings (entry_id, account, credit_fen) SELECT entry_id, 'settlement:centre', 7 FROM e; SET CONSTRAINTS ALL IMMEDIATE"
check "clearing: an entry that does not balance is refused" 1 "$(as medclear_clearing "$unbalanced")"
err=$(refusal medclear_clearing "$unbalanced")
check "clearing: the refusal names the entry and its sums" 1 "$(grep -cE "journal entry [0-9]+ does not balance: debits 0 credits 7" <<<"$err")"
check "clearing: a balanced entry commits" 0 "$(as medclear_clearing "SELECT clearing.post_pair('test', NULL, 'test', NULL, '310000', '320000', 3); SET CONSTRAINTS ALL IMMEDIATE")"
# A posting added later to an entry that balanced is checked with the entry's earlier
# postings; an entry balanced by two statements is refused at the first.
latest="(SELECT max(entry_id) FROM clearing.journal)"
check "clearing: a posting added to a balanced entry is refused" 1 "$(as medclear_clearing "SELECT clearing.post_pair('test', NULL, 'test', NULL, '310000', '320000', 3); INSERT INTO clearing.postings (entry_id, account, debit_fen) VALUES ($latest, 'settlement:centre', 1)")"
check "clearing: a posting that keeps the entry balanced is accepted" 0 "$(as medclear_clearing "SELECT clearing.post_pair('test', NULL, 'test', NULL, '310000', '320000', 3); INSERT INTO clearing.postings (entry_id, account, debit_fen, credit_fen) SELECT $latest, 'settlement:centre', d, c FROM (VALUES (2, 0), (0, 2)) v(d, c)")"
check "clearing: an entry balanced only by a second statement is refused" 1 "$(as medclear_clearing "${unbalanced%; SET CONSTRAINTS*}; INSERT INTO clearing.postings (entry_id, account, debit_fen) VALUES ($latest, 'settlement:centre', 7); SET CONSTRAINTS ALL IMMEDIATE")"
# A posting's entry and account are checked once per statement, not by foreign keys
# (sql/020_ledger_reference_checks.sql): the same refusal, SQLSTATE 23503, and accounts
# are never removed or renamed.
for s in treating insuring clearing; do
  acct=$(sql "SELECT account FROM $s.accounts ORDER BY account LIMIT 1")
  entry=$([[ $s == clearing ]] && echo "journal entry" || echo "journal entry $s.")
  pair="INSERT INTO $s.postings (entry_id, account, debit_fen, credit_fen) SELECT e, a, d, c FROM (VALUES"
  journal="WITH e AS (INSERT INTO $s.journal (source_id, memo) VALUES ('test', 'test') RETURNING entry_id)"
  check "$s: a posting to an account the ledger does not hold is refused" 1 "$(grep -c "ERROR:  23503: a posting names account \"test:nowhere\", which is not in $s.accounts" \
    <<<"$(refusal "medclear_$s" "$journal $pair ((SELECT entry_id FROM e), '$acct', 4, 0), ((SELECT entry_id FROM e), 'test:nowhere', 0, 4)) v(e, a, d, c)")")"
  check "$s: a posting to an entry the journal does not hold is refused" 1 "$(grep -cE "ERROR:  23503: a posting names $entry ?999999999, which is not in $s.journal" \
    <<<"$(refusal "medclear_$s" "$pair (999999999, '$acct', 4, 0), (999999999, '$acct', 0, 4)) v(e, a, d, c)")")"
  check "$s: an account cannot be deleted" 1 "$(grep -c "ledger accounts are never removed or renamed: DELETE on $s.accounts refused" \
    <<<"$(refusal medclear "DELETE FROM $s.accounts WHERE account = '$acct'")")"
  check "$s: an account cannot be renamed" 1 "$(grep -c "ledger accounts are never removed or renamed: UPDATE on $s.accounts refused" \
    <<<"$(refusal medclear "UPDATE $s.accounts SET account = account || 'x' WHERE account = '$acct'")")"
  check "$s: the postings' two references are declared on their columns" 2 "$(sql "SELECT count(*) FROM pg_attribute a WHERE a.attrelid = '$s.postings'::regclass AND a.attname IN ('entry_id', 'account') AND col_description(a.attrelid, a.attnum) LIKE 'references $s.% checked once per statement by $s.check_entries()%'")"
  check "$s: the accounts cannot be truncated" 1 "$(grep -c "ledger accounts are never removed or renamed: TRUNCATE on $s.accounts refused" \
    <<<"$(refusal medclear "TRUNCATE $s.accounts CASCADE")")"
done
# A claim's fee lines are kept as one array per claim (sql/012_claim_lines.sql): the
# treating role reads them through treating.claim_lines, and lines that do not add up are
# refused.
claim=$(sql "SELECT claim_id FROM treating.claim_line_sets ORDER BY claim_id DESC LIMIT 1")
check "the submitted claim has its lines" 1 "$([[ -n $claim ]] && echo 1 || echo 0)"
check "the treating role reads a claim's lines" 0 "$(as medclear_treating "SELECT 1/count(*) FROM treating.claim_lines WHERE claim_id = '$claim'")"
check "claims whose lines do not add up to the total" 0 "$(sql "SELECT count(*) FROM treating.claims c JOIN (SELECT claim_id, sum(amount_fen) AS s FROM treating.claim_lines GROUP BY claim_id) l USING (claim_id) WHERE c.total_fen <> l.s")"
check "the treating role cannot change a claim's lines" 1 "$(as medclear_treating "UPDATE treating.claim_line_sets SET lines = lines WHERE claim_id = '$claim'")"
check "a claim's lines left as they are pass the check" 0 "$(as medclear "UPDATE treating.claim_line_sets SET lines[1].amount_fen = (lines[1]).amount_fen WHERE claim_id = '$claim'")"
for change in "lines[1].amount_fen = (lines[1]).amount_fen + 1" "lines[2].line_no = (lines[1]).line_no" \
  "lines[1].item_code = NULL" "lines[1].over_limit_fen = NULL"; do
  err=$(refusal medclear "UPDATE treating.claim_line_sets SET $change WHERE claim_id = '$claim'")
  check "lines changed by $change are refused" 1 "$(grep -c 'violates check constraint "claim_lines_add_up"' <<<"$err")"
done
finish
