package httpx

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// TrustedProxies is the set of peers whose X-Forwarded-For and
// X-Forwarded-Proto headers are believed: the reverse proxies in front of a
// server (NGINX in front of the gateway, the gateway in front of a service).
// A request from any other peer is taken at face value: its forwarding
// headers are what the client chose to send, so they are ignored.
type TrustedProxies []netip.Prefix

// ParseTrustedProxies parses CIDRs or bare addresses ("127.0.0.1",
// "10.0.0.0/8", "::1"). An empty list trusts nobody.
func ParseTrustedProxies(list []string) (TrustedProxies, error) {
	var t TrustedProxies
	for _, s := range list {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		if strings.Contains(s, "/") {
			p, err := netip.ParsePrefix(s)
			if err != nil {
				return nil, fmt.Errorf("trusted proxy %q: %w", s, err)
			}
			t = append(t, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(s)
		if err != nil {
			return nil, fmt.Errorf("trusted proxy %q: %w", s, err)
		}
		a = a.Unmap()
		t = append(t, netip.PrefixFrom(a, a.BitLen()))
	}
	return t, nil
}

// Contains reports whether addr belongs to a trusted proxy.
func (t TrustedProxies) Contains(addr netip.Addr) bool {
	addr = addr.Unmap()
	for _, p := range t {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}

// Trusts reports whether r's TCP peer is a trusted proxy.
func (t TrustedProxies) Trusts(r *http.Request) bool {
	a, ok := peerAddr(r)
	return ok && t.Contains(a)
}

// ClientIP returns the address of the client r comes from. When the peer is
// a trusted proxy it walks X-Forwarded-For from the right, skipping trusted
// proxies, and returns the first address that is not one (the hop a
// trusted proxy saw; anything to its left was written by the client and is
// not believed). Otherwise, or when the header holds nothing usable, it is
// the peer's own address.
func (t TrustedProxies) ClientIP(r *http.Request) string {
	peer, ok := peerAddr(r)
	if !ok {
		return RemoteIP(r)
	}
	if !t.Contains(peer) {
		return peer.String()
	}
	hops := r.Header.Values("X-Forwarded-For")
	for i := len(hops) - 1; i >= 0; i-- {
		parts := strings.Split(hops[i], ",")
		for j := len(parts) - 1; j >= 0; j-- {
			a, err := netip.ParseAddr(strings.TrimSpace(parts[j]))
			if err != nil {
				return peer.String() // a malformed hop: stop believing the chain
			}
			if a = a.Unmap(); !t.Contains(a) {
				return a.String()
			}
			peer = a
		}
	}
	return peer.String()
}

// Proto returns "https" or "http": what the client used to reach the first
// trusted proxy (X-Forwarded-Proto) when the peer is one, else whether this
// connection is TLS.
func (t TrustedProxies) Proto(r *http.Request) string {
	if t.Trusts(r) {
		switch p := strings.ToLower(strings.TrimSpace(r.Header.Get("X-Forwarded-Proto"))); p {
		case "http", "https":
			return p
		}
	}
	if r.TLS != nil {
		return "https"
	}
	return "http"
}

// RemoteIP returns the host part of r.RemoteAddr: the TCP peer.
func RemoteIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

func peerAddr(r *http.Request) (netip.Addr, bool) {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		a, err := netip.ParseAddr(RemoteIP(r))
		return a.Unmap(), err == nil
	}
	return ap.Addr().Unmap(), true
}
