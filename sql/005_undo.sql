-- Cancels (2208/2305), reversals (2601) and timeouts. An undo is a claim of its own,
-- with negative amounts, that names the claim or settlement it undoes; the undone one is
-- marked, never changed otherwise, so the history stays readable.

-- Treating: a claim answers the agency request in request_id (NULL for an undo the
-- service starts by itself after a late result); undoes/undone_by link an undo to its
-- claim; undo_on_result marks a claim whose result must be undone when it arrives
-- (its request timed out or was reversed while in flight).
ALTER TABLE treating.claims DROP CONSTRAINT claims_claim_id_fkey;
ALTER TABLE treating.claims ADD COLUMN request_id text REFERENCES treating.requests (request_id);
UPDATE treating.claims SET request_id = claim_id;
ALTER TABLE treating.claims ADD COLUMN undoes text REFERENCES treating.claims (claim_id);
ALTER TABLE treating.claims ADD COLUMN undone_by text REFERENCES treating.claims (claim_id);
ALTER TABLE treating.claims ADD COLUMN undo_on_result boolean NOT NULL DEFAULT false;
CREATE UNIQUE INDEX ON treating.claims (settlement_id) WHERE settlement_id IS NOT NULL AND kind = 'SETTLE';
CREATE INDEX ON treating.claims (status, created_at) WHERE status = 'SENT';

-- Requests: TIMED_OUT (answered TIMED_OUT, its late result undone), REVERSED (reversed
-- while in flight, or a tombstone: reversed before it arrived, so its late arrival fails).
ALTER TABLE treating.requests DROP CONSTRAINT requests_status_check;
ALTER TABLE treating.requests ADD CONSTRAINT requests_status_check
  CHECK (status IN ('PENDING', 'ACCEPTED', 'REJECTED', 'TIMED_OUT', 'REVERSED'));
ALTER TABLE treating.requests ADD COLUMN original_request_id text;
ALTER TABLE treating.requests ADD COLUMN settlement_id text;

-- Insuring: an undo settlement names the settlement it undoes; the undone one becomes
-- CANCELLED. Amounts of an undo are negative.
ALTER TABLE insuring.settlements ADD COLUMN undoes text REFERENCES insuring.settlements (settlement_id);
ALTER TABLE insuring.settlements DROP CONSTRAINT settlements_status_check;
ALTER TABLE insuring.settlements ADD CONSTRAINT settlements_status_check
  CHECK (status IN ('SETTLED', 'COMPUTED', 'REJECTED', 'CANCELLED'));
ALTER TABLE insuring.settlements DROP CONSTRAINT settlements_check;
ALTER TABLE insuring.settlements ADD CONSTRAINT settlements_check
  CHECK (status NOT IN ('SETTLED', 'CANCELLED') OR fund_fen + tier2_fen + account_fen + cash_fen = total_fen);
CREATE UNIQUE INDEX ON insuring.settlements (undoes) WHERE undoes IS NOT NULL AND status = 'SETTLED';

-- Opening balances (year-to-date figures and account balances carried over from before
-- medclear), kept apart so that accumulators can be checked against their claims.
CREATE TABLE insuring.accumulator_openings (
  person_id          text NOT NULL REFERENCES insuring.persons (person_id),
  year               integer NOT NULL,
  cap_group          text NOT NULL,
  ytd_deductible_fen bigint NOT NULL DEFAULT 0 CHECK (ytd_deductible_fen >= 0),
  ytd_fund_paid_fen  bigint NOT NULL DEFAULT 0 CHECK (ytd_fund_paid_fen >= 0),
  ytd_tier2_paid_fen bigint NOT NULL DEFAULT 0 CHECK (ytd_tier2_paid_fen >= 0),
  PRIMARY KEY (person_id, year, cap_group)
);
INSERT INTO insuring.accumulator_openings SELECT * FROM insuring.accumulators;
ALTER TABLE insuring.persons ADD COLUMN opening_balance_fen bigint;
UPDATE insuring.persons SET opening_balance_fen = account_balance_fen;

-- An opening loaded by `medclear data load` starts its accumulator row too.
CREATE FUNCTION insuring.open_accumulator() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO insuring.accumulators VALUES (NEW.person_id, NEW.year, NEW.cap_group,
    NEW.ytd_deductible_fen, NEW.ytd_fund_paid_fen, NEW.ytd_tier2_paid_fen)
  ON CONFLICT DO NOTHING;
  RETURN NEW;
END $$;
CREATE TRIGGER open_accumulator AFTER INSERT ON insuring.accumulator_openings
  FOR EACH ROW EXECUTE FUNCTION insuring.open_accumulator();

-- A person's opening balance is the balance given when the person was first loaded.
CREATE FUNCTION insuring.opening_balance() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  NEW.opening_balance_fen := NEW.account_balance_fen;
  RETURN NEW;
END $$;
CREATE TRIGGER opening_balance BEFORE INSERT ON insuring.persons
  FOR EACH ROW EXECUTE FUNCTION insuring.opening_balance();

-- Clearing: undo claims are recorded like any other, with negative amounts.
ALTER TABLE clearing.claims ADD COLUMN undoes text;
