-- The batches each service ran between :'from' and :'to' (psql variables, timestamps):
-- how many a second, how many messages each held, and the time from one to the next.
-- A service records every message it consumes in its inbox in the batch's transaction,
-- stamped with the transaction's start (now()), so the inbox rows sharing a stamp are
-- one batch. A message waits, at each hop, for the batch in progress to end and then for
-- its own: about one and a half cycles (cycle_ms, the mean from one batch's start to
-- the next's, idle time included). Messages a batch found already recorded (a
-- redelivery) add no inbox row and are not counted.
\set ON_ERROR_STOP 1
WITH b AS (
  SELECT 'treating' AS service, received_at AS t, count(*) AS n
    FROM treating.inbox WHERE received_at >= :'from' AND received_at < :'to' GROUP BY 2
  UNION ALL
  SELECT 'clearing', received_at, count(*)
    FROM clearing.inbox WHERE received_at >= :'from' AND received_at < :'to' GROUP BY 2
  UNION ALL
  SELECT 'insuring', received_at, count(*)
    FROM insuring.inbox WHERE received_at >= :'from' AND received_at < :'to' GROUP BY 2
)
SELECT service, count(*) AS batches,
       round(count(*) / nullif(extract(epoch FROM max(t) - min(t)), 0)::numeric, 1) AS per_s,
       round(avg(n), 1) AS mean_messages,
       percentile_disc(0.5) WITHIN GROUP (ORDER BY n) AS p50_messages,
       percentile_disc(0.9) WITHIN GROUP (ORDER BY n) AS p90_messages,
       max(n) AS max_messages,
       round((extract(epoch FROM max(t) - min(t)) * 1000 / nullif(count(*) - 1, 0))::numeric, 1)
         AS cycle_ms
  FROM b GROUP BY service ORDER BY service;
