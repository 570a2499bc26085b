-- Treating region (就医地): its hospitals, its catalog, and every request and claim it
-- handled. Money in fen (bigint), ratios in basis points.
CREATE TABLE treating.regions (
  code     text PRIMARY KEY CHECK (code ~ '^[0-9]{6}$'),
  name     text NOT NULL
);

CREATE TABLE treating.hospitals (
  code     text PRIMARY KEY CHECK (code ~ '^H[0-9]{11}$'),
  region   text NOT NULL REFERENCES treating.regions (code),
  name     text NOT NULL,
  level    smallint NOT NULL CHECK (level BETWEEN 1 AND 3)
);

-- One row per item version; the version in force on the visit date applies.
CREATE TABLE treating.catalog_items (
  region             text NOT NULL REFERENCES treating.regions (code),
  item_code          text NOT NULL CHECK (length(item_code) BETWEEN 1 AND 64),
  name               text NOT NULL,
  class              char(1) NOT NULL CHECK (class IN ('A', 'B', 'C')),
  self_pay_first_bp  integer NOT NULL DEFAULT 0 CHECK (self_pay_first_bp BETWEEN 0 AND 10000),
  price_ceiling_fen  bigint NOT NULL DEFAULT 0 CHECK (price_ceiling_fen BETWEEN 0 AND 1000000000000),
  version            text NOT NULL,
  valid_from         date NOT NULL,
  valid_to           date,
  PRIMARY KEY (region, item_code, valid_from),
  CHECK (valid_to IS NULL OR valid_to >= valid_from),
  CHECK (class = 'B' OR self_pay_first_bp = 0)
);

CREATE TABLE treating.requests (
  request_id      text PRIMARY KEY,
  message_id      text NOT NULL,
  request_hash    bytea NOT NULL,    -- sha256 of the request body: same id, other body = modified
  kind            text NOT NULL,
  treating_region text NOT NULL,
  hospital_code   text NOT NULL,
  person_id       text NOT NULL,
  insuring_region text NOT NULL,
  status          text NOT NULL CHECK (status IN ('PENDING', 'ACCEPTED', 'REJECTED')),
  reason_code     text,
  reason_text     text,
  received_at     timestamptz NOT NULL DEFAULT now(),
  replied_at      timestamptz
);

CREATE TABLE treating.claims (
  claim_id           text PRIMARY KEY REFERENCES treating.requests (request_id),
  kind               text NOT NULL,
  treating_region    text NOT NULL,
  insuring_region    text NOT NULL,
  hospital_code      text NOT NULL,
  hospital_level     smallint NOT NULL,
  person_id          text NOT NULL,
  visit_type         text NOT NULL,
  visit_date         date NOT NULL,
  total_fen          bigint NOT NULL,
  full_self_pay_fen  bigint NOT NULL,
  over_limit_fen     bigint NOT NULL,
  self_pay_first_fen bigint NOT NULL,
  in_scope_fen       bigint NOT NULL,
  catalog_version    text NOT NULL,
  status             text NOT NULL CHECK (status IN ('SENT', 'SETTLED', 'COMPUTED', 'REJECTED')),
  reason_code        text,
  settlement_id      text,
  deductible_fen     bigint,
  fund_fen           bigint,
  tier2_fen          bigint,
  account_fen        bigint,
  cash_fen           bigint,
  created_at         timestamptz NOT NULL DEFAULT now(),
  resulted_at        timestamptz,
  CHECK (full_self_pay_fen + over_limit_fen + self_pay_first_fen + in_scope_fen = total_fen)
);

CREATE TABLE treating.claim_lines (
  claim_id           text NOT NULL REFERENCES treating.claims (claim_id),
  line_no            integer NOT NULL,
  item_code          text NOT NULL,
  item_class         text NOT NULL,
  quantity_milli     bigint NOT NULL,
  unit_price_fen     bigint NOT NULL,
  amount_fen         bigint NOT NULL,
  full_self_pay_fen  bigint NOT NULL,
  over_limit_fen     bigint NOT NULL,
  self_pay_first_fen bigint NOT NULL,
  in_scope_fen       bigint NOT NULL,
  PRIMARY KEY (claim_id, line_no),
  CHECK (full_self_pay_fen + over_limit_fen + self_pay_first_fen + in_scope_fen = amount_fen)
);
