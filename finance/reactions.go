package finance

import (
	"context"
	"errors"
)

// OpenDefaultWallet implements Reactions.
func (s *FinanceService) OpenDefaultWallet(ctx context.Context, userID string) error {
	id, err := newID()
	if err != nil {
		return err
	}
	w, created, err := s.Ledger.OpenWallet(ctx, id, userID, s.cfg.DefaultCurrency, s.now())
	if err != nil || !created {
		return err
	}
	return s.publish(ctx, EventWalletCreated, userID, map[string]any{"wallet_id": w.ID, "user_id": userID, "currency": w.Currency})
}

// ChargeEnrollment implements Reactions. The charge record, locked for the
// whole reaction, makes it idempotent: a redelivered request finds it and
// does nothing, and so does a request arriving after the enrollment was
// cancelled.
func (s *FinanceService) ChargeEnrollment(ctx context.Context, enrollmentID, courseID, userID, instructorID string, price Money) error {
	return s.Tx.InTx(ctx, func(ctx context.Context) error {
		if _, seen, err := s.Ledger.LockCharge(ctx, enrollmentID); err != nil || seen {
			return err
		}
		c := Charge{EnrollmentID: enrollmentID, UserID: userID, InstructorID: instructorID,
			Amount: price.Amount, Currency: price.Currency, UpdatedAt: s.now()}
		txID, reason, err := s.charge(ctx, c)
		if errors.Is(err, ErrAlreadyPosted) {
			// Two deliveries of one request raced past LockCharge (there
			// was no row to lock yet); the unique (kind, reference) let the
			// other one charge, and it has recorded the outcome.
			return nil
		}
		if err != nil {
			return err
		}
		if reason != "" {
			c.Status, c.FailureReason = ChargeFailed, reason
			if err := s.Ledger.SaveCharge(ctx, c); err != nil {
				return err
			}
			return s.publish(ctx, EventPaymentFailed, userID, map[string]any{"enrollment_id": enrollmentID, "user_id": userID, "reason": reason})
		}
		c.Status, c.TransactionID = ChargePaid, txID
		if err := s.Ledger.SaveCharge(ctx, c); err != nil {
			return err
		}
		return s.publish(ctx, EventPaymentCompleted, userID, map[string]any{
			"payment_id": txID, "enrollment_id": enrollmentID, "user_id": userID, "amount": price.Amount,
		})
	})
}

// charge posts student → instructor less the fee → platform fees, and
// returns the transaction id, or a failure reason the student is told.
func (s *FinanceService) charge(ctx context.Context, c Charge) (txID, reason string, err error) {
	if validateAmount(Money{c.Amount, c.Currency}) != nil {
		return "", "invalid_price", nil
	}
	student, err := s.Ledger.WalletOf(ctx, c.UserID, c.Currency)
	if errors.Is(err, ErrWalletNotFound) {
		return "", "no_wallet_in_currency", nil
	}
	if err != nil {
		return "", "", err
	}
	wid, err := newID()
	if err != nil {
		return "", "", err
	}
	instructor, _, err := s.Ledger.OpenWallet(ctx, wid, c.InstructorID, c.Currency, s.now())
	if err != nil {
		return "", "", err
	}
	fees, err := s.Ledger.PlatformAccount(ctx, KindFees, c.Currency)
	if err != nil {
		return "", "", err
	}
	fee := c.Amount * s.cfg.FeeBasisPoints / 10000
	if txID, err = newID(); err != nil {
		return "", "", err
	}
	err = s.Ledger.Post(ctx, Transaction{ID: txID, Kind: TxEnrollmentCharge, Reference: c.EnrollmentID,
		Description: "course enrollment", CreatedAt: s.now(), Postings: nonZero(
			Posting{student.ID, -c.Amount, c.Currency},
			Posting{instructor.ID, c.Amount - fee, c.Currency},
			Posting{fees.ID, fee, c.Currency})})
	switch {
	case errors.Is(err, ErrInsufficientFunds):
		return "", "insufficient_funds", nil
	case err != nil:
		return "", "", err
	}
	return txID, "", nil
}

// EnrollmentCancelled implements Reactions: the compensation step. A paid
// charge is reversed posting by posting; an enrollment not charged yet is
// marked so that its charge request, if it arrives later, is refused.
func (s *FinanceService) EnrollmentCancelled(ctx context.Context, enrollmentID, userID string) error {
	return s.Tx.InTx(ctx, func(ctx context.Context) error {
		c, seen, err := s.Ledger.LockCharge(ctx, enrollmentID)
		if err != nil {
			return err
		}
		if !seen {
			return s.Ledger.SaveCharge(ctx, Charge{EnrollmentID: enrollmentID, UserID: userID, Status: ChargeCancelled, UpdatedAt: s.now()})
		}
		if c.Status != ChargePaid {
			return nil
		}
		charge, found, err := s.Ledger.TransactionByRef(ctx, TxEnrollmentCharge, enrollmentID)
		if err != nil {
			return err
		}
		if found {
			var back []Posting
			for _, p := range charge.Postings {
				back = append(back, Posting{p.AccountID, -p.Amount, p.Currency})
			}
			if err := s.post(ctx, TxEnrollmentRefund, enrollmentID, "enrollment cancelled: refund", back...); err != nil {
				return err
			}
		}
		c.Status, c.UpdatedAt = ChargeRefunded, s.now()
		return s.Ledger.SaveCharge(ctx, c)
	})
}

// CourseCompleted implements Reactions. The reward is posted with the
// enrollment id as reference, so it is paid at most once; an unfunded
// rewards account pays nothing (the ledger refuses to overdraw it).
func (s *FinanceService) CourseCompleted(ctx context.Context, enrollmentID, userID string) error {
	r := s.cfg.Reward
	if r.Amount <= 0 {
		return nil
	}
	return s.Tx.InTx(ctx, func(ctx context.Context) error {
		w, err := s.Ledger.WalletOf(ctx, userID, r.Currency)
		if errors.Is(err, ErrWalletNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		pool, err := s.Ledger.PlatformAccount(ctx, KindRewards, r.Currency)
		if err != nil {
			return err
		}
		if pool.Balance < r.Amount {
			return nil // not funded: no reward, and no retry storm
		}
		err = s.post(ctx, TxReward, enrollmentID, "learn-to-earn reward",
			Posting{pool.ID, -r.Amount, r.Currency}, Posting{w.ID, r.Amount, r.Currency})
		if errors.Is(err, ErrAlreadyPosted) || errors.Is(err, ErrInsufficientFunds) {
			return nil
		}
		return err
	})
}

func nonZero(ps ...Posting) []Posting {
	out := ps[:0]
	for _, p := range ps {
		if p.Amount != 0 {
			out = append(out, p)
		}
	}
	return out
}
