-- One row per idempotency key a caller used in the last TTL (24 h). A row is
-- claimed (in_flight) in its own short transaction before the handler runs,
-- and completed with the handler's response in the handler's transaction, so
-- the effect and its record commit together or not at all.
CREATE TABLE idempotency_keys (
    scope        text        NOT NULL,  -- the caller, e.g. the token's subject
    key          text        NOT NULL,  -- the client's Idempotency-Key
    request_hash bytea       NOT NULL,  -- SHA-256 of method, path, query and body
    claim        uuid        NOT NULL,  -- fences the executing request: a taker replaces it
    state        text        NOT NULL CHECK (state IN ('in_flight', 'complete')),
    locked_at    timestamptz NOT NULL,  -- when the current claim was taken
    created_at   timestamptz NOT NULL,  -- start of the replay window (TTL)
    completed_at timestamptz,
    status       integer,               -- the stored response
    headers      jsonb,
    body         bytea,
    PRIMARY KEY (scope, key),
    CHECK ((state = 'complete') = (status IS NOT NULL))
) WITH (fillfactor = 80);  -- room for the in_flight → complete update to stay on its page (HOT)

-- The janitor deletes by age.
CREATE INDEX idempotency_keys_created_at ON idempotency_keys (created_at);
