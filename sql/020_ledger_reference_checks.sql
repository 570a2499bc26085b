-- A posting's journal entry and account were foreign keys: two row checks a posting, each
-- a query of its own that locks the row it finds (FOR KEY SHARE). At 1,000 requests a
-- second that was 100,000 checks per 10,000 requests over the three ledgers, the most
-- frequent statements of the whole database (pg_stat_statements, track = all: 33 us of
-- executor time a request, before the cost of queueing and firing each trigger; in
-- EXPLAIN ANALYZE of one batch of 20 entries, 0.32 of the statement's 0.8 ms).
--
-- The statement-level check of sql/019 now also checks the references, once per INSERT
-- statement on postings: every entry it touched is in the journal and every account it
-- names is in the accounts, with the error and SQLSTATE (23503) a foreign key raises.
-- What the foreign keys also promised, that a referenced row is never removed, holds by
-- the rows' own rules: journal entries are append-only (sql/007, sql/008), and accounts
-- now refuse DELETE, TRUNCATE and a change of their name (their kind may still change).
-- A writer inserts an entry's journal row, its accounts and its postings in one
-- transaction, and the services in one statement (mc_ledger.c), in READ COMMITTED: a
-- new account another transaction committed first is seen, as the foreign key saw it.
-- The references stay declared where a finance team looks for them, as comments on the
-- two columns (psql's \d+ shows them), naming the check that keeps them.
-- Entries and accounts are looked up one by one (LATERAL), as sql/019 looks up the sums,
-- whatever the planner thinks of the transition table's size: through the primary key
-- once a table is more than a few pages (an accounts table of a few rows is read whole),
-- never by a hash join that reads a whole journal, or every hospital's account, per
-- statement.
CREATE FUNCTION public.mc_refuse_account_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'ledger accounts are never removed or renamed: % on %.% refused',
    TG_OP, TG_TABLE_SCHEMA, TG_TABLE_NAME USING ERRCODE = 'insufficient_privilege';
END $$;

DO $$
DECLARE
  s text;
  entry text;
BEGIN
  FOREACH s IN ARRAY ARRAY['treating', 'insuring', 'clearing'] LOOP
    -- The messages stay as they were: the centre's names the entry by its id alone.
    entry := CASE WHEN s = 'clearing' THEN 'journal entry %' ELSE format('journal entry %s.%%', s) END;
    EXECUTE format($f$
      CREATE OR REPLACE FUNCTION %1$I.check_entries() RETURNS trigger LANGUAGE plpgsql AS $b$
      DECLARE bad record;
      BEGIN
        SELECT a.account INTO bad
          FROM (SELECT DISTINCT account FROM new_postings) a,
               LATERAL (SELECT count(*) AS k FROM %1$I.accounts x WHERE x.account = a.account) x
         WHERE x.k = 0
         ORDER BY a.account LIMIT 1;
        IF FOUND THEN
          RAISE EXCEPTION 'a posting names account "%%", which is not in %1$s.accounts', bad.account
            USING ERRCODE = 'foreign_key_violation';
        END IF;
        SELECT n.entry_id, t.d, t.c, j.k = 1 AS known INTO bad
          FROM (SELECT DISTINCT entry_id FROM new_postings) n,
               LATERAL (SELECT count(*) AS k FROM %1$I.journal j WHERE j.entry_id = n.entry_id) j,
               LATERAL (SELECT coalesce(sum(p.debit_fen), 0) AS d,
                               coalesce(sum(p.credit_fen), 0) AS c
                          FROM %1$I.postings p WHERE p.entry_id = n.entry_id) t
         WHERE j.k = 0 OR t.d <> t.c OR t.d = 0
         ORDER BY n.entry_id LIMIT 1;
        IF FOUND AND NOT bad.known THEN
          RAISE EXCEPTION 'a posting names %2$s, which is not in %1$s.journal', bad.entry_id
            USING ERRCODE = 'foreign_key_violation';
        ELSIF FOUND THEN
          RAISE EXCEPTION '%2$s does not balance: debits %% credits %%', bad.entry_id, bad.d, bad.c;
        END IF;
        RETURN NULL;
      END $b$;
      ALTER TABLE %1$I.postings DROP CONSTRAINT postings_entry_id_fkey,
                                DROP CONSTRAINT postings_account_fkey;
      COMMENT ON COLUMN %1$I.postings.entry_id IS
        'references %1$s.journal (entry_id); checked once per statement by %1$s.check_entries(), not by a foreign key (sql/020)';
      COMMENT ON COLUMN %1$I.postings.account IS
        'references %1$s.accounts (account); checked once per statement by %1$s.check_entries(), not by a foreign key (sql/020)';
      CREATE TRIGGER accounts_kept BEFORE UPDATE OF account OR DELETE ON %1$I.accounts
        FOR EACH ROW EXECUTE FUNCTION public.mc_refuse_account_change();
      CREATE TRIGGER accounts_no_truncate BEFORE TRUNCATE ON %1$I.accounts
        FOR EACH STATEMENT EXECUTE FUNCTION public.mc_refuse_account_change();
    $f$, s, entry);
  END LOOP;
END $$;
