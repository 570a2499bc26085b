-- How many times a request was answered with its own outcome (not counting the same
-- reply sent again for a duplicate): `medclear verify` checks it is exactly one.
ALTER TABLE treating.requests ADD COLUMN answers integer NOT NULL DEFAULT 0;
UPDATE treating.requests SET answers = 1 WHERE status <> 'PENDING' AND request_hash <> '\x';
