-- Which outbox rows are not published yet is kept in a table of their ids, not in a
-- published_at column of the outbox. Marking a row published used to be an UPDATE of the
-- whole row (a kilobyte with its payload) that could not be HOT, because the partial
-- index WHERE published_at IS NULL named the column: a new copy of the row, new entries
-- in every index of the outbox, and the copy in the WAL. Over 16,000 benchmark requests
-- these marks took 1.8 s of statement time (pg_stat_statements), against 2.5 s for the
-- costliest statement of the path. Now a row's id is inserted here with
-- the row (same statement, mc_service.c) and deleted once the broker acknowledged it.
CREATE FUNCTION pg_temp.mc_unpublished(s text) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE format($f$
    CREATE TABLE %1$I.outbox_unpublished (
      id bigint PRIMARY KEY  -- an outbox row handed to the broker and not acknowledged yet
    );
    INSERT INTO %1$I.outbox_unpublished SELECT id FROM %1$I.outbox WHERE published_at IS NULL;
    ALTER TABLE %1$I.outbox DROP COLUMN published_at;
    GRANT SELECT, INSERT, DELETE ON %1$I.outbox_unpublished TO %2$I;
  $f$, s, 'medclear_' || s);
END $$;

SELECT pg_temp.mc_unpublished('treating');
SELECT pg_temp.mc_unpublished('insuring');
SELECT pg_temp.mc_unpublished('clearing');
