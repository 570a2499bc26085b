-- The regions' ledgers checked each posting's journal entry with a statement built and
-- planned anew for every row (EXECUTE format(...) in public.mc_check_balanced): about
-- 50 microseconds a posting, four postings a claim. Each schema now has its own check,
-- whose plan is kept; the check and its deferral to the commit are the same.
DO $$
DECLARE s text;
BEGIN
  FOREACH s IN ARRAY ARRAY['treating', 'insuring'] LOOP
    EXECUTE format($f$
      CREATE FUNCTION %1$I.check_balanced() RETURNS trigger LANGUAGE plpgsql AS $b$
      DECLARE d bigint; c bigint;
      BEGIN
        SELECT coalesce(sum(debit_fen), 0), coalesce(sum(credit_fen), 0) INTO d, c
          FROM %1$I.postings WHERE entry_id = NEW.entry_id;
        IF d <> c OR d = 0 THEN
          RAISE EXCEPTION 'journal entry %1$s.%% does not balance: debits %% credits %%',
            NEW.entry_id, d, c;
        END IF;
        RETURN NULL;
      END $b$;
      DROP TRIGGER postings_balanced ON %1$I.postings;
      CREATE CONSTRAINT TRIGGER postings_balanced AFTER INSERT ON %1$I.postings
        DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION %1$I.check_balanced();
    $f$, s);
  END LOOP;
END $$;
