package auth

import (
	"bytes"
	"context"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"errors"
	"html/template"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"

	"github.com/azora-os/azora/shared/errs"
	"github.com/azora-os/azora/shared/httpx"
	"github.com/azora-os/azora/shared/logging"
)

//go:embed templates/authorize.html templates/authorize.css
var pageFS embed.FS

var (
	pageTemplate = template.Must(template.ParseFS(pageFS, "templates/authorize.html"))
	pageStyle    = mustRead(pageFS, "templates/authorize.css")
	// pageStyleHash lets the page's one inline style through its CSP.
	pageStyleHash = func() string {
		sum := sha256.Sum256([]byte(pageStyle))
		return "'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"
	}()
)

func mustRead(fs embed.FS, name string) string {
	b, err := fs.ReadFile(name)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// pages serves the sign-in page of /oauth2/authorize: the go-kit request
// hooks, decoder and encoders of its GET and POST.
type pages struct {
	csrf     csrfGuard
	issuer   string
	logger   log.Logger
	clientIP func(*http.Request) string
	proto    func(*http.Request) string
}

// pageState is what a page request carries from the request hook to the
// encoders: the browser's CSRF cookie (when it has a well-formed one),
// whether it came over HTTPS, and the method.
type pageState struct {
	cookie string
	secure bool
	post   bool
}

type pageStateKey struct{}

func (p *pages) before(ctx context.Context, r *http.Request) context.Context {
	st := &pageState{secure: p.proto(r) == "https", post: r.Method == http.MethodPost}
	if c, err := r.Cookie(csrfCookieName); err == nil && validCSRFCookie(c.Value) {
		st.cookie = c.Value
	}
	return context.WithValue(ctx, pageStateKey{}, st)
}

func stateOf(ctx context.Context) *pageState {
	if st, ok := ctx.Value(pageStateKey{}).(*pageState); ok {
		return st
	}
	return &pageState{}
}

// decodeSubmit reads a step of the page from its form, once the form's
// CSRF token has been checked against the browser's cookie. Errors:
// invalid_request, csrf_failed, payload_too_large.
func (p *pages) decodeSubmit(ctx context.Context, r *http.Request) (any, error) {
	if err := parseForm(r, "the form"); err != nil {
		return nil, err
	}
	f := r.PostForm
	if !p.csrf.valid(stateOf(ctx).cookie, f.Get("csrf_token")) {
		return nil, errCSRF
	}
	return authorizeSubmitRequest{
		Step: f.Get("step"), Request: authorizationRequest(f),
		Email: f.Get("email"), Password: f.Get("password"), ClientIP: p.clientIP(r),
		MFAToken: f.Get("mfa_token"), Code: f.Get("code"),
		ConsentToken: f.Get("consent_token"), Decision: f.Get("decision"),
	}, nil
}

// encode sends the browser to the client with its code, or shows a step.
func (p *pages) encode(ctx context.Context, w http.ResponseWriter, response any) error {
	switch v := response.(type) {
	case AuthorizationResponse:
		q := url.Values{"code": {v.Code}, "iss": {p.issuer}}
		if v.State != "" {
			q.Set("state", v.State)
		}
		p.redirect(ctx, w, v.RedirectURI, q)
		return nil
	case authorizePage:
		if v.RetryAfter > 0 {
			w.Header().Set("Retry-After", strconv.FormatInt(int64(v.RetryAfter.Seconds())+1, 10))
		}
		return p.render(ctx, w, v)
	}
	return errs.Internalf(errors.New("unexpected response"), "authorize page: %T", response)
}

// encodeError redirects an error the client must learn (RFC 6749
// §4.1.2.1) and shows any other, without telling more about a server
// fault than its request id.
func (p *pages) encodeError(ctx context.Context, err error, w http.ResponseWriter) {
	var re *RedirectError
	if errors.As(err, &re) {
		q := url.Values{"error": {re.Err.Code}, "error_description": {re.Err.Message}, "iss": {p.issuer}}
		if re.State != "" {
			q.Set("state", re.State)
		}
		p.redirect(ctx, w, re.RedirectURI, q)
		return
	}
	e := errs.As(err)
	status := httpx.Status(e.Kind)
	msg := e.Message
	if errs.IsServerFault(e) {
		level.Error(logging.With(ctx, p.logger)).Log("msg", "request failed", "code", e.Code, "err", err)
		msg = "Something went wrong on our side. Try again in a moment; if it keeps happening, quote request " + logging.RequestID(ctx) + "."
	}
	page := pageView{Step: "error", Title: "This sign-in cannot continue", Message: sentence(msg)}
	_ = p.write(w, status, page, "")
}

// redirect sends the browser to uri with q added to its query: 302 from
// the GET, 303 from a form POST (RFC 9700 §4.12: never 307, which would
// repost the credentials).
func (p *pages) redirect(ctx context.Context, w http.ResponseWriter, uri string, q url.Values) {
	sep := "?"
	if strings.Contains(uri, "?") {
		sep = "&"
	}
	status := http.StatusFound
	if stateOf(ctx).post {
		status = http.StatusSeeOther
	}
	w.Header().Set("Location", uri+sep+q.Encode())
	w.WriteHeader(status)
}

// pageView is what the template shows.
type pageView struct {
	Step, Title  string
	ClientName   string
	Scopes       []string // what the client may do, in words
	Request      AuthorizationRequest
	Email        string
	MFAToken     string
	ConsentToken string
	CSRF         string
	Message      string
	Action       string
	Style        template.CSS
}

// render shows a step with a fresh CSRF token bound to the browser's
// cookie, setting the cookie first when the browser has none.
func (p *pages) render(ctx context.Context, w http.ResponseWriter, v authorizePage) error {
	st := stateOf(ctx)
	if st.cookie == "" {
		c, err := randomToken()
		if err != nil {
			return err
		}
		st.cookie = c
		http.SetCookie(w, &http.Cookie{
			Name: csrfCookieName, Value: c, Path: PathAuthorize, MaxAge: int(csrfTTL / time.Second),
			HttpOnly: true, Secure: st.secure, SameSite: http.SameSiteStrictMode,
		})
	}
	token, err := p.csrf.token(st.cookie)
	if err != nil {
		return err
	}
	titles := map[string]string{"login": "Sign in", "mfa": "Two-step verification", "consent": "Allow access?"}
	view := pageView{
		Step: v.Step, Title: titles[v.Step], ClientName: v.ClientName, Scopes: describeScopes(v.Scopes),
		Request: v.Request, Email: v.Email, MFAToken: v.MFAToken, ConsentToken: v.ConsentToken,
		CSRF: token, Message: v.Message, Action: PathAuthorize,
	}
	status := v.Status
	if status == 0 {
		status = http.StatusOK
	}
	return p.write(w, status, view, origin(v.Request.RedirectURI))
}

// write renders view with the page's Content-Security-Policy: nothing
// loads, the one inline style is allowed by hash, and forms post here or,
// following the redirect to the client, to its origin.
func (p *pages) write(w http.ResponseWriter, status int, view pageView, redirectOrigin string) error {
	view.Style = template.CSS(pageStyle)
	var buf bytes.Buffer
	if err := pageTemplate.Execute(&buf, view); err != nil {
		return errs.Internalf(err, "render authorize page")
	}
	formAction := "'self'"
	if redirectOrigin != "" {
		formAction += " " + redirectOrigin
	}
	if view.Step == "error" {
		formAction = "'none'"
	}
	h := w.Header()
	h.Set("Content-Security-Policy", "default-src 'none'; style-src "+pageStyleHash+"; form-action "+formAction+"; frame-ancestors 'none'; base-uri 'none'")
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Length", strconv.Itoa(buf.Len()))
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
	return nil
}

// origin is scheme://host[:port] of a verified redirect URI, "" if none.
func origin(uri string) string {
	u, err := url.Parse(uri)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return ""
	}
	return u.Scheme + "://" + u.Host
}

// describeScopes says in words what each scope lets the client do.
func describeScopes(scopes []string) []string {
	out := make([]string, 0, len(scopes))
	for _, s := range scopes {
		switch s {
		case ScopeOpenID:
			out = append(out, "confirm who you are (your Azora account id)")
		case ScopeProfile:
			out = append(out, "see your name")
		case ScopeEmail:
			out = append(out, "see your email address")
		default:
			out = append(out, "use the permission “"+s+"”")
		}
	}
	return out
}

// sentence capitalises an error message and ends it with a full stop.
func sentence(s string) string {
	if s == "" {
		return s
	}
	s = strings.ToUpper(s[:1]) + s[1:]
	if !strings.HasSuffix(s, ".") {
		s += "."
	}
	return s
}
