-- Where a settlement request's time goes, hop by hop, for the requests the treating
-- region took between :'from' and :'to' (psql variables, timestamps). Each party stamps
-- its rows with the start of the transaction that wrote them (now()), all on the
-- database's clock, so each hop below is the time from one party's transaction to the
-- next one's: the first party's batch and commit, the message's trip through the broker,
-- and the next party's wait for its current batch to end and for more messages
-- (batch.timeout.ms). What lies outside the database (the request's trip from the load
-- generator to the treating region, the reply's trip back) is the rest of the load
-- generator's figure. Only SETTLE requests answered and booked count.
\set ON_ERROR_STOP 1
WITH t AS (
  SELECT r.received_at AS t1, c.routed_at AS t2, s.created_at AS t3, c.booked_at AS t4,
         r.replied_at AS t5
    FROM treating.requests r
    JOIN clearing.claims c ON c.claim_id = r.request_id
    JOIN insuring.settlements s ON s.claim_id = r.request_id
   WHERE r.kind = 'SETTLE' AND r.received_at >= :'from' AND r.received_at < :'to'
     AND r.replied_at IS NOT NULL AND c.booked_at IS NOT NULL
), hop(n, name, ms) AS (
  SELECT 1, 'treating took it -> centre routed the claim', extract(epoch FROM t2 - t1) * 1000 FROM t
  UNION ALL SELECT 2, 'centre routed -> insuring settled', extract(epoch FROM t3 - t2) * 1000 FROM t
  UNION ALL SELECT 3, 'insuring settled -> centre booked', extract(epoch FROM t4 - t3) * 1000 FROM t
  UNION ALL SELECT 4, 'centre booked -> treating replied', extract(epoch FROM t5 - t4) * 1000 FROM t
  UNION ALL SELECT 5, 'treating took it -> treating replied', extract(epoch FROM t5 - t1) * 1000 FROM t
)
SELECT name AS hop, count(*) AS requests,
       round(percentile_cont(0.5) WITHIN GROUP (ORDER BY ms)::numeric, 1) AS p50_ms,
       round(percentile_cont(0.9) WITHIN GROUP (ORDER BY ms)::numeric, 1) AS p90_ms,
       round(percentile_cont(0.99) WITHIN GROUP (ORDER BY ms)::numeric, 1) AS p99_ms,
       round(max(ms)::numeric, 1) AS max_ms
  FROM hop GROUP BY n, name ORDER BY n;
