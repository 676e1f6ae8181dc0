-- Ed25519 keys that sign certificates, shared by every education replica.
-- id is the key's kid: the RFC 7638 thumbprint of its public JWK (RFC 8037),
-- so a row cannot claim another key's id. The private key (its 32-byte seed)
-- is sealed with shared/seal under a key-encryption key that never reaches
-- the database, bound to the kid. The unretired key signs; retired keys keep
-- verifying. Certificates live forever, so keys are never deleted.
CREATE TABLE certificate_keys (
    id             text        PRIMARY KEY,
    public_key     bytea       NOT NULL CONSTRAINT certificate_keys_public_key_size CHECK (octet_length(public_key) = 32),
    sealed_private bytea       NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now(),
    retired_at     timestamptz
);
-- At most one key signs at a time, even if a writer forgets the advisory lock.
CREATE UNIQUE INDEX certificate_keys_one_current ON certificate_keys ((true)) WHERE retired_at IS NULL;
