-- The treating and insuring regions' double-entry ledgers (DESIGN.md section 6), built
-- like the clearing centre's: accounts, append-only journal entries (each with its source
-- message id and claim) and postings that always balance.
--
-- Treating region: for each settled claim (undos negative), what the insuring region
-- owes it (due_from:<insuring region>, asset) against what it owes the hospital for the
-- funds' share (payable:<hospital>, liability).
-- Insuring region: the fund expense of its insured treated elsewhere
-- (fund_expense:<treating region>) against what it owes that region (payable:<region>).

CREATE FUNCTION public.mc_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'ledger entries are append-only: % on %.% refused', TG_OP, TG_TABLE_SCHEMA, TG_TABLE_NAME
    USING ERRCODE = 'insufficient_privilege';
END $$;

CREATE FUNCTION public.mc_check_balanced() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE d bigint; c bigint;
BEGIN
  EXECUTE format('SELECT coalesce(sum(debit_fen), 0), coalesce(sum(credit_fen), 0) FROM %I.postings '
                 'WHERE entry_id = $1', TG_TABLE_SCHEMA) INTO d, c USING NEW.entry_id;
  IF d <> c OR d = 0 THEN
    RAISE EXCEPTION 'journal entry %.% does not balance: debits % credits %', TG_TABLE_SCHEMA, NEW.entry_id, d, c;
  END IF;
  RETURN NULL;
END $$;

CREATE FUNCTION pg_temp.mc_ledger(s text) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE format($f$
    CREATE TABLE %1$I.accounts (
      account  text PRIMARY KEY,
      kind     text NOT NULL CHECK (kind IN ('ASSET', 'LIABILITY', 'EXPENSE'))
    );
    CREATE TABLE %1$I.journal (
      entry_id   bigserial PRIMARY KEY,
      source_id  text NOT NULL,
      claim_id   text,
      memo       text NOT NULL,
      posted_at  timestamptz NOT NULL DEFAULT now()
    );
    CREATE INDEX ON %1$I.journal (claim_id);
    CREATE TABLE %1$I.postings (
      entry_id    bigint NOT NULL REFERENCES %1$I.journal (entry_id),
      account     text NOT NULL REFERENCES %1$I.accounts (account),
      debit_fen   bigint NOT NULL DEFAULT 0 CHECK (debit_fen >= 0),
      credit_fen  bigint NOT NULL DEFAULT 0 CHECK (credit_fen >= 0),
      CHECK ((debit_fen = 0) <> (credit_fen = 0))
    );
    CREATE INDEX ON %1$I.postings (entry_id);
    CREATE TRIGGER journal_append_only BEFORE UPDATE OR DELETE ON %1$I.journal
      FOR EACH ROW EXECUTE FUNCTION public.mc_refuse_change();
    CREATE TRIGGER postings_append_only BEFORE UPDATE OR DELETE ON %1$I.postings
      FOR EACH ROW EXECUTE FUNCTION public.mc_refuse_change();
    CREATE TRIGGER journal_no_truncate BEFORE TRUNCATE ON %1$I.journal
      FOR EACH STATEMENT EXECUTE FUNCTION public.mc_refuse_change();
    CREATE TRIGGER postings_no_truncate BEFORE TRUNCATE ON %1$I.postings
      FOR EACH STATEMENT EXECUTE FUNCTION public.mc_refuse_change();
    CREATE CONSTRAINT TRIGGER postings_balanced AFTER INSERT ON %1$I.postings
      DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION public.mc_check_balanced();

    -- Posts amount from debit to credit (the other way round when negative).
    CREATE FUNCTION %1$I.post(src text, claim text, memo text, dr text, dr_kind text,
                              cr text, cr_kind text, amount bigint)
    RETURNS void LANGUAGE plpgsql AS $p$
    DECLARE e bigint; a bigint := abs(amount);
    BEGIN
      IF amount = 0 THEN RETURN; END IF;
      INSERT INTO %1$I.accounts VALUES (dr, dr_kind), (cr, cr_kind) ON CONFLICT DO NOTHING;
      INSERT INTO %1$I.journal (source_id, claim_id, memo) VALUES (src, claim, memo)
        RETURNING entry_id INTO e;
      INSERT INTO %1$I.postings (entry_id, account, debit_fen, credit_fen) VALUES
        (e, dr, CASE WHEN amount > 0 THEN a ELSE 0 END, CASE WHEN amount < 0 THEN a ELSE 0 END),
        (e, cr, CASE WHEN amount < 0 THEN a ELSE 0 END, CASE WHEN amount > 0 THEN a ELSE 0 END);
    END $p$;

    CREATE VIEW %1$I.trial_balance AS
      SELECT account, a.kind, sum(debit_fen) AS debit_fen, sum(credit_fen) AS credit_fen,
             sum(debit_fen) - sum(credit_fen) AS balance_fen
        FROM %1$I.postings JOIN %1$I.accounts a USING (account)
       GROUP BY account, a.kind;
  $f$, s);
END $$;

SELECT pg_temp.mc_ledger('treating');
SELECT pg_temp.mc_ledger('insuring');

-- Entries for what was settled before the ledgers existed, so the books start complete.
SELECT treating.post('migration', claim_id, 'claim ' || claim_id, 'due_from:' || insuring_region,
                     'ASSET', 'payable:' || hospital_code, 'LIABILITY', fund_fen + tier2_fen)
  FROM treating.claims WHERE status = 'SETTLED' ORDER BY created_at;
SELECT insuring.post('migration', claim_id, 'claim ' || claim_id, 'fund_expense:' || treating_region,
                     'EXPENSE', 'payable:' || treating_region, 'LIABILITY', fund_fen + tier2_fen)
  FROM insuring.settlements WHERE status IN ('SETTLED', 'CANCELLED') ORDER BY created_at;

-- The centre's entries name their claim too, so the three ledgers reconcile claim by claim.
ALTER TABLE clearing.journal ADD COLUMN claim_id text;
CREATE INDEX ON clearing.journal (claim_id);
DROP FUNCTION clearing.post_pair(text, text, text, text, text, bigint);
CREATE FUNCTION clearing.post_pair(src text, win text, memo text, claim text, ins text, trt text,
                                   amount bigint)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE e bigint; a bigint := abs(amount);
BEGIN
  IF amount = 0 THEN RETURN; END IF;
  INSERT INTO clearing.accounts VALUES ('receivable:' || ins, 'ASSET'), ('payable:' || trt, 'LIABILITY')
    ON CONFLICT DO NOTHING;
  INSERT INTO clearing.journal (source_id, window_id, memo, claim_id) VALUES (src, win, memo, claim)
    RETURNING entry_id INTO e;
  INSERT INTO clearing.postings (entry_id, account, debit_fen, credit_fen) VALUES
    (e, 'receivable:' || ins, CASE WHEN amount > 0 THEN a ELSE 0 END, CASE WHEN amount < 0 THEN a ELSE 0 END),
    (e, 'payable:' || trt, CASE WHEN amount < 0 THEN a ELSE 0 END, CASE WHEN amount > 0 THEN a ELSE 0 END);
END $$;
