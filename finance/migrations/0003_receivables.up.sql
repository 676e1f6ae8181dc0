-- Receivables: what a user owes the platform, one account per user and
-- currency, opened the first time a user owes anything. An enrollment refund
-- takes back the instructor's share; when the instructor has already moved it
-- out of the wallet, the platform pays the student in full and the part the
-- wallet could not cover goes on the instructor's receivable, which later
-- earnings pay back. A receivable's balance is therefore at or below zero:
-- -600 means the user owes 600. It has an owner like a wallet but is never
-- one (the wallet queries select kind = 'wallet').
--
-- How this file runs: golang-migrate sends it to Postgres as one simple-query
-- string, which Postgres runs as a single implicit transaction unless the
-- string itself says BEGIN/COMMIT. A lock taken by any statement would then be
-- held until the end of the file. So the file is three transactions:
--
--   1. the changed and new CHECKs, added NOT VALID: that takes ACCESS
--      EXCLUSIVE on accounts (every post waits) but only for a catalog change,
--      no scan of the rows;
--   2. the partial unique indexes, built under SHARE (reads go on, writes
--      wait for the build; CREATE INDEX CONCURRENTLY cannot run inside this
--      string), then the old unique constraint dropped (a brief ACCESS
--      EXCLUSIVE, no scan);
--   3. VALIDATE, which scans the rows under SHARE UPDATE EXCLUSIVE only, so
--      posts and reads go on while it checks the existing rows.
--
-- Had the CHECKs been added valid, or validated in transaction 1, the scan
-- would run under ACCESS EXCLUSIVE and stop every post for its length. If a
-- later step fails, the earlier ones stay committed and golang-migrate marks
-- version 3 dirty, as it does for any failed file; none of these steps can
-- fail on rows that passed the 0002 constraints, which are all stricter.

BEGIN;
-- A constraint is dropped and added again under its own name in one
-- statement, so no row goes unchecked in between and the names the adapter
-- maps errors by (accounts_balance_non_negative) stay.
ALTER TABLE accounts
    DROP CONSTRAINT accounts_kind_valid,
    ADD CONSTRAINT accounts_kind_valid
        CHECK (kind IN ('wallet', 'receivable', 'platform_fees', 'platform_rewards', 'stripe_clearing')) NOT VALID,
    -- Wallets and receivables have an owner; platform accounts have none.
    DROP CONSTRAINT accounts_owner_valid,
    ADD CONSTRAINT accounts_owner_valid
        CHECK ((kind IN ('wallet', 'receivable')) = (user_id IS NOT NULL)) NOT VALID,
    -- Only stripe_clearing and receivables may go below zero.
    DROP CONSTRAINT accounts_balance_non_negative,
    ADD CONSTRAINT accounts_balance_non_negative
        CHECK (kind IN ('stripe_clearing', 'receivable') OR balance >= 0) NOT VALID,
    -- A receivable above zero would be the platform owing the user through
    -- an account the user cannot spend from: the ledger refuses it first,
    -- this is the backstop.
    ADD CONSTRAINT accounts_receivable_non_positive
        CHECK (kind <> 'receivable' OR balance <= 0) NOT VALID;
COMMIT;

BEGIN;
-- One wallet and one receivable per user and currency, in place of the
-- single UNIQUE (user_id, currency) that allowed one account per user at
-- all. The wallet index also serves WalletOf and Wallets, which filter on
-- kind = 'wallet'.
CREATE UNIQUE INDEX accounts_wallet_user_currency_key ON accounts (user_id, currency) WHERE kind = 'wallet';
CREATE UNIQUE INDEX accounts_receivable_user_currency_key ON accounts (user_id, currency) WHERE kind = 'receivable';
ALTER TABLE accounts DROP CONSTRAINT accounts_user_currency_key;
COMMIT;

ALTER TABLE accounts
    VALIDATE CONSTRAINT accounts_kind_valid,
    VALIDATE CONSTRAINT accounts_owner_valid,
    VALIDATE CONSTRAINT accounts_balance_non_negative,
    VALIDATE CONSTRAINT accounts_receivable_non_positive;
