package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"maps"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"
	"golang.org/x/oauth2"

	"github.com/azora-os/azora/shared/app/apptest"
	"github.com/azora-os/azora/shared/config"
)

const oauthAdminEmail = "root@azora.test"

// oauthEnv is an auth instance whose issuer is its own address (as
// go-oidc's discovery requires), with an admin and two service scopes.
type oauthEnv struct {
	base  string
	c     *apptest.Client
	admin string // the admin's access token
}

func startOAuth(t *testing.T) *oauthEnv {
	t.Helper()
	env := testEnv(t, map[string]string{
		"AUTH_BOOTSTRAP_ADMIN_EMAIL":    oauthAdminEmail,
		"AUTH_BOOTSTRAP_ADMIN_PASSWORD": goodPassword,
		"AUTH_OAUTH_SCOPES":             "reports:read,courses:read",
		"AUTH_LOGIN_PAIR_BURST":         "100",
	})
	base := apptest.Start(t, func(ctx context.Context, ln net.Listener, out io.Writer) error {
		env := maps.Clone(env)
		env["AUTH_ISSUER"] = "http://" + ln.Addr().String()
		cfg, err := loadConfig(config.FromMap(env))
		if err != nil {
			return err
		}
		return run(ctx, cfg, ln, out)
	})
	e := &oauthEnv{base: base, c: apptest.NewClient(base, "127.0.0.1")}
	r := e.c.Do(t, "POST", "/api/v1/auth/login", "", map[string]any{"email": oauthAdminEmail, "password": goodPassword})
	apptest.Want(t, r, 200, "")
	e.admin = r.Str("access_token")
	return e
}

// client registers a client and returns its id and secret.
func (e *oauthEnv) client(t *testing.T, body map[string]any) (id, secret string) {
	t.Helper()
	r := e.c.Do(t, "POST", "/api/v1/auth/clients", e.admin, body)
	apptest.Want(t, r, 201, "")
	return r.Str("client_id"), r.Str("client_secret")
}

// introspect asks about token as client id.
func (e *oauthEnv) introspect(t *testing.T, id, secret, token string) apptest.Reply {
	t.Helper()
	r := e.c.Form(t, "/oauth2/introspect", id, secret, url.Values{"token": {token}})
	apptest.Want(t, r, 200, "")
	return r
}

// wantOAuthError fails t unless err is an RFC 6749 error with code.
func wantOAuthError(t *testing.T, err error, code string) {
	t.Helper()
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) || re.ErrorCode != code {
		t.Fatalf("got %v, want OAuth error %s", err, code)
	}
}

func randomString(t testing.TB) string {
	b := make([]byte, 16)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// callbackServer is a client's loopback redirect endpoint (RFC 8252).
func callbackServer(t *testing.T) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/callback" {
			http.NotFound(w, r)
			return
		}
		io.WriteString(w, "signed in")
	}))
	t.Cleanup(srv.Close)
	return srv
}

// browser is a user's browser: a cookie jar, and redirects followed
// (or not, to look at them).
type browser struct {
	c      *http.Client
	follow bool
}

func newBrowser(follow bool) *browser {
	jar, _ := cookiejar.New(nil)
	b := &browser{c: &http.Client{Jar: jar, Timeout: 30 * time.Second}, follow: follow}
	if !follow {
		b.c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	}
	return b
}

// page is a response as the browser sees it, with its form's hidden
// fields and action.
type page struct {
	status int
	header http.Header
	url    *url.URL // after redirects
	body   string
	action *url.URL
	fields url.Values
}

// step is the page's step: login, mfa, consent, or "" (none).
func (p page) step() string { return p.fields.Get("step") }

func (b *browser) get(t *testing.T, u string) page {
	t.Helper()
	resp, err := b.c.Get(u)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	return readPage(t, resp)
}

// submit posts p's form with its hidden fields, set added.
func (b *browser) submit(t *testing.T, p page, set map[string]string) page {
	t.Helper()
	if p.action == nil {
		t.Fatalf("page has no form: %d %s", p.status, p.body)
	}
	v := url.Values{}
	for k := range p.fields {
		v.Set(k, p.fields.Get(k))
	}
	for k, val := range set {
		v.Set(k, val)
	}
	resp, err := b.c.PostForm(p.action.String(), v)
	if err != nil {
		t.Fatalf("POST %s: %v", p.action, err)
	}
	return readPage(t, resp)
}

func readPage(t *testing.T, resp *http.Response) page {
	t.Helper()
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	p := page{status: resp.StatusCode, header: resp.Header, url: resp.Request.URL, body: string(raw), fields: url.Values{}}
	if !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		return p
	}
	doc, err := html.Parse(strings.NewReader(p.body))
	if err != nil {
		t.Fatalf("page is not HTML: %v", err)
	}
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode {
			attr := map[string]string{}
			for _, a := range n.Attr {
				attr[a.Key] = a.Val
			}
			switch {
			case n.Data == "form" && p.action == nil:
				p.action, _ = resp.Request.URL.Parse(attr["action"])
			case n.Data == "input" && attr["type"] == "hidden":
				p.fields.Set(attr["name"], attr["value"])
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(doc)
	return p
}

// signIn drives the page from authURL to the client's callback: password,
// the code from mfa when the page asks for one, then consent. It returns
// the callback's query.
func (b *browser) signIn(t *testing.T, authURL, email string, mfa func() string) url.Values {
	t.Helper()
	p := b.get(t, authURL)
	if p.status != 200 || p.step() != "login" {
		t.Fatalf("authorize: got %d step %q, want the login page: %s", p.status, p.step(), p.body)
	}
	p = b.submit(t, p, map[string]string{"email": email, "password": goodPassword})
	if p.step() == "mfa" {
		if mfa == nil {
			t.Fatal("the page asks for a code, but the test has none")
		}
		p = b.submit(t, p, map[string]string{"code": mfa()})
	}
	if p.status != 200 || p.step() != "consent" {
		t.Fatalf("after sign-in: got %d step %q, want the consent page: %s", p.status, p.step(), p.body)
	}
	p = b.submit(t, p, map[string]string{"decision": "allow"})
	if p.status != 200 || p.url.Path != "/callback" {
		t.Fatalf("after consent: got %d at %s, want the client's callback", p.status, p.url)
	}
	return p.url.Query()
}
