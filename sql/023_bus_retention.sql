-- The inboxes and outboxes kept every message for ever: 4.1 KB of outbox and 1.1 KB of
-- inbox a request with their indexes on the benchmark's database, about 1.5 TB a year at
-- 280 million requests. `medclear db prune --keep-days N` (tool_db.c) now deletes what no one can need
-- any more, by calling <schema>.prune_bus() below until it finds nothing left:
--
-- * inbox rows received before the horizon. A message is refused as a replay once it is
--   older than security.max.age.ms, before its id is looked up, so a redelivery of a
--   message older than the horizon can never reach the inbox; the tool refuses a horizon
--   that is not beyond that age, or a configuration that does not check it.
-- * outbox rows created before the horizon and acknowledged by the broker, except dead
--   letters (`medclear dlq list` and `replay` read them; an operator removes them). A
--   resend of an earlier outcome to a duplicate (mc_ctx_reemit) finds the newest copy
--   left; an agency that sends a request again once its reply is gone gets REPLAYED,
--   naming the outcome recorded (treating.c).
--
-- Block range indexes find the old rows: a few pages for tables of any size, and nothing
-- to do at an insert beyond the last summarized range (vacuum summarizes it later).
CREATE FUNCTION pg_temp.mc_retention(s text) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE format($f$
    CREATE INDEX inbox_received_at_idx ON %1$I.inbox USING brin (received_at);
    CREATE INDEX outbox_created_at_idx ON %1$I.outbox USING brin (created_at);

    -- A copy resent to a duplicate outlives its original: it becomes the original. The
    -- index lets each deleted row find its copies (without it, a scan of the whole
    -- outbox for every row deleted); only copies have an entry.
    ALTER TABLE %1$I.outbox DROP CONSTRAINT outbox_resent_of_fkey,
      ADD CONSTRAINT outbox_resent_of_fkey FOREIGN KEY (resent_of)
        REFERENCES %1$I.outbox (id) ON DELETE SET NULL;
    CREATE INDEX outbox_resent_of_idx ON %1$I.outbox (resent_of) WHERE resent_of IS NOT NULL;

    -- Deletes up to max_rows inbox rows and up to max_rows outbox rows older than
    -- horizon (see above); returns how many of each. One transaction a call, so that a
    -- large backlog is pruned in steps that never hold many locks or much WAL at once.
    CREATE FUNCTION %1$I.prune_bus(horizon timestamptz, max_rows integer,
                                   OUT inbox_rows bigint, OUT outbox_rows bigint)
    LANGUAGE plpgsql AS $b$
    BEGIN
      IF horizon IS NULL OR max_rows IS NULL OR max_rows < 1 THEN
        RAISE EXCEPTION 'prune_bus: a horizon and a positive max_rows are needed, not %% and %%',
          horizon, max_rows USING ERRCODE = 'invalid_parameter_value';
      END IF;
      WITH gone AS (
        DELETE FROM %1$I.inbox WHERE ctid = ANY (ARRAY(
          SELECT ctid FROM %1$I.inbox WHERE received_at < horizon LIMIT max_rows))
        RETURNING 1)
      SELECT count(*) INTO inbox_rows FROM gone;
      WITH gone AS (
        DELETE FROM %1$I.outbox WHERE id = ANY (ARRAY(
          SELECT o.id FROM %1$I.outbox o
           WHERE o.created_at < horizon AND o.reason IS NULL
             AND NOT EXISTS (SELECT 1 FROM %1$I.outbox_unpublished u
                              WHERE o.id BETWEEN u.first_id AND u.last_id)
           LIMIT max_rows))
        RETURNING 1)
      SELECT count(*) INTO outbox_rows FROM gone;
    END $b$;
    COMMENT ON FUNCTION %1$I.prune_bus(timestamptz, integer) IS
      'deletes inbox rows and published outbox rows (not dead letters) older than horizon, up to max_rows each';
  $f$, s);
END $$;

SELECT pg_temp.mc_retention('treating');
SELECT pg_temp.mc_retention('insuring');
SELECT pg_temp.mc_retention('clearing');
