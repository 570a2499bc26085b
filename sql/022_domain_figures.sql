-- The domain figures of /metrics (mc_metrics.c: requests, claims and settlements by
-- status, fund paid per pair of regions) were counted and summed over whole tables at
-- every scrape: 70-147 ms a query on a centre of 1,000,000 claims, and past some tens of
-- millions of rows longer than the scrape's 5 s statement timeout, so that a network
-- keeping a year of claims online would have had no figures at all. Each party's schema
-- now keeps them in <schema>.figures, written by statement-level triggers on the tables
-- they describe, in the transaction that changes those tables; a scrape reads a few rows.
--
-- A row of figures is one group of one figure (its labels) as changed by one backend:
-- how many rows of the described table are in the group (row_count) and the sum of their
-- amount in fen (0 for counts). Each statement adds its changes, aggregated, to the rows
-- of its own backend (pg_backend_pid()), so the batches of two instances of a role never
-- wait on each other's figures and cannot deadlock on them. <schema>.fold_figures() moves
-- the rows of backends that have gone into backend 0 (the scrape calls it first), so the
-- table holds a group per live connection, not per connection ever made. A figure is the
-- sum over backends; a group whose row_count sums to 0 has no rows and is not shown.
--
-- What each figure counts is written once, below (the specs): the triggers, the first
-- fill and the views <schema>.<table>_figures_counted, which count the same from the
-- tables themselves for `medclear verify` (tool_verify.c), are all made from it.

-- The groups of one source (new_rows, old_rows or the table itself), one grouped SELECT a
-- figure, each row counted with the sign given. A spec is {figure, label1, label2, which
-- rows of the table are in the figure, what a row adds in fen}, all SQL over a row x.
CREATE FUNCTION pg_temp.mc_figures_of(specs text[], src text, sign integer) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
  spec text[];
  parts text[] := '{}';
BEGIN
  FOREACH spec SLICE 1 IN ARRAY specs LOOP
    parts := parts || format(
      'SELECT %L::text AS figure, %s::text AS label1, %s::text AS label2, %scount(*) AS row_count, %s AS fen'
      '%s  FROM %s x%s GROUP BY 2, 3',
      spec[1], spec[2], spec[3], CASE WHEN sign < 0 THEN '-' ELSE '' END,
      CASE WHEN spec[5] = '0' THEN '0::bigint'
           ELSE format('%scoalesce(sum(%s), 0)::bigint', CASE WHEN sign < 0 THEN '-' ELSE '' END, spec[5])
      END,
      E'\n          ', src, CASE WHEN spec[4] = 'true' THEN '' ELSE ' WHERE ' || spec[4] END);
  END LOOP;
  RETURN array_to_string(parts, E'\n        UNION ALL\n        ');
END $$;

CREATE FUNCTION pg_temp.mc_figures(s text, tbl text, specs text[]) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
  upsert text := format(E'INSERT INTO %I.figures AS f (figure, label1, label2, backend, row_count, fen)\n'
                        '        SELECT figure, label1, label2, pg_backend_pid(),', s);
  on_conflict text := E'ON CONFLICT (figure, label1, label2, backend) DO UPDATE\n'
                      '          SET row_count = f.row_count + excluded.row_count, fen = f.fen + excluded.fen';
BEGIN
  EXECUTE format($f$
    CREATE FUNCTION %1$I.%2$s_figures() RETURNS trigger LANGUAGE plpgsql AS $b$
    BEGIN
      IF TG_OP = 'INSERT' THEN
        %3$s row_count, fen FROM (
        %4$s) d
        ORDER BY 1, 2, 3
        %7$s;
      ELSIF TG_OP = 'UPDATE' THEN
        %3$s sum(row_count), sum(fen) FROM (
        %4$s
        UNION ALL
        %5$s) d
        GROUP BY 1, 2, 3 HAVING sum(row_count) <> 0 OR sum(fen) <> 0 ORDER BY 1, 2, 3
        %7$s;
      ELSE -- DELETE
        %3$s row_count, fen FROM (
        %5$s) d
        ORDER BY 1, 2, 3
        %7$s;
      END IF;
      RETURN NULL;
    END $b$;

    -- The same figures counted from the table itself (a whole scan: for audits).
    CREATE VIEW %1$I.%2$s_figures_counted AS %6$s;

    -- The first fill, under a lock that keeps writers out until the triggers exist.
    LOCK TABLE %1$I.%2$I IN SHARE MODE;
    INSERT INTO %1$I.figures (figure, label1, label2, backend, row_count, fen)
      SELECT figure, label1, label2, 0, row_count, fen FROM %1$I.%2$s_figures_counted;

    CREATE TRIGGER %2$s_figures_insert AFTER INSERT ON %1$I.%2$I
      REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION %1$I.%2$s_figures();
    CREATE TRIGGER %2$s_figures_update AFTER UPDATE ON %1$I.%2$I
      REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
      FOR EACH STATEMENT EXECUTE FUNCTION %1$I.%2$s_figures();
    CREATE TRIGGER %2$s_figures_delete AFTER DELETE ON %1$I.%2$I
      REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION %1$I.%2$s_figures();
    CREATE TRIGGER %2$s_figures_truncate AFTER TRUNCATE ON %1$I.%2$I
      FOR EACH STATEMENT EXECUTE FUNCTION public.mc_figures_truncated(%8$s);
  $f$, s, tbl, upsert,
     pg_temp.mc_figures_of(specs, 'new_rows', 1),
     pg_temp.mc_figures_of(specs, 'old_rows', -1),
     pg_temp.mc_figures_of(specs, format('%I.%I', s, tbl), 1),
     on_conflict,
     -- the figures this table feeds, for its TRUNCATE trigger
     (SELECT string_agg(quote_literal(specs[i][1]), ', ')
        FROM generate_subscripts(specs, 1) i));
END $$;

-- A TRUNCATE empties the figures the table fed (their names are the trigger's arguments).
CREATE FUNCTION public.mc_figures_truncated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE format('DELETE FROM %I.figures WHERE figure = ANY ($1)', TG_TABLE_SCHEMA)
    USING TG_ARGV::text[];
  RETURN NULL;
END $$;

CREATE FUNCTION pg_temp.mc_figures_table(s text) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE format($f$
    CREATE TABLE %1$I.figures (
      figure    text    NOT NULL,
      label1    text    NOT NULL,
      label2    text    NOT NULL,
      backend   integer NOT NULL,  -- the pid of the backend that wrote it; 0: folded
      row_count bigint  NOT NULL,
      fen       bigint  NOT NULL,
      PRIMARY KEY (figure, label1, label2, backend)
    );
    COMMENT ON TABLE %1$I.figures IS
      'the domain figures of /metrics, kept by triggers: sum row_count and fen over backend';

    -- Moves the rows of backends that have gone into backend 0 and drops the groups left
    -- empty there. One caller at a time (the others return at once); returns the rows
    -- moved. A backend may reuse a gone backend's pid: its rows are then moved too, with
    -- everything it added, which changes no sum.
    CREATE FUNCTION %1$I.fold_figures() RETURNS bigint LANGUAGE plpgsql AS $b$
    DECLARE moved bigint;
    BEGIN
      IF NOT pg_try_advisory_xact_lock(hashtext('medclear.fold_figures'), hashtext(%1$L)) THEN
        RETURN 0;
      END IF;
      WITH gone AS (
        DELETE FROM %1$I.figures f
         WHERE f.backend <> 0
           AND NOT EXISTS (SELECT 1 FROM pg_stat_activity a WHERE a.pid = f.backend)
        RETURNING f.figure, f.label1, f.label2, f.row_count, f.fen
      ), folded AS (
        INSERT INTO %1$I.figures AS f (figure, label1, label2, backend, row_count, fen)
          SELECT figure, label1, label2, 0, sum(row_count), sum(fen)
            FROM gone GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
        ON CONFLICT (figure, label1, label2, backend)
          DO UPDATE SET row_count = f.row_count + excluded.row_count, fen = f.fen + excluded.fen
      )
      SELECT count(*) INTO moved FROM gone;
      DELETE FROM %1$I.figures WHERE backend = 0 AND row_count = 0 AND fen = 0;
      RETURN moved;
    END $b$;

    GRANT SELECT, INSERT, UPDATE, DELETE ON %1$I.figures TO %2$I;
    GRANT EXECUTE ON FUNCTION %1$I.fold_figures() TO %2$I;
  $f$, s, 'medclear_' || s);
END $$;

SELECT pg_temp.mc_figures_table('treating');
SELECT pg_temp.mc_figures_table('insuring');
SELECT pg_temp.mc_figures_table('clearing');

-- {figure, label1, label2, which rows are in it, what a row adds in fen} for a row x
SELECT pg_temp.mc_figures('treating', 'requests', ARRAY[
  ['requests', 'x.status', $$''$$, 'true', '0']]);
SELECT pg_temp.mc_figures('treating', 'claims', ARRAY[
  ['claims', 'x.status', $$''$$, 'true', '0'],
  ['settled', 'x.insuring_region', 'x.treating_region', $$x.status = 'SETTLED'$$,
   'coalesce(x.fund_fen + x.tier2_fen, 0)']]);
SELECT pg_temp.mc_figures('insuring', 'settlements', ARRAY[
  ['settlements', 'x.status', $$''$$, 'true', '0'],
  ['paid', 'x.insuring_region', 'x.treating_region', $$x.status IN ('SETTLED', 'CANCELLED')$$,
   'coalesce(x.fund_fen + x.tier2_fen, 0)']]);
SELECT pg_temp.mc_figures('clearing', 'claims', ARRAY[
  ['claims', 'x.status', $$''$$, 'true', '0'],
  ['settled', 'x.insuring_party', 'x.treating_party', $$x.status = 'SETTLED'$$,
   'coalesce(x.fund_fen, 0) + coalesce(x.tier2_fen, 0)']]);

-- What `medclear verify` checks: the figures kept equal the figures counted.
CREATE FUNCTION pg_temp.mc_figures_differences(s text, tables text[]) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE format($f$
    CREATE VIEW %1$I.figures_differences AS
      WITH kept AS (
        SELECT figure, label1, label2, sum(row_count)::bigint AS row_count, sum(fen)::bigint AS fen
          FROM %1$I.figures GROUP BY 1, 2, 3 HAVING sum(row_count) <> 0 OR sum(fen) <> 0
      ), counted AS (%2$s)
      SELECT figure, label1, label2, k.row_count AS kept_rows, k.fen AS kept_fen,
             c.row_count AS counted_rows, c.fen AS counted_fen
        FROM kept k FULL JOIN counted c USING (figure, label1, label2)
       WHERE (k.row_count, k.fen) IS DISTINCT FROM (c.row_count, c.fen);
  $f$, s, (SELECT string_agg(format('SELECT * FROM %I.%I', s, t || '_figures_counted'),
                             ' UNION ALL ') FROM unnest(tables) t));
END $$;

SELECT pg_temp.mc_figures_differences('treating', ARRAY['requests', 'claims']);
SELECT pg_temp.mc_figures_differences('insuring', ARRAY['settlements']);
SELECT pg_temp.mc_figures_differences('clearing', ARRAY['claims']);
