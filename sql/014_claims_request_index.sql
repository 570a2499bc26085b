-- A REVERSE finds the claim of the request it undoes by request_id (treating.c
-- on_reverse), and so do the timeout tick and a reversal in flight when they mark a
-- claim to be undone on its result: without an index each read every claim. In the
-- benchmark, after 500,000 requests, one REVERSE took 334 ms, and with one request in a
-- hundred a reversal the treating region's backend spent most of its time on them:
-- throughput fell from 520 to 340 requests/s over the first 500,000.
-- (CREATE INDEX locks the claims against writes while it is built: a few seconds for a
-- million claims.)
CREATE INDEX claims_request_id_idx ON treating.claims (request_id);
