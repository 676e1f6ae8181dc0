package auth

import "testing"

func TestCheckRedirectURI(t *testing.T) {
	for _, tc := range []struct {
		uri string
		ok  bool
	}{
		{"https://app.example.com/callback", true},
		{"https://app.example.com/callback?tenant=1", true},
		{"http://127.0.0.1/callback", true},
		{"http://127.0.0.1:8080/callback", true},
		{"http://[::1]:8080/cb", true},
		{"http://app.example.com/callback", false},
		{"http://localhost:8080/callback", false},
		{"https://app.example.com/callback#frag", false},
		{"https://user:pw@app.example.com/cb", false},
		{"https://good@evil.example/cb", false},
		{"/callback", false},
		{"app.example.com/callback", false},
		{"com.example.app:/callback", false},
		{"javascript:alert(1)", false},
		{"https://app.example.com/a b", false},
		{"https://app.example.com/\u00e9", false},
		{"", false},
	} {
		if got := checkRedirectURI(tc.uri) == ""; got != tc.ok {
			t.Errorf("%q: got ok %v (%q), want %v", tc.uri, got, checkRedirectURI(tc.uri), tc.ok)
		}
	}
}

func TestMatchRedirectURI(t *testing.T) {
	registered := []string{"https://app.example.com/callback", "http://127.0.0.1/cb", "http://[::1]:9000/cb?x=1"}
	for _, tc := range []struct {
		uri string
		ok  bool
	}{
		{"https://app.example.com/callback", true},
		{"http://127.0.0.1/cb", true},
		{"http://127.0.0.1:54321/cb", true},
		{"http://[::1]/cb?x=1", true},
		{"http://[::1]:1/cb?x=1", true},
		{"https://app.example.com/callback/", false},
		{"https://APP.example.com/callback", false},
		{"https://app.example.com/Callback", false},
		{"https://app.example.com/callback?extra=1", false},
		{"https://app.example.com:443/callback", false},
		{"https://evil.example.com/callback", false},
		{"https://app.example.com@evil.example/callback", false},
		{"http://app.example.com/callback", false},
		{"http://127.0.0.1:54321/cb/", false},
		{"http://127.0.0.1:54321/cb?x", false},
		{"http://127.0.0.1:54321@evil.example/cb", false},
		{"http://127.0.0.1@evil.example/cb", false},
		{"http://127.0.0.1.evil.example/cb", false},
		{"http://127.0.0.1:0/cb", false},
		{"http://127.0.0.1:99999/cb", false},
		{"http://127.0.0.1:+80/cb", false},
		{"https://127.0.0.1:54321/cb", false},
		{"http://localhost:54321/cb", false},
		{"http://[::1]:9000/cb", false},
		{"http://127.0.0.1:54321/cb#x", false},
	} {
		if got := matchRedirectURI(registered, tc.uri); got != tc.ok {
			t.Errorf("%q: got %v, want %v", tc.uri, got, tc.ok)
		}
	}
}
