package finance_test

import (
	"testing"

	"github.com/azora-os/azora/finance"
	"github.com/azora-os/azora/shared/page"
)

func TestPostgresLedgerTransactionByRef(t *testing.T) {
	t.Parallel()
	f := newPLFixture(t)
	w := f.wallet(t, "USD")
	tx := f.fund(t, w.ID, 40, "USD")
	got, found, err := f.l.TransactionByRef(f.ctx, finance.TxTopup, tx.Reference)
	if err != nil || !found {
		t.Fatalf("got found %v, err %v; want the transaction", found, err)
	}
	if got.ID != tx.ID || got.Kind != tx.Kind || got.Reference != tx.Reference || got.Description != tx.Description || got.CreatedAt.IsZero() {
		t.Errorf("got %+v, want %+v", got, tx)
	}
	if len(got.Postings) != 2 || got.Postings[0] != tx.Postings[0] || got.Postings[1] != tx.Postings[1] {
		t.Errorf("postings: got %+v, want %+v in order", got.Postings, tx.Postings)
	}
	for _, tt := range []struct{ name, kind, ref string }{
		{"unknown reference", finance.TxTopup, "pi_nope"},
		{"same reference, other kind", finance.TxTopupRefund, tx.Reference},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, found, err := f.l.TransactionByRef(f.ctx, tt.kind, tt.ref)
			if err != nil || found || got.ID != "" {
				t.Errorf("got %+v, found %v, err %v; want nothing", got, found, err)
			}
		})
	}
}

func TestPostgresLedgerEntriesPages(t *testing.T) {
	t.Parallel()
	f := newPLFixture(t)
	a, b := f.wallet(t, "USD"), f.wallet(t, "USD")
	f.fund(t, a.ID, 100, "USD")
	var want []int64 // a's amounts, newest first
	want = append(want, 100)
	for i := range int64(4) {
		tx := plTransfer(a.ID, b.ID, 10+i, "USD")
		tx.Description = "gift"
		if err := f.l.Post(f.ctx, tx); err != nil {
			t.Fatal(err)
		}
		want = append([]int64{-(10 + i)}, want...)
	}
	if err := f.l.Post(f.ctx, plTransfer(b.ID, a.ID, 3, "USD")); err != nil {
		t.Fatal(err)
	}
	want = append([]int64{3}, want...)

	var got []finance.Entry
	cursor := ""
	for pages := 0; ; pages++ {
		if pages > 3 {
			t.Fatal("more pages than entries")
		}
		p, err := f.l.Entries(f.ctx, a.ID, page.Request{Limit: 2, Cursor: cursor})
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, p.Items...)
		if p.NextCursor == "" {
			break
		}
		cursor = p.NextCursor
	}
	if len(got) != len(want) {
		t.Fatalf("got %d entries, want %d", len(got), len(want))
	}
	for i, e := range got {
		if e.Amount != want[i] || e.Currency != "USD" || e.ID == "" || e.TransactionID == "" || e.CreatedAt.IsZero() {
			t.Errorf("entry %d: got %+v, want amount %d", i, e, want[i])
		}
	}
	if e := got[len(got)-1]; e.Kind != finance.TxTopup || e.Description != "card top-up" {
		t.Errorf("oldest entry: got kind %q description %q, want the top-up's", e.Kind, e.Description)
	}
	if e := got[1]; e.Kind != finance.TxTransfer || e.Description != "gift" {
		t.Errorf("second entry: got kind %q description %q, want transfer, gift", e.Kind, e.Description)
	}
	for _, tt := range []struct {
		name, id string
		p        page.Request
		err      error
	}{
		{"no entries", f.wallet(t, "USD").ID, page.Request{}, nil},
		{"unknown wallet", plID(), page.Request{}, nil},
		{"malformed wallet", "w", page.Request{}, nil},
		{"bad cursor", a.ID, page.Request{Cursor: "%%"}, page.ErrBadCursor},
		{"cursor out of range", a.ID, page.Request{Cursor: page.Encode(map[string]int{"i": -4})}, page.ErrBadCursor},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p, err := f.l.Entries(f.ctx, tt.id, tt.p)
			plWantErr(t, err, tt.err)
			if err == nil && (p.Items == nil || len(p.Items) != 0 || p.NextCursor != "") {
				t.Errorf("got %+v, want an empty last page", p)
			}
		})
	}
}

func TestPostgresLedgerReconcileFindsTampering(t *testing.T) {
	t.Parallel()
	f := newPLFixture(t)
	a, b, c := f.wallet(t, "USD"), f.wallet(t, "USD"), f.wallet(t, "USD")
	f.fund(t, a.ID, 100, "USD")
	if err := f.l.Post(f.ctx, plTransfer(a.ID, b.ID, 30, "USD")); err != nil {
		t.Fatal(err)
	}
	f.noDifferences(t)
	// Balances are not append-only (they are the cache of the postings), so
	// someone with the database at hand can change them: reconcile tells.
	if _, err := f.db.Exec(`UPDATE accounts SET balance = balance + 5 WHERE id = $1`, b.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := f.db.Exec(`UPDATE accounts SET balance = 9 WHERE id = $1`, c.ID); err != nil {
		t.Fatal(err)
	}
	got, err := f.l.Reconcile(f.ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]finance.Difference{
		b.ID: {AccountID: b.ID, Stored: 35, Computed: 30},
		c.ID: {AccountID: c.ID, Stored: 9, Computed: 0},
	}
	if len(got) != len(want) {
		t.Fatalf("got %+v, want %+v", got, want)
	}
	for _, d := range got {
		if want[d.AccountID] != d {
			t.Errorf("got %+v, want %+v", d, want[d.AccountID])
		}
	}
}
