-- Settlement of issued statements (DESIGN.md section 7): multilateral net settlement as
-- an option beside the bilateral gross default, due dates with overdue flags, and
-- balance snapshots of the three ledgers (section 6).

-- ---------------------------------------------------------------------------------------
-- Due dates. A due period is "N working days" (Monday to Friday, less the days in
-- clearing.holidays, counted in China Standard Time; due at the end of the Nth working
-- day after the start) or any PostgreSQL interval ("30 seconds" for tests and demos).
-- ---------------------------------------------------------------------------------------
CREATE TABLE clearing.holidays (
  day   date PRIMARY KEY,
  name  text NOT NULL
);

CREATE FUNCTION clearing.due_at(start timestamptz, period text) RETURNS timestamptz
LANGUAGE plpgsql STABLE AS $$
DECLARE
  m text[] := regexp_match(period, '^\s*([0-9]{1,3})\s+working\s+days?\s*$', 'i');
  d date;
  left_ integer;
  iv interval;
BEGIN
  IF m IS NOT NULL THEN
    d := (start AT TIME ZONE 'Asia/Shanghai')::date;
    left_ := m[1]::integer;
    WHILE left_ > 0 LOOP
      d := d + 1;
      IF extract(isodow FROM d) < 6 AND NOT EXISTS (SELECT 1 FROM clearing.holidays h WHERE h.day = d) THEN
        left_ := left_ - 1;
      END IF;
    END LOOP;
    RETURN (d + 1)::timestamp AT TIME ZONE 'Asia/Shanghai';
  END IF;
  BEGIN
    iv := period::interval;
  EXCEPTION WHEN others THEN
    RAISE EXCEPTION 'due period "%" is neither "N working days" nor an interval', period;
  END;
  IF iv <= interval '0' THEN
    RAISE EXCEPTION 'due period "%" must be positive', period;
  END IF;
  RETURN start + iv;
END $$;

ALTER TABLE clearing.windows
  ADD COLUMN settlement text NOT NULL DEFAULT 'BILATERAL'
    CHECK (settlement IN ('BILATERAL', 'MULTILATERAL')),
  ADD COLUMN confirm_due_at timestamptz,
  ADD COLUMN pay_due_at timestamptz;

-- ---------------------------------------------------------------------------------------
-- Multilateral net settlement: each party pays the centre its net debit, or is paid its
-- net credit, once for the whole window; the gross obligations between pairs are all
-- discharged together when the last transfer is recorded.
-- ---------------------------------------------------------------------------------------
CREATE TABLE clearing.net_transfers (
  window_id  text NOT NULL REFERENCES clearing.windows (window_id),
  party      text NOT NULL,
  amount_fen bigint NOT NULL,   -- > 0 the centre paid the party; < 0 the party paid the centre
  reference  text NOT NULL,
  paid_at    timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (window_id, party)
);

INSERT INTO clearing.accounts VALUES ('settlement:centre', 'ASSET') ON CONFLICT DO NOTHING;

-- The statement of a window as text: a bilateral one byte for byte as before (so the
-- hashes of statements issued before this migration still verify); a multilateral one
-- names its method and adds the net transfer of every party.
CREATE OR REPLACE FUNCTION clearing.statement_text(w text) RETURNS text LANGUAGE sql STABLE AS $$
  SELECT 'medclear clearing statement ' || win.window_id || E'\n'
      || 'period,' || to_char(win.period_start AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')
      || ',' || to_char(win.period_end AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') || E'\n'
      || CASE WHEN win.settlement = 'MULTILATERAL' THEN E'settlement,MULTILATERAL\n' ELSE '' END
      || E'insuring,treating,claims,amount_fen\n'
      || coalesce((SELECT string_agg(insuring_party || ',' || treating_party || ',' || claims || ','
                                     || amount_fen, E'\n' ORDER BY insuring_party, treating_party)
                     FROM clearing.statement_lines WHERE window_id = w) || E'\n', '')
      || E'party,receivable_fen,payable_fen,net_fen\n'
      || coalesce((SELECT string_agg(party || ',' || receivable_fen || ',' || payable_fen || ','
                                     || net_fen, E'\n' ORDER BY party)
                     FROM clearing.statement_parties WHERE window_id = w) || E'\n', '')
      || CASE WHEN win.settlement = 'MULTILATERAL' THEN
           E'net transfers: party,pays_centre_fen,paid_by_centre_fen\n'
           || coalesce((SELECT string_agg(party || ',' || greatest(-net_fen, 0) || ','
                                          || greatest(net_fen, 0), E'\n' ORDER BY party)
                          FROM clearing.statement_parties WHERE window_id = w AND net_fen <> 0)
                       || E'\n', '')
         ELSE '' END
    FROM clearing.windows win WHERE win.window_id = w
$$;

-- Issues the statement of a closed window with the given settlement method and due
-- periods. Returns its hash.
CREATE FUNCTION clearing.issue(w text, method text, confirm_due text, pay_due text) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE st text; h text;
BEGIN
  SELECT status INTO st FROM clearing.windows WHERE window_id = w FOR UPDATE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'no window %', w;
  ELSIF st <> 'CLOSED' THEN
    RAISE EXCEPTION 'window % is %, this needs it CLOSED', w, st;
  END IF;
  IF upper(method) NOT IN ('BILATERAL', 'MULTILATERAL') THEN
    RAISE EXCEPTION 'settlement method "%" is neither bilateral nor multilateral', method;
  END IF;
  INSERT INTO clearing.statement_lines
    SELECT window_id, insuring_party, treating_party, count(*), sum(fund_fen + tier2_fen)
      FROM clearing.claims WHERE window_id = w GROUP BY 1, 2, 3;
  UPDATE clearing.windows SET settlement = upper(method) WHERE window_id = w;
  h := encode(sha256(convert_to(clearing.statement_text(w), 'UTF8')), 'hex');
  UPDATE clearing.windows SET status = 'ISSUED', issued_at = now(), statement_sha256 = h,
         confirm_due_at = clearing.due_at(now(), confirm_due),
         pay_due_at = clearing.due_at(now(), pay_due)
   WHERE window_id = w;
  RETURN h;
END $$;

-- Usage falls by what was cleared, and the pair's alert follows it down.
CREATE FUNCTION clearing.clear_usage(ins text, trt text, amount bigint, yellow_bp bigint,
                                     red_bp bigint) RETURNS void
LANGUAGE sql AS $$
  UPDATE clearing.pairs SET used_fen = used_fen - amount,
         alert = CASE WHEN quota_fen <= 0 THEN 'NONE'
                      WHEN (used_fen - amount) * 10000 >= red_bp * quota_fen THEN 'RED'
                      WHEN (used_fen - amount) * 10000 >= yellow_bp * quota_fen THEN 'YELLOW'
                      ELSE 'NONE' END
   WHERE insuring_party = ins AND treating_party = trt
$$;

-- Posts one party's net settlement: its payable and receivable in the window are
-- discharged, the difference passing through the centre's settlement account.
CREATE FUNCTION clearing.post_net(src text, win text, memo text, party text, owed_to bigint,
                                  owed_by bigint) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE e bigint; diff bigint := owed_to - owed_by;
BEGIN
  IF owed_to = 0 AND owed_by = 0 THEN RETURN; END IF;
  INSERT INTO clearing.journal (source_id, window_id, memo) VALUES (src, win, memo)
    RETURNING entry_id INTO e;
  IF owed_to > 0 THEN
    INSERT INTO clearing.postings (entry_id, account, debit_fen) VALUES (e, 'payable:' || party, owed_to);
  END IF;
  IF owed_by > 0 THEN
    INSERT INTO clearing.postings (entry_id, account, credit_fen) VALUES (e, 'receivable:' || party, owed_by);
  END IF;
  IF diff > 0 THEN
    INSERT INTO clearing.postings (entry_id, account, credit_fen) VALUES (e, 'settlement:centre', diff);
  ELSIF diff < 0 THEN
    INSERT INTO clearing.postings (entry_id, account, debit_fen) VALUES (e, 'settlement:centre', -diff);
  END IF;
END $$;

-- Records a party's net transfer of a CONFIRMED multilateral window. When every party
-- with a non-zero net has settled, the parties whose net is zero are settled with it,
-- every statement line counts as paid, usage falls by each, and the window is SETTLED.
CREATE FUNCTION clearing.settle_net(w text, p text, ref text, yellow_bp bigint, red_bp bigint)
RETURNS text LANGUAGE plpgsql AS $$
DECLARE
  win clearing.windows%ROWTYPE;
  s clearing.statement_parties%ROWTYPE;
BEGIN
  SELECT * INTO win FROM clearing.windows WHERE window_id = w FOR UPDATE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'no window %', w;
  ELSIF win.status <> 'CONFIRMED' THEN
    RAISE EXCEPTION 'window % is %, this needs it CONFIRMED', w, win.status;
  ELSIF win.settlement <> 'MULTILATERAL' THEN
    RAISE EXCEPTION 'window % is settled bilaterally: give --insuring and --treating', w;
  END IF;
  SELECT * INTO s FROM clearing.statement_parties WHERE window_id = w AND party = p;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'party % has nothing in window %', p, w;
  ELSIF s.net_fen = 0 THEN
    RAISE EXCEPTION 'party % nets to zero in window %: nothing to transfer', p, w;
  ELSIF EXISTS (SELECT 1 FROM clearing.net_transfers t WHERE t.window_id = w AND t.party = p) THEN
    RAISE EXCEPTION 'the net transfer of party % in window % is already recorded', p, w;
  END IF;
  INSERT INTO clearing.net_transfers (window_id, party, amount_fen, reference)
    VALUES (w, p, s.net_fen, ref);
  PERFORM clearing.post_net(ref, w, 'net settlement ' || ref, p, s.receivable_fen::bigint, s.payable_fen::bigint);

  IF EXISTS (SELECT 1 FROM clearing.statement_parties x WHERE x.window_id = w AND x.net_fen <> 0
               AND NOT EXISTS (SELECT 1 FROM clearing.net_transfers t
                                WHERE t.window_id = w AND t.party = x.party)) THEN
    RETURN win.status;
  END IF;
  FOR s IN SELECT * FROM clearing.statement_parties x WHERE x.window_id = w AND x.net_fen = 0 LOOP
    INSERT INTO clearing.net_transfers (window_id, party, amount_fen, reference)
      VALUES (w, s.party, 0, 'net zero ' || w);
    PERFORM clearing.post_net('net zero ' || w, w, 'net settlement, nothing to transfer',
                              s.party, s.receivable_fen::bigint, s.payable_fen::bigint);
  END LOOP;
  INSERT INTO clearing.payments (window_id, insuring_party, treating_party, amount_fen, reference)
    SELECT window_id, insuring_party, treating_party, amount_fen, 'net ' || w
      FROM clearing.statement_lines WHERE window_id = w;
  PERFORM clearing.clear_usage(insuring_party, treating_party, amount_fen, yellow_bp, red_bp)
     FROM clearing.statement_lines WHERE window_id = w;
  UPDATE clearing.windows SET status = 'SETTLED' WHERE window_id = w;
  RETURN 'SETTLED';
END $$;

-- ---------------------------------------------------------------------------------------
-- Overdue items: a confirmation still missing after confirm_due_at, a transfer still
-- unrecorded after pay_due_at. Each is flagged once (and announced on
-- mc.clearing.events by the clearing service); the view shows what is overdue now.
-- ---------------------------------------------------------------------------------------
CREATE VIEW clearing.overdue AS
  SELECT w.window_id, 'CONFIRMATION'::text AS item, s.party, ''::text AS counterparty,
         0::bigint AS amount_fen, w.confirm_due_at AS due_at
    FROM clearing.windows w JOIN clearing.statement_parties s USING (window_id)
   WHERE w.status = 'ISSUED' AND w.confirm_due_at < now()
     AND NOT EXISTS (SELECT 1 FROM clearing.confirmations c
                      WHERE c.window_id = w.window_id AND c.party = s.party)
  UNION ALL
  SELECT w.window_id, 'PAYMENT', l.insuring_party, l.treating_party, l.amount_fen, w.pay_due_at
    FROM clearing.windows w JOIN clearing.statement_lines l USING (window_id)
   WHERE w.settlement = 'BILATERAL' AND w.status IN ('ISSUED', 'CONFIRMED')
     AND w.pay_due_at < now()
     AND NOT EXISTS (SELECT 1 FROM clearing.payments y WHERE y.window_id = w.window_id
                       AND y.insuring_party = l.insuring_party AND y.treating_party = l.treating_party)
  UNION ALL
  SELECT w.window_id, 'NET_TRANSFER', s.party, 'centre', s.net_fen, w.pay_due_at
    FROM clearing.windows w JOIN clearing.statement_parties s USING (window_id)
   WHERE w.settlement = 'MULTILATERAL' AND w.status IN ('ISSUED', 'CONFIRMED')
     AND w.pay_due_at < now() AND s.net_fen <> 0
     AND NOT EXISTS (SELECT 1 FROM clearing.net_transfers t
                      WHERE t.window_id = w.window_id AND t.party = s.party);

CREATE TABLE clearing.overdue_flags (
  window_id     text NOT NULL REFERENCES clearing.windows (window_id),
  item          text NOT NULL,
  party         text NOT NULL,
  counterparty  text NOT NULL,
  amount_fen    bigint NOT NULL,
  due_at        timestamptz NOT NULL,
  flagged_at    timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (window_id, item, party, counterparty)
);

-- Flags what became overdue since the last call; returns the new flags.
CREATE FUNCTION clearing.flag_overdue() RETURNS SETOF clearing.overdue_flags
LANGUAGE sql AS $$
  INSERT INTO clearing.overdue_flags (window_id, item, party, counterparty, amount_fen, due_at)
    SELECT window_id, item, party, counterparty, amount_fen, due_at FROM clearing.overdue
  ON CONFLICT DO NOTHING RETURNING *
$$;

-- ---------------------------------------------------------------------------------------
-- Ledger balance snapshots: per ledger, the balance of every account up to a journal
-- entry, so that balances read the latest snapshot plus the entries after it instead of
-- the whole journal. Snapshots are append-only like the journal. Taking one locks out
-- writers of the journal for its duration, so that no entry below its mark can commit
-- after it; it reads only the entries since the previous snapshot.
-- ---------------------------------------------------------------------------------------
CREATE FUNCTION pg_temp.mc_snapshots(s text) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE format($f$
    CREATE TABLE %1$I.balance_snapshots (
      snapshot_id  bigserial PRIMARY KEY,
      upto_entry   bigint NOT NULL,
      entries      bigint NOT NULL,
      taken_at     timestamptz NOT NULL DEFAULT now()
    );
    CREATE TABLE %1$I.snapshot_balances (
      snapshot_id  bigint NOT NULL REFERENCES %1$I.balance_snapshots (snapshot_id),
      account      text NOT NULL REFERENCES %1$I.accounts (account),
      debit_fen    bigint NOT NULL,
      credit_fen   bigint NOT NULL,
      PRIMARY KEY (snapshot_id, account)
    );
    CREATE TRIGGER snapshots_append_only BEFORE UPDATE OR DELETE ON %1$I.balance_snapshots
      FOR EACH ROW EXECUTE FUNCTION public.mc_refuse_change();
    CREATE TRIGGER snapshot_balances_append_only BEFORE UPDATE OR DELETE ON %1$I.snapshot_balances
      FOR EACH ROW EXECUTE FUNCTION public.mc_refuse_change();

    -- Takes a snapshot when at least min_entries entries were posted since the last one
    -- (0: always). Returns its id, or NULL when none was due.
    CREATE FUNCTION %1$I.take_snapshot(min_entries bigint) RETURNS bigint
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $p$
    DECLARE prev %1$I.balance_snapshots%%ROWTYPE; upto bigint; sid bigint; n bigint;
    BEGIN
      SELECT * INTO prev FROM %1$I.balance_snapshots ORDER BY snapshot_id DESC LIMIT 1;
      SELECT max(entry_id) INTO upto FROM %1$I.journal;
      IF upto IS NULL OR upto - coalesce(prev.upto_entry, 0) < greatest(min_entries, 1) THEN
        RETURN NULL;
      END IF;
      LOCK TABLE %1$I.journal, %1$I.postings IN SHARE MODE;
      SELECT max(entry_id) INTO upto FROM %1$I.journal;
      SELECT count(*) INTO n FROM %1$I.journal
       WHERE entry_id > coalesce(prev.upto_entry, 0) AND entry_id <= upto;
      INSERT INTO %1$I.balance_snapshots (upto_entry, entries)
        VALUES (upto, coalesce(prev.entries, 0) + n) RETURNING snapshot_id INTO sid;
      INSERT INTO %1$I.snapshot_balances (snapshot_id, account, debit_fen, credit_fen)
        SELECT sid, account, sum(d), sum(c) FROM (
          SELECT account, debit_fen AS d, credit_fen AS c FROM %1$I.snapshot_balances
           WHERE snapshot_id = prev.snapshot_id
          UNION ALL
          SELECT account, debit_fen, credit_fen FROM %1$I.postings
           WHERE entry_id > coalesce(prev.upto_entry, 0) AND entry_id <= upto) x
        GROUP BY account;
      RETURN sid;
    END $p$;

    -- What the latest snapshot gets wrong (`medclear verify`): none, always.
    CREATE VIEW %1$I.snapshot_differences AS
      WITH last AS (SELECT snapshot_id, upto_entry FROM %1$I.balance_snapshots
                     ORDER BY snapshot_id DESC LIMIT 1),
      s AS (SELECT account, debit_fen, credit_fen FROM %1$I.snapshot_balances
             WHERE snapshot_id = (SELECT snapshot_id FROM last)),
      p AS (SELECT account, sum(debit_fen) AS debit_fen, sum(credit_fen) AS credit_fen
              FROM %1$I.postings WHERE entry_id <= (SELECT upto_entry FROM last) GROUP BY account)
      SELECT account, s.debit_fen AS snapshot_debit_fen, s.credit_fen AS snapshot_credit_fen,
             p.debit_fen AS posted_debit_fen, p.credit_fen AS posted_credit_fen
        FROM s FULL JOIN p USING (account)
       WHERE (s.debit_fen, s.credit_fen) IS DISTINCT FROM (p.debit_fen, p.credit_fen);

    CREATE OR REPLACE VIEW %1$I.trial_balance AS
      WITH last AS (SELECT snapshot_id, upto_entry FROM %1$I.balance_snapshots
                     ORDER BY snapshot_id DESC LIMIT 1)
      SELECT account, a.kind, sum(d) AS debit_fen, sum(c) AS credit_fen,
             sum(d) - sum(c) AS balance_fen
        FROM (SELECT account, debit_fen AS d, credit_fen AS c FROM %1$I.snapshot_balances
               WHERE snapshot_id = (SELECT snapshot_id FROM last)
              UNION ALL
              SELECT account, debit_fen, credit_fen FROM %1$I.postings
               WHERE entry_id > coalesce((SELECT upto_entry FROM last), 0)) x
        JOIN %1$I.accounts a USING (account)
       GROUP BY account, a.kind;
  $f$, s);
END $$;

SELECT pg_temp.mc_snapshots('treating');
SELECT pg_temp.mc_snapshots('insuring');
SELECT pg_temp.mc_snapshots('clearing');

-- Finance reads the overdue items and the snapshots; services take their own snapshots.
DO $$
DECLARE s text;
BEGIN
  FOREACH s IN ARRAY ARRAY['treating', 'insuring', 'clearing'] LOOP
    EXECUTE format('GRANT SELECT, INSERT ON %1$I.balance_snapshots, %1$I.snapshot_balances TO %2$I',
                   s, 'medclear_' || s);
    EXECUTE format('GRANT USAGE, SELECT ON %I.balance_snapshots_snapshot_id_seq TO %I', s, 'medclear_' || s);
    EXECUTE format('GRANT EXECUTE ON FUNCTION %I.take_snapshot(bigint) TO %I', s, 'medclear_' || s);
    EXECUTE format('GRANT SELECT ON %I.trial_balance TO medclear_finance', s);
  END LOOP;
END $$;
GRANT SELECT, INSERT ON clearing.holidays, clearing.net_transfers, clearing.overdue_flags
  TO medclear_clearing;
GRANT SELECT ON clearing.overdue TO medclear_clearing;
GRANT SELECT ON clearing.overdue, clearing.overdue_flags, clearing.net_transfers, clearing.holidays
  TO medclear_finance;
