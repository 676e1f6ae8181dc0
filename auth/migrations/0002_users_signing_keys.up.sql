-- Accounts. The id is a UUIDv7 chosen by the service. Emails are normalised
-- by the service; the unique index on lower(email) is the guard that holds
-- even when two registrations race or a caller forgets to normalise.
CREATE TABLE users (
    id             uuid        PRIMARY KEY,
    email          text        NOT NULL,
    name           text        NOT NULL,
    roles          text[]      NOT NULL,
    password_hash  text        NOT NULL,
    mfa_enabled    boolean     NOT NULL DEFAULT false,
    totp_secret    bytea,                          -- sealed TOTP seed; NULL when none
    recovery_codes text[]      NOT NULL DEFAULT '{}', -- hashes of the unused codes
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    -- At least one role, each a known one. <@ is false (never NULL) for an
    -- array holding a NULL element, so NULL roles cannot slip through.
    CONSTRAINT users_roles_valid CHECK (
        cardinality(roles) > 0
        AND roles <@ ARRAY['student', 'instructor', 'admin']::text[]
    )
);
CREATE UNIQUE INDEX users_email_key ON users (lower(email));
-- CountAdmins runs on every admin demotion; admins are few, so a partial
-- index keeps it from scanning every account.
CREATE INDEX users_admins ON users (id) WHERE 'admin' = ANY (roles);

-- RSA signing keys shared by every auth instance. id is the JWK kid. A key is
-- published from created_at, signs from active_from, stops signing at
-- retired_at (NULL while current) and is purged once every token it signed
-- has expired.
CREATE TABLE signing_keys (
    id          text        PRIMARY KEY,
    sealed      bytea       NOT NULL, -- PKCS#8 DER private key, AES-256-GCM sealed
    created_at  timestamptz NOT NULL,
    active_from timestamptz NOT NULL,
    retired_at  timestamptz
);
CREATE INDEX signing_keys_created_at ON signing_keys (created_at DESC);
