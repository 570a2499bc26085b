-- tests/bench/population.sql - the benchmark's insured population: :persons persons
-- (psql -v persons=N), each a copy of one of the sample network's LONG_TERM registrations
-- (insuring region, insured type, account balance, treating region), with ids B000000000,
-- B000000001, ... `medclear load` draws its requests from every LONG_TERM registration,
-- so a million requests spread over this many persons instead of the sample's twenty:
-- a person's row, account and accumulators are not touched by every batch, as they
-- would not be in a real region.
WITH t AS (SELECT row_number() OVER (ORDER BY r.person_id, r.treating_region) - 1 AS i,
                  count(*) OVER () AS k, p.region, p.insured_type, p.account_balance_fen,
                  r.treating_region, r.valid_from
             FROM insuring.registrations r JOIN insuring.persons p USING (person_id)
            WHERE r.reg_type = 'LONG_TERM' AND r.valid_to IS NULL),
s AS (SELECT 'B' || lpad(g::text, 9, '0') AS person_id, t.*
        FROM generate_series(0, :persons - 1) g JOIN t ON t.i = g % t.k),
p AS (INSERT INTO insuring.persons (person_id, region, insured_type, name, account_balance_fen)
      SELECT person_id, region, insured_type, 'Benchmark person ' || person_id, account_balance_fen
        FROM s)
INSERT INTO insuring.registrations (person_id, treating_region, reg_type, valid_from)
SELECT person_id, treating_region, 'LONG_TERM', valid_from FROM s;
ANALYZE insuring.persons;
ANALYZE insuring.registrations;
