package finance

import (
	"context"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/azora-os/azora/shared/kit"
	"github.com/azora-os/azora/shared/pg"
)

// InstrumentLedger returns l counting, in reg, the money the ledger moves:
// azora_finance_money_moved_total{currency,kind} in minor units (the sum
// of a transaction's credits, so a transfer of 1999 counts 1999 once),
// kind being the transaction's (transfer, topup, enrollment_charge …). A
// transaction counts once it has committed: never when it rolls back, and
// once however often a serialization failure retried it. Every other
// method passes through. The series of each kind in currencies (the
// platform's default currency) exist from the start, so rates work from
// zero.
func InstrumentLedger(l Ledger, reg prometheus.Registerer, currencies ...string) Ledger {
	var initial [][]string
	for _, c := range currencies {
		for _, k := range []string{TxTransfer, TxTopup, TxTopupRefund, TxEnrollmentCharge, TxEnrollmentRefund, TxReward} {
			initial = append(initial, []string{c, k})
		}
	}
	moved := kit.Counter(reg, "azora_finance_money_moved_total",
		"Money moved by committed ledger transactions, in minor units, by currency and transaction kind.",
		[]string{"currency", "kind"}, initial...)
	return instrumentedLedger{Ledger: l, moved: moved}
}

type instrumentedLedger struct {
	Ledger
	moved *prometheus.CounterVec
}

// Post implements Ledger.
func (l instrumentedLedger) Post(ctx context.Context, t Transaction) error {
	if err := l.Ledger.Post(ctx, t); err != nil {
		return err
	}
	credits := map[string]int64{}
	for _, p := range t.Postings {
		if p.Amount > 0 {
			credits[p.Currency] += p.Amount
		}
	}
	pg.OnCommit(ctx, func() {
		for currency, amount := range credits {
			l.moved.WithLabelValues(currency, t.Kind).Add(float64(amount))
		}
	})
	return nil
}
