-- Schemas of the three services and the inbox/outbox tables each keeps (DESIGN.md
-- section 4). One database holds the three schemas locally; in production each service
-- may have a database of its own, since no service reads another's schema.
CREATE SCHEMA IF NOT EXISTS treating;
CREATE SCHEMA IF NOT EXISTS insuring;
CREATE SCHEMA IF NOT EXISTS clearing;

-- Creates <schema>.inbox and <schema>.outbox. The inbox records every consumed message
-- id with a hash of its bytes (duplicate detection); the outbox holds every outgoing
-- message written in the same transaction as the effects that caused it.
CREATE FUNCTION pg_temp.mc_bus_tables(s text) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE format($f$
    CREATE TABLE %1$I.inbox (
      message_id   text PRIMARY KEY,
      payload_hash bytea NOT NULL,
      topic        text NOT NULL,
      partition    integer NOT NULL,
      kafka_offset bigint NOT NULL,
      received_at  timestamptz NOT NULL DEFAULT now()
    );
    CREATE TABLE %1$I.outbox (
      id           bigserial PRIMARY KEY,
      cause_id     text,            -- message id of what caused it
      topic        text NOT NULL,
      msg_key      text NOT NULL,
      payload      bytea NOT NULL,
      reason       text,            -- dead letters: reason code
      detail       text,            -- dead letters: what is wrong
      source       text,            -- dead letters: topic/partition/offset of the original
      resent_of    bigint REFERENCES %1$I.outbox (id),
      created_at   timestamptz NOT NULL DEFAULT now(),
      published_at timestamptz
    );
    CREATE INDEX ON %1$I.outbox (id) WHERE published_at IS NULL;
    CREATE INDEX ON %1$I.outbox (topic, msg_key);
  $f$, s);
END $$;

SELECT pg_temp.mc_bus_tables('treating');
SELECT pg_temp.mc_bus_tables('insuring');
SELECT pg_temp.mc_bus_tables('clearing');
