package finance

import (
	"context"
	"errors"

	"github.com/azora-os/azora/shared/errs"
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
// While the instructor owes the platform, the share pays the debt first
// (planCharge); the student's side is the same either way, so the debt
// can never fail the student's payment.
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
	t, err := s.postPlanned(ctx, "charge of enrollment "+c.EnrollmentID, func() (Transaction, error) {
		return s.planCharge(ctx, c, student.ID, instructor.ID, fees.ID, fee)
	})
	switch {
	case errors.Is(err, ErrInsufficientFunds):
		return "", "insufficient_funds", nil
	case err != nil:
		return "", "", err
	}
	return t.ID, "", nil
}

// planCharge returns the enrollment_charge transaction: the price out of
// the student's wallet, the fee to the platform, and the instructor's
// share first to their receivable, up to what they owe, the rest to their
// wallet. Its Check re-plans (errReplan) when the debt Post locked is not
// the one read here: repaying more than the debt would take the receivable
// above zero, which Post refuses. A debt that appears after the read, on
// a receivable this plan does not post to, is left for the next charge.
func (s *FinanceService) planCharge(ctx context.Context, c Charge, studentID, walletID, feesID string, fee int64) (Transaction, error) {
	share := c.Amount - fee
	debt, owes, err := s.Ledger.Receivable(ctx, c.InstructorID, c.Currency)
	if err != nil {
		return Transaction{}, err
	}
	repayment := func(balance int64) int64 { return min(share, max(-balance, 0)) }
	var repay int64
	if owes {
		repay = repayment(debt.Balance)
	}
	id, err := newID()
	if err != nil {
		return Transaction{}, err
	}
	return Transaction{ID: id, Kind: TxEnrollmentCharge, Reference: c.EnrollmentID,
		Description: "course enrollment", CreatedAt: s.now(), Postings: nonZero(
			Posting{studentID, -c.Amount, c.Currency},
			Posting{debt.ID, repay, c.Currency},
			Posting{walletID, share - repay, c.Currency},
			Posting{feesID, fee, c.Currency}),
		Check: func(locked []Account) error {
			if a := accountIn(locked, debt.ID); a != nil && repayment(a.Balance) != repay {
				return errReplan
			}
			return nil
		}}, nil
}

// EnrollmentCancelled implements Reactions: the compensation step. A paid
// charge is reversed (refund); an enrollment not charged yet is marked so
// that its charge request, if it arrives later, is refused. The charge
// record, locked and then marked refunded in the same transaction as the
// refund's posting, makes a redelivery refund nothing.
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
			if err := s.refund(ctx, enrollmentID, charge); err != nil {
				return err
			}
		}
		c.Status, c.UpdatedAt = ChargeRefunded, s.now()
		return s.Ledger.SaveCharge(ctx, c)
	})
}

// errReplan is what the Check of a refund or charge plan returns when a
// balance the plan was made from moved before Post locked the account:
// the reaction reads the balances again and plans anew. It never leaves
// the service but as the cause of an internal error after maxPlans.
var errReplan = errors.New("finance: a balance moved between planning and posting")

// maxPlans bounds the plans of one refund or charge. Post keeps the
// accounts of a refused attempt locked until the transaction ends, so the
// second plan reads balances nobody else can move; a third is needed only
// when that plan posts to an account the first did not lock.
const maxPlans = 4

// postPlanned posts the transaction plan returns, planning again (at most
// maxPlans times) while the plan's Check finds that a balance it was made
// from has moved, and returns the transaction posted. what names the
// posting in the error after maxPlans.
func (s *FinanceService) postPlanned(ctx context.Context, what string, plan func() (Transaction, error)) (Transaction, error) {
	for range maxPlans {
		t, err := plan()
		if err != nil {
			return Transaction{}, err
		}
		if err := s.Ledger.Post(ctx, t); !errors.Is(err, errReplan) {
			return t, err
		}
	}
	return Transaction{}, errs.Internalf(errReplan, "finance: %s: %d plans", what, maxPlans)
}

// refund posts the reversal of charge under (TxEnrollmentRefund,
// enrollmentID), planned by planRefund until a plan's Check holds.
func (s *FinanceService) refund(ctx context.Context, enrollmentID string, charge Transaction) error {
	_, err := s.postPlanned(ctx, "refund of enrollment "+enrollmentID, func() (Transaction, error) {
		return s.planRefund(ctx, enrollmentID, charge)
	})
	return err
}

// plannedDebit is a wallet leg of a refund: want is what the reversal
// takes from the wallet, take what the wallet held of it when planned.
type plannedDebit struct {
	walletID   string
	want, take int64
}

// planRefund returns the transaction reversing charge: each account gets
// back the opposite of what charge posted to it (netted per account),
// except that a user's wallet is debited only what it holds, and the
// rest of its debit goes onto the user's receivable as debt. The student
// is thus credited in full even after the instructor moved the share out
// of the wallet, as a payment platform covers a refund a seller's balance
// cannot. Platform accounts are reversed as posted. The Check re-plans
// (errReplan) when a wallet, as Post locked it, no longer holds what the
// plan takes from it, or holds enough to take more. A wallet the plan
// takes nothing from is not locked; money reaching it meanwhile stays
// there, and the debt is recovered from later earnings like any other.
func (s *FinanceService) planRefund(ctx context.Context, enrollmentID string, charge Transaction) (Transaction, error) {
	var back []Posting
	at := map[string]int{}
	for _, p := range charge.Postings {
		i, seen := at[p.AccountID]
		if !seen {
			i = len(back)
			at[p.AccountID] = i
			back = append(back, Posting{p.AccountID, 0, p.Currency})
		}
		back[i].Amount -= p.Amount
	}
	var legs []Posting
	var debits []plannedDebit
	for _, b := range back {
		if b.Amount >= 0 {
			legs = append(legs, b)
			continue
		}
		w, err := s.Ledger.Wallet(ctx, b.AccountID)
		if errors.Is(err, ErrWalletNotFound) { // a platform account
			legs = append(legs, b)
			continue
		}
		if err != nil {
			return Transaction{}, err
		}
		d := plannedDebit{walletID: w.ID, want: -b.Amount}
		d.take = min(d.want, w.Balance)
		debits = append(debits, d)
		legs = append(legs, Posting{w.ID, -d.take, b.Currency})
		if owed := d.want - d.take; owed > 0 {
			r, err := s.Ledger.OpenReceivable(ctx, w.UserID, b.Currency)
			if err != nil {
				return Transaction{}, err
			}
			legs = append(legs, Posting{r.ID, -owed, b.Currency})
		}
	}
	id, err := newID()
	if err != nil {
		return Transaction{}, err
	}
	return Transaction{ID: id, Kind: TxEnrollmentRefund, Reference: enrollmentID,
		Description: "enrollment cancelled: refund", CreatedAt: s.now(), Postings: nonZero(legs...),
		Check: func(locked []Account) error {
			for _, d := range debits {
				if a := accountIn(locked, d.walletID); a != nil && min(d.want, max(a.Balance, 0)) != d.take {
					return errReplan
				}
			}
			return nil
		}}, nil
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
