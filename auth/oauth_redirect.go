package auth

import (
	"net/url"
	"strconv"
	"strings"
)

// maxRedirectURILen bounds a registered redirect URI.
const maxRedirectURILen = 2000

// checkRedirectURI says why uri cannot be registered as a redirect URI, or
// returns "". It must be an absolute https URL, or http on a loopback IP
// literal (RFC 8252 §7.3; "localhost" is not one, §8.3), without a
// fragment (RFC 6749 §3.1.2) or user information, in printable ASCII.
func checkRedirectURI(uri string) string {
	if len(uri) > maxRedirectURILen {
		return "must be at most 2000 characters"
	}
	for i := 0; i < len(uri); i++ {
		if uri[i] <= ' ' || uri[i] >= 0x7f {
			return "must be printable ASCII without spaces"
		}
	}
	u, err := url.Parse(uri)
	switch {
	case err != nil || !u.IsAbs() || u.Host == "" || u.Opaque != "":
		return "must be an absolute URL"
	case strings.Contains(uri, "#"):
		return "must not have a fragment"
	case u.User != nil:
		return "must not carry user information"
	case u.Scheme == "https":
		return ""
	case u.Scheme == "http":
		if _, _, ok := splitLoopback(uri); ok {
			return ""
		}
		return "must use https (http only on a loopback address: 127.0.0.1 or [::1])"
	default:
		return "must use https"
	}
}

// matchRedirectURI reports whether presented is one of registered, byte
// for byte, but for the port of a loopback redirect, which a native app
// picks when it starts (RFC 8252 §7.3).
func matchRedirectURI(registered []string, presented string) bool {
	ph, prest, loop := splitLoopback(presented)
	for _, r := range registered {
		if r == presented {
			return true
		}
		if !loop {
			continue
		}
		if rh, rrest, ok := splitLoopback(r); ok && rh == ph && rrest == prest {
			return true
		}
	}
	return false
}

// splitLoopback splits an http URI on a loopback IP literal into its host
// (without the port) and what follows the authority. Anything else in the
// authority (user information, another host, a malformed port) is not a
// loopback URI.
func splitLoopback(uri string) (host, rest string, ok bool) {
	const scheme = "http://"
	if !strings.HasPrefix(uri, scheme) {
		return "", "", false
	}
	s := uri[len(scheme):]
	end := strings.IndexAny(s, "/?#")
	if end < 0 {
		end = len(s)
	}
	authority, rest := s[:end], s[end:]
	for _, h := range []string{"127.0.0.1", "[::1]"} {
		if !strings.HasPrefix(authority, h) {
			continue
		}
		port := authority[len(h):]
		if port == "" {
			return h, rest, true
		}
		if port[0] != ':' || !validPort(port[1:]) {
			return "", "", false
		}
		return h, rest, true
	}
	return "", "", false
}

// validPort accepts 1 to 65535 in decimal digits, without sign or spaces.
func validPort(p string) bool {
	if p == "" || len(p) > 5 || strings.Trim(p, "0123456789") != "" {
		return false
	}
	n, err := strconv.Atoi(p)
	return err == nil && n >= 1 && n <= 65535
}
