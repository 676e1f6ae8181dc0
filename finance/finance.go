// Package finance is Azora's money service: wallets over a double-entry,
// append-only ledger, idempotent transfers, card top-ups and refunds through
// Stripe, and the payment side of the enrollment saga. It publishes
// azora.finance.* events and reacts to auth's and education's.
package finance
