package httpx_test

import (
	"crypto/tls"
	"net/http/httptest"
	"testing"

	"github.com/azora-os/azora/shared/httpx"
)

func TestTrustedProxiesClientIP(t *testing.T) {
	trusted, err := httpx.ParseTrustedProxies([]string{"127.0.0.1", "10.0.0.0/8", " ::1 ", ""})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name   string
		remote string
		xff    []string
		want   string
	}{
		{"untrusted peer: header ignored", "203.0.113.9:5555", []string{"1.2.3.4"}, "203.0.113.9"},
		{"trusted peer, no header", "127.0.0.1:5555", nil, "127.0.0.1"},
		{"trusted peer names the client", "127.0.0.1:5555", []string{"198.51.100.7"}, "198.51.100.7"},
		{"spoofed left part not believed", "127.0.0.1:5555", []string{"6.6.6.6, 198.51.100.7"}, "198.51.100.7"},
		{"chain of trusted proxies skipped", "127.0.0.1:5555", []string{"6.6.6.6, 198.51.100.7, 10.1.2.3"}, "198.51.100.7"},
		{"several header lines", "127.0.0.1:5555", []string{"6.6.6.6", "198.51.100.7, 10.0.0.1"}, "198.51.100.7"},
		{"all trusted: the leftmost hop", "127.0.0.1:5555", []string{"10.0.0.2, 10.0.0.1"}, "10.0.0.2"},
		{"malformed hop: stop at the last believed", "127.0.0.1:5555", []string{"198.51.100.7, junk"}, "127.0.0.1"},
		{"ipv6 peer", "[::1]:5555", []string{"2001:db8::1"}, "2001:db8::1"},
		{"ipv4-mapped peer", "[::ffff:127.0.0.1]:5555", []string{"198.51.100.7"}, "198.51.100.7"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/", nil)
			r.RemoteAddr = tc.remote
			for _, v := range tc.xff {
				r.Header.Add("X-Forwarded-For", v)
			}
			if got := trusted.ClientIP(r); got != tc.want {
				t.Errorf("ClientIP = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestTrustedProxiesNobody(t *testing.T) {
	var none httpx.TrustedProxies
	r := httptest.NewRequest("GET", "/", nil)
	r.RemoteAddr = "127.0.0.1:1"
	r.Header.Set("X-Forwarded-For", "1.2.3.4")
	r.Header.Set("X-Forwarded-Proto", "https")
	if got := none.ClientIP(r); got != "127.0.0.1" {
		t.Errorf("ClientIP = %q, want the peer", got)
	}
	if got := none.Proto(r); got != "http" {
		t.Errorf("Proto = %q, want http: an untrusted peer's header is ignored", got)
	}
}

func TestTrustedProxiesProto(t *testing.T) {
	trusted, _ := httpx.ParseTrustedProxies([]string{"127.0.0.0/8"})
	r := httptest.NewRequest("GET", "/", nil)
	r.RemoteAddr = "127.0.0.1:1"
	r.Header.Set("X-Forwarded-Proto", "HTTPS")
	if got := trusted.Proto(r); got != "https" {
		t.Errorf("Proto = %q, want https", got)
	}
	r.Header.Set("X-Forwarded-Proto", "gopher")
	if got := trusted.Proto(r); got != "http" {
		t.Errorf("Proto = %q for a bogus header, want the connection's own http", got)
	}
	r.TLS = &tls.ConnectionState{}
	r.Header.Del("X-Forwarded-Proto")
	if got := trusted.Proto(r); got != "https" {
		t.Errorf("Proto = %q on a TLS connection, want https", got)
	}
}

func TestParseTrustedProxiesRejectsGarbage(t *testing.T) {
	for _, bad := range []string{"10.0.0.0/33", "localhost", "1.2.3"} {
		if _, err := httpx.ParseTrustedProxies([]string{bad}); err == nil {
			t.Errorf("ParseTrustedProxies(%q) = nil error", bad)
		}
	}
}
