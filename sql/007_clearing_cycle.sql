-- Prepay, then clear (先预付后清算, DESIGN.md section 7) at the clearing centre: clearing
-- windows, statements, confirmations, payments, prepayment quotas and usage, alerts, and
-- the centre's double-entry ledger. Money in fen.

-- Windows: exactly one OPEN at a time; a claim belongs to the window open when the centre
-- booked it. OPEN -> CLOSED -> ISSUED -> CONFIRMED -> SETTLED; ISSUED -> CLOSED (abort).
CREATE TABLE clearing.windows (
  window_id     text PRIMARY KEY,
  period_start  timestamptz NOT NULL,
  period_end    timestamptz NOT NULL,
  status        text NOT NULL CHECK (status IN ('OPEN', 'CLOSED', 'ISSUED', 'CONFIRMED', 'SETTLED')),
  closed_at     timestamptz,
  issued_at     timestamptz,
  statement_sha256 text,
  CHECK (period_end > period_start)
);
CREATE UNIQUE INDEX windows_one_open ON clearing.windows ((true)) WHERE status = 'OPEN';

ALTER TABLE clearing.claims ADD COLUMN window_id text REFERENCES clearing.windows (window_id);
CREATE INDEX ON clearing.claims (window_id, insuring_party, treating_party) WHERE window_id IS NOT NULL;

-- A statement: what each insuring party owes each treating party for the window.
CREATE TABLE clearing.statement_lines (
  window_id       text NOT NULL REFERENCES clearing.windows (window_id),
  insuring_party  text NOT NULL,
  treating_party  text NOT NULL,
  claims          bigint NOT NULL,
  amount_fen      bigint NOT NULL,   -- C(P,T): net fund (pooled + tier 2) booked in the window
  PRIMARY KEY (window_id, insuring_party, treating_party)
);

CREATE TABLE clearing.confirmations (
  window_id     text NOT NULL REFERENCES clearing.windows (window_id),
  party         text NOT NULL,
  confirmed_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (window_id, party)
);

-- Transfers recorded against a statement (bilateral gross by default).
CREATE TABLE clearing.payments (
  window_id       text NOT NULL REFERENCES clearing.windows (window_id),
  insuring_party  text NOT NULL,
  treating_party  text NOT NULL,
  amount_fen      bigint NOT NULL,
  reference       text NOT NULL,
  paid_at         timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (window_id, insuring_party, treating_party)
);

-- Prepayment quotas Q(P,T), with every movement kept (annual placement, top-ups, refunds).
CREATE TABLE clearing.quota_movements (
  id              bigserial PRIMARY KEY,
  insuring_party  text NOT NULL,
  treating_party  text NOT NULL,
  kind            text NOT NULL CHECK (kind IN ('PLACEMENT', 'TOPUP', 'REFUND')),
  amount_fen      bigint NOT NULL CHECK (amount_fen > 0),
  reference       text NOT NULL,
  recorded_at     timestamptz NOT NULL DEFAULT now()
);

-- Per pair: quota, usage U(P,T) (booked fund not yet cleared by a payment) and the alert
-- level already announced, so each alert is published once per crossing.
CREATE TABLE clearing.pairs (
  insuring_party  text NOT NULL,
  treating_party  text NOT NULL,
  quota_fen       bigint NOT NULL DEFAULT 0,
  used_fen        bigint NOT NULL DEFAULT 0,
  alert           text NOT NULL DEFAULT 'NONE' CHECK (alert IN ('NONE', 'YELLOW', 'RED')),
  PRIMARY KEY (insuring_party, treating_party)
);

-- The centre's ledger: append-only journal entries with balanced postings.
CREATE TABLE clearing.accounts (
  account   text PRIMARY KEY,   -- e.g. 'receivable:320000', 'payable:310000'
  kind      text NOT NULL CHECK (kind IN ('ASSET', 'LIABILITY'))
);

CREATE TABLE clearing.journal (
  entry_id    bigserial PRIMARY KEY,
  source_id   text NOT NULL,     -- message id or operator reference that caused it
  window_id   text REFERENCES clearing.windows (window_id),
  memo        text NOT NULL,
  posted_at   timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE clearing.postings (
  entry_id    bigint NOT NULL REFERENCES clearing.journal (entry_id),
  account     text NOT NULL REFERENCES clearing.accounts (account),
  debit_fen   bigint NOT NULL DEFAULT 0 CHECK (debit_fen >= 0),
  credit_fen  bigint NOT NULL DEFAULT 0 CHECK (credit_fen >= 0),
  CHECK ((debit_fen = 0) <> (credit_fen = 0))
);
CREATE INDEX ON clearing.postings (entry_id);

-- Posted entries are never changed: corrections are new entries.
CREATE FUNCTION clearing.refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'ledger entries are append-only: % on %.% refused', TG_OP, TG_TABLE_SCHEMA, TG_TABLE_NAME
    USING ERRCODE = 'insufficient_privilege';
END $$;
CREATE TRIGGER journal_append_only BEFORE UPDATE OR DELETE ON clearing.journal
  FOR EACH ROW EXECUTE FUNCTION clearing.refuse_change();
CREATE TRIGGER postings_append_only BEFORE UPDATE OR DELETE ON clearing.postings
  FOR EACH ROW EXECUTE FUNCTION clearing.refuse_change();
CREATE TRIGGER journal_no_truncate BEFORE TRUNCATE ON clearing.journal
  FOR EACH STATEMENT EXECUTE FUNCTION clearing.refuse_change();
CREATE TRIGGER postings_no_truncate BEFORE TRUNCATE ON clearing.postings
  FOR EACH STATEMENT EXECUTE FUNCTION clearing.refuse_change();

-- Every entry balances, checked when its transaction commits.
CREATE FUNCTION clearing.check_balanced() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE d bigint; c bigint;
BEGIN
  SELECT coalesce(sum(debit_fen), 0), coalesce(sum(credit_fen), 0) INTO d, c
    FROM clearing.postings WHERE entry_id = NEW.entry_id;
  IF d <> c OR d = 0 THEN
    RAISE EXCEPTION 'journal entry % does not balance: debits % credits %', NEW.entry_id, d, c;
  END IF;
  RETURN NULL;
END $$;
CREATE CONSTRAINT TRIGGER postings_balanced AFTER INSERT ON clearing.postings
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION clearing.check_balanced();

-- Books one amount between an insuring and a treating party: the insuring party owes it
-- (receivable of the centre's books), the treating party is owed it (payable). A negative
-- amount (a cancel) posts the other way round.
CREATE FUNCTION clearing.post_pair(src text, win text, memo text, ins text, trt text, amount bigint)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE e bigint; a bigint := abs(amount);
BEGIN
  IF amount = 0 THEN RETURN; END IF;
  INSERT INTO clearing.accounts VALUES ('receivable:' || ins, 'ASSET'), ('payable:' || trt, 'LIABILITY')
    ON CONFLICT DO NOTHING;
  INSERT INTO clearing.journal (source_id, window_id, memo) VALUES (src, win, memo) RETURNING entry_id INTO e;
  INSERT INTO clearing.postings (entry_id, account, debit_fen, credit_fen) VALUES
    (e, 'receivable:' || ins, CASE WHEN amount > 0 THEN a ELSE 0 END, CASE WHEN amount < 0 THEN a ELSE 0 END),
    (e, 'payable:' || trt, CASE WHEN amount < 0 THEN a ELSE 0 END, CASE WHEN amount > 0 THEN a ELSE 0 END);
END $$;

-- Finance views (read by the read-only role).
CREATE VIEW clearing.trial_balance AS
  SELECT account, a.kind, sum(debit_fen) AS debit_fen, sum(credit_fen) AS credit_fen,
         sum(debit_fen) - sum(credit_fen) AS balance_fen
    FROM clearing.postings JOIN clearing.accounts a USING (account)
   GROUP BY account, a.kind;

CREATE VIEW clearing.statement_parties AS
  SELECT window_id, party, sum(receivable) AS receivable_fen, sum(payable) AS payable_fen,
         sum(receivable) - sum(payable) AS net_fen
    FROM (SELECT window_id, treating_party AS party, amount_fen AS receivable, 0::bigint AS payable
            FROM clearing.statement_lines
          UNION ALL
          SELECT window_id, insuring_party, 0, amount_fen FROM clearing.statement_lines) x
   GROUP BY window_id, party;

CREATE VIEW clearing.usage AS
  SELECT insuring_party, treating_party, quota_fen, used_fen,
         CASE WHEN quota_fen > 0 THEN used_fen * 10000 / quota_fen END AS usage_bp, alert
    FROM clearing.pairs;

-- Closes the open window when its period has ended (or at once when force) and opens the
-- next one, skipping periods in which the centre was down. A monthly period starts on
-- the first of the month; any other starts when the first window opens. Returns the id
-- of the window closed, or NULL.
CREATE FUNCTION clearing.roll_window(period interval, force boolean) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
  w clearing.windows%ROWTYPE;
  s timestamptz;
  e timestamptz;
BEGIN
  IF period <= interval '0' THEN
    RAISE EXCEPTION 'clearing window period % must be positive', period;
  END IF;
  SELECT * INTO w FROM clearing.windows WHERE status = 'OPEN' FOR UPDATE;
  IF FOUND AND w.period_end > now() AND NOT force THEN
    RETURN NULL;
  END IF;
  IF FOUND THEN
    UPDATE clearing.windows SET status = 'CLOSED', closed_at = now(),
           period_end = least(period_end, now())
     WHERE window_id = w.window_id;
    s := least(w.period_end, now());
  ELSIF period = interval '1 month' THEN
    s := date_trunc('month', now());
  ELSE
    s := now();
  END IF;
  e := s + period;
  WHILE e <= now() LOOP
    s := e;
    e := s + period;
  END LOOP;
  INSERT INTO clearing.windows (window_id, period_start, period_end, status)
  VALUES ('W' || to_char(s AT TIME ZONE 'UTC', 'YYYYMMDD"T"HH24MISS.MS'), s, e, 'OPEN');
  RETURN w.window_id;
END $$;

-- The window a booking goes into now: the open one, rolled first if its period is over.
CREATE FUNCTION clearing.open_window(period interval) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE id text;
BEGIN
  SELECT window_id INTO id FROM clearing.windows WHERE status = 'OPEN' AND period_end > now();
  IF FOUND THEN
    RETURN id;
  END IF;
  PERFORM clearing.roll_window(period, false);
  SELECT window_id INTO id FROM clearing.windows WHERE status = 'OPEN';
  RETURN id;
END $$;

-- The statement of a window as text, byte for byte the same every time it is produced
-- from the same lines: what is hashed when it is issued.
CREATE FUNCTION clearing.statement_text(w text) RETURNS text LANGUAGE sql STABLE AS $$
  SELECT 'medclear clearing statement ' || win.window_id || E'\n'
      || 'period,' || to_char(win.period_start AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')
      || ',' || to_char(win.period_end AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') || E'\n'
      || E'insuring,treating,claims,amount_fen\n'
      || coalesce((SELECT string_agg(insuring_party || ',' || treating_party || ',' || claims || ','
                                     || amount_fen, E'\n' ORDER BY insuring_party, treating_party)
                     FROM clearing.statement_lines WHERE window_id = w) || E'\n', '')
      || E'party,receivable_fen,payable_fen,net_fen\n'
      || coalesce((SELECT string_agg(party || ',' || receivable_fen || ',' || payable_fen || ','
                                     || net_fen, E'\n' ORDER BY party)
                     FROM clearing.statement_parties WHERE window_id = w) || E'\n', '')
    FROM clearing.windows win WHERE win.window_id = w
$$;

-- Raises an error with a message: the operator commands' guards.
CREATE FUNCTION clearing.fail(message text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION '%', message;
END $$;

-- Every alert published on mc.clearing.events, recorded in the same transaction.
CREATE TABLE clearing.alerts (
  id              bigserial PRIMARY KEY,
  insuring_party  text NOT NULL,
  treating_party  text NOT NULL,
  event_type      text NOT NULL,
  used_fen        bigint NOT NULL,
  quota_fen       bigint NOT NULL,
  raised_at       timestamptz NOT NULL DEFAULT now()
);
