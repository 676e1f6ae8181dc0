-- The ledger (accounts, transactions, postings), card top-ups, the Stripe
-- events already applied, and the enrollment charges of the payment saga.
-- Ids are UUIDs made by the service; user ids come from auth's events and
-- tokens (no foreign key: the users live in auth's database). Amounts are
-- integer minor units of an ISO 4217 currency.

-- Accounts: user wallets (one per user and currency) and platform accounts
-- (one per kind and currency). balance is the sum of the account's postings,
-- kept in the same transaction as they are written; "finance reconcile"
-- proves it. Only stripe_clearing may go below zero: it stands for what card
-- payments brought in, like a bank's clearing account. The other platform
-- accounts hold real money (fees earned, the rewards pool) and must not be
-- overdrawn any more than a wallet.
-- fillfactor leaves room on each page so that balance updates stay HOT (no
-- index is touched), which matters on the transfer path.
CREATE TABLE accounts (
    id         uuid        PRIMARY KEY,
    kind       text        NOT NULL,
    user_id    uuid,
    currency   char(3)     NOT NULL,
    balance    bigint      NOT NULL DEFAULT 0,
    created_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT accounts_kind_valid CHECK (kind IN ('wallet', 'platform_fees', 'platform_rewards', 'stripe_clearing')),
    CONSTRAINT accounts_currency_valid CHECK (currency ~ '^[A-Z]{3}$'),
    -- A wallet has an owner; a platform account has none.
    CONSTRAINT accounts_owner_valid CHECK ((kind = 'wallet') = (user_id IS NOT NULL)),
    CONSTRAINT accounts_balance_non_negative CHECK (kind = 'stripe_clearing' OR balance >= 0),
    -- One wallet per user and currency (NULL user ids, the platform's, never collide).
    CONSTRAINT accounts_user_currency_key UNIQUE (user_id, currency),
    -- What postings reference, so that a posting's currency is always its account's.
    CONSTRAINT accounts_id_currency_key UNIQUE (id, currency)
) WITH (fillfactor = 80);
-- One platform account per kind and currency.
CREATE UNIQUE INDEX accounts_platform_key ON accounts (kind, currency) WHERE user_id IS NULL;

-- Transactions: one balanced ledger entry each. (kind, reference) names the
-- business fact it records (a transfer id, a PaymentIntent, an enrollment),
-- so each fact is posted at most once however often it is retried.
CREATE TABLE transactions (
    id          uuid        PRIMARY KEY,
    kind        text        NOT NULL,
    reference   text        NOT NULL,
    description text        NOT NULL DEFAULT '',
    created_at  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT transactions_kind_valid CHECK (kind ~ '^[a-z][a-z_]{0,39}$'),
    CONSTRAINT transactions_reference_valid CHECK (reference <> ''),
    CONSTRAINT transactions_kind_reference_key UNIQUE (kind, reference)
);

-- Postings: the legs of a transaction, signed (credit +, debit −). The id is
-- a sequence so that a statement (newest first) is one index range scan.
CREATE TABLE postings (
    id             bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    transaction_id uuid        NOT NULL,
    account_id     uuid        NOT NULL,
    amount         bigint      NOT NULL,
    currency       char(3)     NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT postings_amount_non_zero CHECK (amount <> 0),
    CONSTRAINT postings_transaction_fk FOREIGN KEY (transaction_id) REFERENCES transactions (id),
    CONSTRAINT postings_account_fk FOREIGN KEY (account_id, currency) REFERENCES accounts (id, currency)
);
-- A wallet's statement, newest first, keyset on id.
CREATE INDEX postings_account_idx ON postings (account_id, id DESC);
-- A transaction's legs (TransactionByRef, reversals).
CREATE INDEX postings_transaction_idx ON postings (transaction_id);

-- Double entry: the postings of each transaction sum to zero per currency.
-- The adapter writes all of a transaction's postings in one INSERT, so the
-- check runs once per statement over exactly the rows it inserted (the
-- transition table): a statement that adds unbalanced legs fails, whoever
-- runs it, and no commit-time re-read of the postings is needed.
CREATE FUNCTION postings_balanced() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    bad record;
BEGIN
    SELECT transaction_id, currency, sum(amount) AS total INTO bad
    FROM new_postings
    GROUP BY transaction_id, currency
    HAVING sum(amount) <> 0
    LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'transaction % does not balance: its % postings sum to %',
            bad.transaction_id, bad.currency, bad.total
            USING ERRCODE = 'check_violation', CONSTRAINT = 'postings_balanced';
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER postings_balanced AFTER INSERT ON postings
    REFERENCING NEW TABLE AS new_postings
    FOR EACH STATEMENT EXECUTE FUNCTION postings_balanced();

-- Append-only: a posted transaction is never changed or removed; a mistake is
-- corrected by a new transaction reversing it. The REVOKE covers roles other
-- than the owner; the triggers also stop the owner and superusers (who
-- bypass privileges), short of ALTER TABLE … DISABLE TRIGGER, which the
-- service never runs.
CREATE FUNCTION ledger_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the ledger is append-only: % on % is refused; post a reversing transaction instead',
        TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END
$$;
CREATE TRIGGER postings_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON postings
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_append_only();
CREATE TRIGGER transactions_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON transactions
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_append_only();
REVOKE UPDATE, DELETE, TRUNCATE ON postings, transactions FROM PUBLIC;

-- Card top-ups. payment_intent_id is set once Stripe answered; the webhook
-- finds the top-up by it.
CREATE TABLE topups (
    id                uuid        PRIMARY KEY,
    wallet_id         uuid        NOT NULL,
    user_id           uuid        NOT NULL,
    amount            bigint      NOT NULL,
    currency          char(3)     NOT NULL,
    status            text        NOT NULL,
    payment_intent_id text,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT topups_wallet_fk FOREIGN KEY (wallet_id) REFERENCES accounts (id),
    CONSTRAINT topups_amount_positive CHECK (amount > 0),
    CONSTRAINT topups_currency_valid CHECK (currency ~ '^[A-Z]{3}$'),
    CONSTRAINT topups_status_valid CHECK (status IN ('pending', 'succeeded', 'failed', 'refunded')),
    CONSTRAINT topups_payment_intent_key UNIQUE (payment_intent_id)
);

-- Stripe webhook events applied, so a redelivery changes nothing.
CREATE TABLE stripe_events (
    id          text        PRIMARY KEY,
    type        text        NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now()
);

-- The payment side of each enrollment (the saga's state). Amount and
-- currency are what the request asked for, stored even when they were
-- refused as invalid (the failure is the record); a charge cancelled before
-- any request has neither, nor an instructor.
CREATE TABLE charges (
    enrollment_id  uuid        PRIMARY KEY,
    user_id        uuid        NOT NULL,
    instructor_id  uuid,
    amount         bigint      NOT NULL DEFAULT 0,
    currency       text        NOT NULL DEFAULT '',
    status         text        NOT NULL,
    failure_reason text        NOT NULL DEFAULT '',
    transaction_id uuid,
    rewarded       boolean     NOT NULL DEFAULT false,
    updated_at     timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT charges_status_valid CHECK (status IN ('paid', 'failed', 'refunded', 'cancelled')),
    CONSTRAINT charges_transaction_fk FOREIGN KEY (transaction_id) REFERENCES transactions (id)
);
