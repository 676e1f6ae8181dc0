-- OAuth 2.0 clients, registered by admins. id is a UUIDv7 (the client_id).
-- secret_hash is the hex SHA-256 of a 256-bit random secret, NULL for a
-- public client. Redirect URIs are kept exactly as registered: they are
-- matched byte for byte.
CREATE TABLE oauth_clients (
    id            uuid        PRIMARY KEY,
    name          text        NOT NULL,
    secret_hash   text,
    redirect_uris text[]      NOT NULL DEFAULT '{}',
    grant_types   text[]      NOT NULL,
    scopes        text[]      NOT NULL DEFAULT '{}',
    created_by    uuid,
    created_at    timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT oauth_clients_grants_valid CHECK (
        cardinality(grant_types) > 0
        AND grant_types <@ ARRAY['authorization_code', 'client_credentials', 'refresh_token']::text[]
    ),
    CONSTRAINT oauth_clients_secret_hash CHECK (secret_hash IS NULL OR secret_hash ~ '^[0-9a-f]{64}$')
);
