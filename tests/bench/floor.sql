-- tests/bench/floor.sql - the tables of tests/bench/floor.sh: for each party (t treating,
-- i insuring, c clearing) the rows DESIGN.md asks of it for every request and nothing
-- more: an inbox row per message taken, an outbox row per message sent, a journal entry
-- of two postings, and its own record of the request. Each table has its primary key and
-- no other index, foreign key, check or trigger. floor.sh runs this on a fresh database.
CREATE SCHEMA floor;

DO $$
DECLARE
  p text;
BEGIN
  FOREACH p IN ARRAY ARRAY['t', 'i', 'c'] LOOP
    EXECUTE format('CREATE TABLE floor.%I (message_id text PRIMARY KEY, payload_hash bytea, '
                   'topic text, part integer, kafka_offset bigint)', p || '_inbox');
    EXECUTE format('CREATE TABLE floor.%I (id bigserial PRIMARY KEY, cause_id text, topic text, '
                   'msg_key text, payload bytea COMPRESSION lz4)', p || '_outbox');
    EXECUTE format('CREATE TABLE floor.%I (entry_id bigserial PRIMARY KEY, ref text, '
                   'created_at timestamptz NOT NULL DEFAULT now())', p || '_journal');
    EXECUTE format('CREATE TABLE floor.%I (id bigserial PRIMARY KEY, entry_id bigint, '
                   'account text, amount_fen bigint)', p || '_postings');
    EXECUTE format('CREATE TABLE floor.%I (id text PRIMARY KEY, party text, person text, '
                   'a_fen bigint, b_fen bigint, c_fen bigint, d_fen bigint, e_fen bigint, '
                   'note text, created_at timestamptz NOT NULL DEFAULT now())', p || '_state');
  END LOOP;
END $$;

-- The treating region's fee lines, one value per claim (treating.claim_line_sets).
CREATE TABLE floor.t_lines (claim_id text PRIMARY KEY, lines bytea COMPRESSION lz4);

CREATE SEQUENCE floor.request_seq;

-- Message bodies of the benchmark's mean sizes (a claim or result of about 670 bytes, a
-- claim's lines of about 1,000), read rather than made per row, and of hashes: protobuf
-- barely compresses, and neither do these.
CREATE TABLE floor.bodies (g integer PRIMARY KEY, message bytea, lines bytea);
INSERT INTO floor.bodies
  SELECT g,
         (SELECT string_agg(sha256((g * 1000 + k)::text::bytea), ''::bytea)
            FROM generate_series(1, 21) k),
         (SELECT string_agg(sha256((g * 7000 + k)::text::bytea), ''::bytea)
            FROM generate_series(1, 32) k)
    FROM generate_series(1, 1000) g;
