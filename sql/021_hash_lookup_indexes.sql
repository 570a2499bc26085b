-- Hash indexes for the lookups that only ever ask "which rows carry this key": the outbox
-- row a duplicate gets again (mc_ctx_reemit: topic and key, the newest first), a ledger's
-- entries of one claim (`medclear reconcile`, `medclear ledger journal --claim`), and the
-- claim a REVERSE undoes, found by its request id (014). None is unique, none is read
-- in key order, and each key is a hospital's request id or a claim id: new keys land all
-- over a B-tree, whose every leaf then stays in use, where a hash index keeps a 4-byte
-- hash per row.
--
-- On the benchmark's database of 1,370,000 requests the seven B-trees held 1,314 MB, the
-- outboxes' (topic, msg_key) 1,024 MB of it; their hash indexes 324 MB. Inserting
-- 600,000 rows shaped like the centre's outbox into a table with each index (psql, one
-- statement per 1,000 rows): none 1.6-1.7 s, hash 2.2-2.5 s, B-tree (topic, msg_key)
-- 4.3-4.4 s. The reemit reads the key's few rows through the hash index and picks the
-- topic and the newest among them (EXPLAIN ANALYZE: 0.10 ms for the index scan).
--
-- Dropping and building an index holds its table against writes while it builds: the
-- seven took 14 s together on that database of 1,370,000 requests.
CREATE FUNCTION pg_temp.mc_hash_lookups(s text) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE format($f$
    DROP INDEX %1$I.outbox_topic_msg_key_idx;
    CREATE INDEX outbox_msg_key_idx ON %1$I.outbox USING hash (msg_key);
    DROP INDEX %1$I.journal_claim_id_idx;
    CREATE INDEX journal_claim_id_idx ON %1$I.journal USING hash (claim_id);
  $f$, s);
END $$;

SELECT pg_temp.mc_hash_lookups('treating');
SELECT pg_temp.mc_hash_lookups('insuring');
SELECT pg_temp.mc_hash_lookups('clearing');

DROP INDEX treating.claims_request_id_idx;
CREATE INDEX claims_request_id_idx ON treating.claims USING hash (request_id);
