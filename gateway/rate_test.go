package gateway_test

import (
	"testing"
	"time"

	"github.com/azora-os/azora/gateway"
)

func TestParseRate(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want gateway.Rate
	}{
		{"20/1m", gateway.Rate{Limit: 20, Period: time.Minute, Burst: 20}},
		{"100/s", gateway.Rate{Limit: 100, Period: time.Second, Burst: 100}},
		{" 600/1m:50 ", gateway.Rate{Limit: 600, Period: time.Minute, Burst: 50}},
		{"5/10s", gateway.Rate{Limit: 5, Period: 10 * time.Second, Burst: 5}},
	} {
		got, err := gateway.ParseRate(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("ParseRate(%q) = %+v, %v; want %+v", tc.in, got, err, tc.want)
			continue
		}
		if back, err := gateway.ParseRate(got.String()); err != nil || back != got {
			t.Errorf("ParseRate(%q.String() = %q) = %+v, %v", tc.in, got.String(), back, err)
		}
	}
	for _, bad := range []string{"", "20", "0/1m", "-1/1m", "x/1m", "20/", "20/0s", "20/-1s", "20/1m:0", "20/1m:x", "20/parsec"} {
		if r, err := gateway.ParseRate(bad); err == nil {
			t.Errorf("ParseRate(%q) = %+v, want an error", bad, r)
		}
	}
}
