package auth

import (
	"encoding/base64"
	"encoding/binary"
	"time"

	"github.com/azora-os/azora/shared/errs"
)

// The sign-in page's CSRF defence is a signed double submit: the browser
// holds a random cookie (HttpOnly, SameSite=Strict, on /oauth2/authorize
// only) and every form carries a token that is the token's expiry sealed
// (AES-256-GCM) with the cookie as associated data. Another site can make
// the browser post the form, but can neither read the cookie nor forge a
// token for it, and a token planted together with a cookie of the
// attacker's choosing does not open without the sealing key.
const (
	csrfCookieName = "azora_oauth_csrf"
	csrfTTL        = time.Hour
	csrfAD         = "azora/oauth-csrf\x00"
	maxCSRFToken   = 512
)

// errCSRF is a page POST whose CSRF token is missing, wrong or expired.
var errCSRF = errs.New(errs.Forbidden, "csrf_failed", "this form expired or did not come from this site; go back to the application and start again")

// csrfGuard mints and checks the page's CSRF tokens. now defaults to
// time.Now.
type csrfGuard struct {
	sealer Sealer
	now    func() time.Time
}

func (g csrfGuard) clock() time.Time {
	if g.now != nil {
		return g.now()
	}
	return time.Now()
}

// token returns a form token for cookie, valid for csrfTTL.
func (g csrfGuard) token(cookie string) (string, error) {
	exp := binary.BigEndian.AppendUint64(nil, uint64(g.clock().Add(csrfTTL).Unix()))
	sealed, err := g.sealer.SealAD(exp, []byte(csrfAD+cookie))
	if err != nil {
		return "", errs.Internalf(err, "seal CSRF token")
	}
	return base64.RawURLEncoding.EncodeToString(sealed), nil
}

// valid reports whether token was minted for cookie and has not expired.
func (g csrfGuard) valid(cookie, token string) bool {
	if cookie == "" || token == "" || len(token) > maxCSRFToken {
		return false
	}
	sealed, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil {
		return false
	}
	exp, err := g.sealer.OpenAD(sealed, []byte(csrfAD+cookie))
	if err != nil || len(exp) != 8 {
		return false
	}
	return g.clock().Unix() < int64(binary.BigEndian.Uint64(exp))
}

// validCSRFCookie accepts what the page sets: 256 random bits, base64url.
func validCSRFCookie(c string) bool { return len(c) == 43 && base64URLChars(c) }
