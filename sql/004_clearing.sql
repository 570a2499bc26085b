-- Clearing centre (结算平台): the parties it clears between and a record of every claim
-- it routed with the result it carried back.
CREATE TABLE clearing.parties (
  code  text PRIMARY KEY CHECK (code ~ '^[0-9]{6}$'),
  name  text NOT NULL
);

CREATE TABLE clearing.claims (
  claim_id        text PRIMARY KEY,
  request_id      text NOT NULL,
  kind            text NOT NULL,
  treating_region text NOT NULL,
  insuring_region text NOT NULL,
  treating_party  text NOT NULL,
  insuring_party  text NOT NULL,
  hospital_code   text NOT NULL,
  person_id       text NOT NULL,
  total_fen       bigint NOT NULL,
  in_scope_fen    bigint NOT NULL,
  status          text NOT NULL CHECK (status IN ('ROUTED', 'SETTLED', 'COMPUTED', 'REJECTED')),
  reason_code     text,
  settlement_id   text,
  fund_fen        bigint,
  tier2_fen       bigint,
  account_fen     bigint,
  cash_fen        bigint,
  routed_at       timestamptz NOT NULL DEFAULT now(),
  booked_at       timestamptz
);
CREATE INDEX ON clearing.claims (insuring_party, treating_party, status);
