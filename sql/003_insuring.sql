-- Insuring region (参保地): insured persons, registrations (备案), chronic-disease
-- certifications, policies, year-to-date accumulators and every settlement it computed.
CREATE TABLE insuring.persons (
  person_id           text PRIMARY KEY CHECK (length(person_id) BETWEEN 1 AND 64),
  region              text NOT NULL CHECK (region ~ '^[0-9]{6}$'),
  insured_type        text NOT NULL CHECK (insured_type IN ('EMPLOYEE', 'RESIDENT')),
  name                text NOT NULL,
  account_balance_fen bigint NOT NULL DEFAULT 0 CHECK (account_balance_fen >= 0)
);

CREATE TABLE insuring.registrations (
  person_id       text NOT NULL REFERENCES insuring.persons (person_id),
  treating_region text NOT NULL CHECK (treating_region ~ '^[0-9]{6}$'),
  reg_type        text NOT NULL CHECK (reg_type IN ('LONG_TERM', 'TEMP_REFERRAL', 'TEMP_EMERGENCY', 'TEMP_OTHER')),
  valid_from      date NOT NULL,
  valid_to        date,
  PRIMARY KEY (person_id, treating_region, reg_type, valid_from),
  CHECK (valid_to IS NULL OR valid_to >= valid_from),
  CHECK (reg_type = 'LONG_TERM' OR valid_to IS NOT NULL)
);

CREATE TABLE insuring.chronic_certifications (
  person_id    text NOT NULL REFERENCES insuring.persons (person_id),
  disease_code text NOT NULL,
  valid_from   date NOT NULL,
  valid_to     date,
  PRIMARY KEY (person_id, disease_code, valid_from)
);

CREATE TABLE insuring.policies (
  region                text NOT NULL CHECK (region ~ '^[0-9]{6}$'),
  insured_type          text NOT NULL CHECK (insured_type IN ('EMPLOYEE', 'RESIDENT')),
  visit_type            text NOT NULL CHECK (visit_type IN ('OUTPATIENT', 'CHRONIC', 'INPATIENT')),
  effective_from        date NOT NULL,
  version               text NOT NULL,
  deductible_fen        bigint NOT NULL CHECK (deductible_fen BETWEEN 0 AND 1000000000000),
  deductible_scope      text NOT NULL CHECK (deductible_scope IN ('PER_VISIT', 'PER_YEAR')),
  ratio_l1_bp           integer NOT NULL CHECK (ratio_l1_bp BETWEEN 0 AND 10000),
  ratio_l2_bp           integer NOT NULL CHECK (ratio_l2_bp BETWEEN 0 AND 10000),
  ratio_l3_bp           integer NOT NULL CHECK (ratio_l3_bp BETWEEN 0 AND 10000),
  annual_cap_fen        bigint NOT NULL CHECK (annual_cap_fen BETWEEN 0 AND 1000000000000),
  cap_group             text NOT NULL,
  tier2_ratio_bp        integer NOT NULL CHECK (tier2_ratio_bp BETWEEN 0 AND 10000),
  tier2_cap_fen         bigint NOT NULL CHECK (tier2_cap_fen BETWEEN 0 AND 1000000000000),
  account_allowed       boolean NOT NULL,
  reduction_referral_bp  integer NOT NULL DEFAULT 1000 CHECK (reduction_referral_bp BETWEEN 0 AND 1000),
  reduction_emergency_bp integer NOT NULL DEFAULT 1000 CHECK (reduction_emergency_bp BETWEEN 0 AND 1000),
  reduction_other_bp     integer NOT NULL DEFAULT 2000 CHECK (reduction_other_bp BETWEEN 0 AND 2000),
  PRIMARY KEY (region, insured_type, visit_type, effective_from)
);

CREATE TABLE insuring.accumulators (
  person_id          text NOT NULL REFERENCES insuring.persons (person_id),
  year               integer NOT NULL,
  cap_group          text NOT NULL,
  ytd_deductible_fen bigint NOT NULL DEFAULT 0 CHECK (ytd_deductible_fen >= 0),
  ytd_fund_paid_fen  bigint NOT NULL DEFAULT 0 CHECK (ytd_fund_paid_fen >= 0),
  ytd_tier2_paid_fen bigint NOT NULL DEFAULT 0 CHECK (ytd_tier2_paid_fen >= 0),
  PRIMARY KEY (person_id, year, cap_group)
);

CREATE SEQUENCE insuring.settlement_seq;

CREATE TABLE insuring.settlements (
  claim_id         text PRIMARY KEY,
  settlement_id    text UNIQUE,
  request_id       text NOT NULL,
  kind             text NOT NULL,
  person_id        text NOT NULL,   -- no foreign key: claims of unknown persons are recorded too
  insuring_region  text NOT NULL,
  treating_region  text NOT NULL,
  hospital_code    text NOT NULL,
  hospital_level   smallint NOT NULL,
  visit_type       text NOT NULL,
  visit_date       date NOT NULL,
  status           text NOT NULL CHECK (status IN ('SETTLED', 'COMPUTED', 'REJECTED')),
  reason_code      text,
  policy_version   text,
  registration_type text,
  year             integer,
  cap_group        text,
  deductible_scope text,
  total_fen        bigint NOT NULL,
  in_scope_fen     bigint NOT NULL,
  deductible_fen   bigint NOT NULL DEFAULT 0,
  ratio_bp         integer NOT NULL DEFAULT 0,
  fund_fen         bigint NOT NULL DEFAULT 0,
  tier2_fen        bigint NOT NULL DEFAULT 0,
  account_fen      bigint NOT NULL DEFAULT 0,
  cash_fen         bigint NOT NULL DEFAULT 0,
  created_at       timestamptz NOT NULL DEFAULT now(),
  CHECK (status <> 'SETTLED' OR fund_fen + tier2_fen + account_fen + cash_fen = total_fen)
);
