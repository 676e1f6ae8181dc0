package page

import (
	"errors"
	"net/url"
	"testing"
	"time"
)

func TestFromQuery(t *testing.T) {
	tests := []struct {
		query   string
		want    int
		wantErr bool
	}{
		{"", DefaultLimit, false},
		{"limit=1", 1, false},
		{"limit=100", 100, false},
		{"limit=0", 0, true},
		{"limit=101", 0, true},
		{"limit=ten", 0, true},
	}
	for _, tc := range tests {
		t.Run(tc.query, func(t *testing.T) {
			q, _ := url.ParseQuery(tc.query)
			r, err := FromQuery(q)
			if (err != nil) != tc.wantErr || (!tc.wantErr && r.Limit != tc.want) {
				t.Errorf("got %+v, %v; want limit %d, error %v", r, err, tc.want, tc.wantErr)
			}
		})
	}
}

type key struct {
	At time.Time `json:"t"`
	ID string    `json:"i"`
}

func TestCursorRoundTripAndGarbage(t *testing.T) {
	k := key{At: time.Date(2026, 1, 2, 3, 4, 5, 6000, time.UTC), ID: "c1"}
	var got key
	if err := Decode(Encode(k), &got); err != nil || got != k {
		t.Fatalf("got %+v, %v; want %+v", got, err, k)
	}
	for _, bad := range []string{"!!", "bm90IGpzb24"} {
		if err := Decode(bad, &got); !errors.Is(err, ErrBadCursor) {
			t.Errorf("Decode(%q): got %v, want ErrBadCursor", bad, err)
		}
	}
}

func TestOf(t *testing.T) {
	rows := []string{"a", "b", "c"}
	id := func(s string) any { return s }
	if p := Of(rows, 3, id); len(p.Items) != 3 || p.NextCursor != "" {
		t.Errorf("last page: got %+v", p)
	}
	p := Of(rows, 2, id)
	var last string
	if Decode(p.NextCursor, &last); len(p.Items) != 2 || last != "b" {
		t.Errorf("got %+v (cursor names %q), want 2 items and a cursor naming b", p, last)
	}
	if p := Of[string](nil, 5, id); p.Items == nil {
		t.Error("empty page has nil items; want [] in JSON")
	}
}

func TestRequestSize(t *testing.T) {
	for limit, want := range map[int]int{0: DefaultLimit, -3: DefaultLimit, 1: 1, 37: 37, MaxLimit: MaxLimit, 1000: MaxLimit} {
		if got := (Request{Limit: limit}).Size(); got != want {
			t.Errorf("Limit %d: Size %d, want %d", limit, got, want)
		}
	}
}
