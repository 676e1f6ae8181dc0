-- When an admin last replaced the client's secret
-- (POST /api/v1/auth/clients/{id}/secret); NULL until the first rotation.
-- The admin list pages newest first by id (a UUIDv7), the primary key.
ALTER TABLE oauth_clients ADD COLUMN secret_rotated_at timestamptz;
