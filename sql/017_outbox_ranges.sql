-- What is not published yet is kept as ranges of outbox ids, one row per batch, not one
-- row per outbox row. Each outbox row used to insert its id here in the statement that
-- wrote it and to delete it once the broker acknowledged it: two heap tuples, an index
-- entry and their dead space for vacuum, six times a request (the six messages of a
-- settlement's five hops). Now the statement that writes a batch's outbox rows adds one
-- row (first_id, last_id) for each block of up to 1,024 ids among them, and that row
-- is deleted once every outbox row of it that the batch wrote was acknowledged
-- (mc_service.c). An outbox row is unpublished while some row here covers its id. A
-- range may also cover ids another instance of the role wrote in between: those rows
-- belong to a range of their own, and at worst are published once more, which every
-- consumer's inbox skips.
CREATE FUNCTION pg_temp.mc_ranges(s text) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE format($f$
    ALTER TABLE %1$I.outbox_unpublished RENAME COLUMN id TO first_id;
    ALTER TABLE %1$I.outbox_unpublished ADD COLUMN last_id bigint;
    UPDATE %1$I.outbox_unpublished SET last_id = first_id;
    ALTER TABLE %1$I.outbox_unpublished ALTER COLUMN last_id SET NOT NULL,
      ADD CONSTRAINT outbox_unpublished_range CHECK (last_id >= first_id);
    COMMENT ON TABLE %1$I.outbox_unpublished IS
      'outbox rows with first_id <= id <= last_id are not all acknowledged by the broker';
  $f$, s);
END $$;

SELECT pg_temp.mc_ranges('treating');
SELECT pg_temp.mc_ranges('insuring');
SELECT pg_temp.mc_ranges('clearing');
