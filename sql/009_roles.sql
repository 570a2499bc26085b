-- Least-privilege roles. Roles belong to the whole PostgreSQL cluster, so they are made
-- only when missing; the grants belong to this database. A later migration that adds a
-- table grants it to its role in the same file.
--
--   medclear_treating, medclear_insuring, medclear_clearing: a service's own schema
--     only: read, insert and update; no DELETE anywhere, and no UPDATE of the ledger
--     (append-only by privilege as well as by trigger).
--   medclear_finance: read-only, and only the finance views.
DO $$
DECLARE r text;
BEGIN
  FOREACH r IN ARRAY ARRAY['medclear_treating', 'medclear_insuring', 'medclear_clearing',
                           'medclear_finance'] LOOP
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = r) THEN
      EXECUTE format('CREATE ROLE %I LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE', r);
    END IF;
  END LOOP;
END $$;

DO $$
DECLARE s text;
BEGIN
  FOREACH s IN ARRAY ARRAY['treating', 'insuring', 'clearing'] LOOP
    EXECUTE format('GRANT USAGE ON SCHEMA %I TO %I', s, 'medclear_' || s);
    EXECUTE format('GRANT SELECT, INSERT, UPDATE ON ALL TABLES IN SCHEMA %I TO %I', s, 'medclear_' || s);
    EXECUTE format('REVOKE UPDATE ON %I.journal, %I.postings FROM %I', s, s, 'medclear_' || s);
    EXECUTE format('GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA %I TO %I', s, 'medclear_' || s);
    EXECUTE format('GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA %I TO %I', s, 'medclear_' || s);
    EXECUTE format('GRANT USAGE ON SCHEMA %I TO medclear_finance', s);
    EXECUTE format('GRANT SELECT ON %I.trial_balance TO medclear_finance', s);
  END LOOP;
END $$;

GRANT SELECT ON clearing.statement_parties, clearing.usage TO medclear_finance;

-- Statements and windows for finance, without the claims behind them.
CREATE VIEW clearing.window_statements AS
  SELECT w.window_id, w.status, w.period_start, w.period_end, w.statement_sha256,
         l.insuring_party, l.treating_party, l.claims, l.amount_fen,
         EXISTS (SELECT 1 FROM clearing.payments y WHERE y.window_id = l.window_id
                   AND y.insuring_party = l.insuring_party
                   AND y.treating_party = l.treating_party) AS paid
    FROM clearing.windows w JOIN clearing.statement_lines l USING (window_id);
GRANT SELECT ON clearing.window_statements TO medclear_finance;
