package e2e

import (
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"

	"github.com/azora-os/azora/shared/app/apptest"
	"github.com/azora-os/azora/shared/app/apptest/platform"
)

// TestJourney walks the whole user journey through NGINX over HTTPS, each
// answer checked against API.md: an instructor publishes a paid course; a
// student registers (finance opens the wallet from user.registered),
// turns TOTP on and signs in with it, tops up by card (stripe-mock and a
// signed webhook, delivered twice), pays for the course through the
// Kafka saga, completes it, gets a certificate anyone can verify and
// print, and sees it all on the dashboard; both wallets moved by the
// price less the platform fee, exactly.
func TestJourney(t *testing.T) {
	const (
		feeBasisPoints = 1500 // not finance's default (1000), so the setting is what is tested
		price          = 2000
		topup          = 5000
		lessons        = 3
		instructorCut  = price - price*feeBasisPoints/10000
	)
	begin := time.Now()
	step := func(name string, f func()) {
		t.Helper()
		start := time.Now()
		f()
		t.Logf("%-46s %6d ms", name, time.Since(start).Milliseconds())
	}

	var p *platform.Platform
	step("0 platform up (services, 2 gateways, NGINX)", func() {
		p = platform.Start(t, platform.Options{Env: map[string]string{"FINANCE_FEE_BASIS_POINTS": strconv.Itoa(feeBasisPoints)}})
	})
	c := api(p)
	run := unique(t)

	var inst *user
	var crs course
	step("1 instructor registers, publishes a course", func() {
		inst = register(t, p, "Ines Instructor", "instructor")
		if roles := claims(t, inst.Token)["roles"]; !slices.Equal(apptest.Strings(roles), []string{"instructor"}) {
			t.Fatalf("instructor's access token: roles %v, want [instructor]", roles)
		}
		crs = newCourse(t, p, inst, "Ledgers "+run[:6], price, lessons)
		got := c.Do(t, http.MethodGet, "/api/v1/courses/"+crs.ID, "", nil)
		apptest.Want(t, got, http.StatusOK, "")
		pub := got.Obj("course")
		ls, _ := pub["lessons"].([]any)
		if pub["status"] != "published" || len(ls) != lessons {
			t.Fatalf("anonymous GET of the published course: got %s, want published with %d lessons", got.Raw, lessons)
		}
		for i, l := range ls {
			if l.(map[string]any)["id"] != crs.Lessons[i] {
				t.Fatalf("lessons out of order: got %s, want %v", got.Raw, crs.Lessons)
			}
		}
		wantMoney(t, "published course price", pub["price"], price)
		cat := c.Do(t, http.MethodGet, "/api/v1/courses?q=ledgers", "", nil)
		apptest.Want(t, cat, http.StatusOK, "")
		items, _ := cat.Body["items"].([]any)
		if len(items) != 1 || items[0].(map[string]any)["id"] != crs.ID {
			t.Fatalf("catalogue search: got %s, want the course", cat.Raw)
		}
	})

	var stu *user
	var stuWallet, instWallet string
	step("2 student registers, wallet opens (Kafka)", func() {
		stu = register(t, p, "Zoë Adeyemi", "")
		stuWallet = defaultWallet(t, p, stu)
		instWallet = defaultWallet(t, p, inst)
	})

	step("3 TOTP on, logout, login with MFA", func() {
		setup := c.Do(t, http.MethodPost, "/api/v1/auth/mfa/totp/setup", stu.Token, nil)
		apptest.Want(t, setup, http.StatusOK, "")
		secret := setup.Str("secret")
		if secret == "" || !strings.HasPrefix(setup.Str("otpauth_url"), "otpauth://totp/") {
			t.Fatalf("TOTP setup: got %s, want {secret, otpauth_url}", setup.Raw)
		}
		// Two distinct 30 s steps: a code works once, so the login needs
		// another than the one that turned MFA on. Both lie within the
		// service's one step of skew for the next 30 s.
		now := time.Now().Unix() / 30
		code := func(step int64) string {
			s, err := totp.GenerateCode(secret, time.Unix(step*30, 0))
			if err != nil {
				t.Fatal(err)
			}
			return s
		}
		enableCode, loginCode := code(now), code(now+1)
		en := c.Do(t, http.MethodPost, "/api/v1/auth/mfa/totp/enable", stu.Token, map[string]any{"code": enableCode})
		apptest.Want(t, en, http.StatusOK, "")
		if rc, _ := en.Body["recovery_codes"].([]any); len(rc) != 10 {
			t.Fatalf("TOTP enable: got %s, want 10 recovery codes", en.Raw)
		}
		me := c.Do(t, http.MethodGet, "/api/v1/auth/me", stu.Token, nil)
		apptest.Want(t, me, http.StatusOK, "")
		if me.Obj("user")["mfa_enabled"] != true {
			t.Fatalf("after enabling TOTP: got %s, want mfa_enabled true", me.Raw)
		}

		apptest.Want(t, c.Do(t, http.MethodPost, "/api/v1/auth/logout", stu.Token, nil), http.StatusNoContent, "")
		gone := c.Do(t, http.MethodGet, "/api/v1/auth/me", stu.Token, nil)
		if gone.Status != http.StatusUnauthorized || !strings.HasPrefix(gone.Header.Get("WWW-Authenticate"), "Bearer") {
			t.Fatalf("access token after logout: got %d %s (WWW-Authenticate %q), want 401 with Bearer",
				gone.Status, gone.Raw, gone.Header.Get("WWW-Authenticate"))
		}

		li := c.Do(t, http.MethodPost, "/api/v1/auth/login", "", map[string]any{"email": stu.Email, "password": stu.Password})
		apptest.Want(t, li, http.StatusOK, "")
		if li.Body["mfa_required"] != true || li.Str("mfa_token") == "" || li.Body["access_token"] != nil {
			t.Fatalf("login with MFA on: got %s, want {mfa_required: true, mfa_token} and no tokens", li.Raw)
		}
		mfa := li.Str("mfa_token")
		apptest.Want(t, c.Do(t, http.MethodPost, "/api/v1/auth/login/mfa", "", map[string]any{"mfa_token": mfa, "code": enableCode}),
			http.StatusUnauthorized, "invalid_code")
		stu.Token, stu.Refresh = wantTokens(t, c.Do(t, http.MethodPost, "/api/v1/auth/login/mfa", "",
			map[string]any{"mfa_token": mfa, "code": loginCode}))
		if amr := apptest.Strings(claims(t, stu.Token)["amr"]); !slices.Contains(amr, "pwd") || !slices.Contains(amr, "otp") {
			t.Fatalf("access token after MFA: amr %v, want pwd and otp", amr)
		}
		apptest.Want(t, c.Do(t, http.MethodGet, "/api/v1/auth/me", stu.Token, nil), http.StatusOK, "")
	})

	step("4 top-up: PaymentIntent, webhook twice", func() {
		key := "topup-" + run
		tp := topUp(t, p, stu, stuWallet, topup, key)
		again := c.Do(t, http.MethodPost, "/api/v1/wallets/"+stuWallet+"/topups", stu.Token,
			map[string]any{"amount": topup, "currency": currency}, "Idempotency-Key", key)
		if again.Status != http.StatusCreated || again.Header.Get("Idempotent-Replayed") != "true" || again.Obj("topup")["id"] != tp["id"] {
			t.Fatalf("top-up replayed with its key: got %d %s (Idempotent-Replayed %q), want the same 201",
				again.Status, again.Raw, again.Header.Get("Idempotent-Replayed"))
		}
		if got := balance(t, p, stu, stuWallet); got != 0 {
			t.Fatalf("before the webhook: balance %d, want 0", got)
		}
		event := stripeEvent(t, "payment_intent.succeeded", tp["payment_intent_id"].(string), topup)
		for i := range 2 { // Stripe redelivers; the second changes nothing
			r := deliverWebhook(t, p, event)
			apptest.Want(t, r, http.StatusOK, "")
			if got := balance(t, p, stu, stuWallet); got != topup {
				t.Fatalf("after delivery %d of the webhook: balance %d, want %d", i+1, got, topup)
			}
		}
		if got := statement(t, p, stu, stuWallet); !slices.Equal(got, []string{"topup " + strconv.Itoa(topup)}) {
			t.Fatalf("statement after the top-up: %v, want one topup of %d", got, topup)
		}
	})

	var enrollmentID string
	step("5 enroll in the paid course (saga)", func() {
		key := "enroll-" + run
		r := enroll(t, p, stu, crs.ID, key)
		apptest.Want(t, r, http.StatusAccepted, "")
		e := r.Obj("enrollment")
		wantKeys(t, "enrollment", e, "id", "course_id", "user_id", "status", "price", "progress")
		if e["status"] != "pending_payment" || e["course_id"] != crs.ID || e["user_id"] != stu.ID {
			t.Fatalf("paid enrollment: got %s, want pending_payment", r.Raw)
		}
		wantMoney(t, "enrollment price", e["price"], price)
		enrollmentID = e["id"].(string)
		if again := enroll(t, p, stu, crs.ID, key); again.Status != http.StatusAccepted ||
			again.Header.Get("Idempotent-Replayed") != "true" || again.Obj("enrollment")["id"] != enrollmentID {
			t.Fatalf("enrollment replayed with its key: got %d %s, want the same 202 replayed", again.Status, again.Raw)
		}
		start := time.Now()
		e = settled(t, p, stu, enrollmentID, 20*time.Second)
		if e["status"] != "active" {
			t.Fatalf("after the payment saga: got %v (cancel_reason %v), want active", e["status"], e["cancel_reason"])
		}
		t.Logf("  payment saga: pending_payment → active in %d ms", time.Since(start).Milliseconds())
		apptest.Want(t, enroll(t, p, stu, crs.ID, "enroll-again-"+run), http.StatusConflict, "already_enrolled")
	})

	var certID string
	step("6 lessons, certificate, PDF, verify", func() {
		for i, l := range crs.Lessons {
			r := c.Do(t, http.MethodPost, "/api/v1/enrollments/"+enrollmentID+"/lessons/"+l+"/complete", stu.Token, nil)
			apptest.Want(t, r, http.StatusOK, "")
			wantProgress(t, r.Obj("progress"), i+1, lessons)
		}
		e := enrollment(t, p, stu, enrollmentID)
		if e["status"] != "completed" || e["completed_at"] == nil {
			t.Fatalf("after the last lesson: got %v, want completed with completed_at", e)
		}
		wantProgress(t, e["progress"].(map[string]any), lessons, lessons)

		list := c.Do(t, http.MethodGet, "/api/v1/certificates", stu.Token, nil)
		apptest.Want(t, list, http.StatusOK, "")
		items, _ := list.Body["items"].([]any)
		if len(items) != 1 {
			t.Fatalf("certificates: got %s, want one", list.Raw)
		}
		certID = items[0].(map[string]any)["id"].(string)

		got := c.Do(t, http.MethodGet, "/api/v1/certificates/"+certID, "", nil)
		apptest.Want(t, got, http.StatusOK, "")
		cert := got.Obj("certificate")
		wantKeys(t, "certificate", cert, "id", "user_id", "course_id", "course_title", "learner_name", "issued_at", "signature")
		if cert["user_id"] != stu.ID || cert["course_id"] != crs.ID || cert["course_title"] != crs.Title ||
			cert["learner_name"] != stu.Name || cert["signature"] == "" {
			t.Fatalf("certificate: got %s, want %q's, for %q, signed", got.Raw, stu.Name, crs.Title)
		}

		v := c.Do(t, http.MethodGet, "/api/v1/certificates/"+certID+"/verify", "", nil)
		apptest.Want(t, v, http.StatusOK, "")
		if v.Body["valid"] != true {
			t.Fatalf("public verification: got %s, want valid true", v.Raw)
		}

		pdf := c.Do(t, http.MethodGet, "/api/v1/certificates/"+certID+"/pdf", "", nil)
		apptest.Want(t, pdf, http.StatusOK, "")
		if ct := pdf.Header.Get("Content-Type"); ct != "application/pdf" {
			t.Fatalf("certificate PDF: Content-Type %q, want application/pdf", ct)
		}
		text := pdfText(t, pdf.Raw)
		for _, want := range []string{stu.Name, crs.Title} {
			if !strings.Contains(text, want) {
				t.Errorf("certificate PDF text lacks %q: %s", want, text)
			}
		}
	})

	step("7 wallets moved by price less fee", func() {
		if got := balance(t, p, stu, stuWallet); got != topup-price {
			t.Errorf("student wallet: %d, want %d (top-up %d less price %d)", got, topup-price, topup, price)
		}
		if got := balance(t, p, inst, instWallet); got != instructorCut {
			t.Errorf("instructor wallet: %d, want %d (price %d less the %d bp fee)", got, instructorCut, price, feeBasisPoints)
		}
		wantStmt := []string{"enrollment_charge -" + strconv.Itoa(price), "topup " + strconv.Itoa(topup)}
		if got := statement(t, p, stu, stuWallet); !slices.Equal(got, wantStmt) {
			t.Errorf("student statement: %v, want %v", got, wantStmt)
		}
		if got := statement(t, p, inst, instWallet); !slices.Equal(got, []string{"enrollment_charge " + strconv.Itoa(instructorCut)}) {
			t.Errorf("instructor statement: %v, want one enrollment_charge of %d", got, instructorCut)
		}
	})

	step("8 dashboard", func() {
		d := c.Do(t, http.MethodGet, "/api/v1/me/dashboard", stu.Token, nil)
		apptest.Want(t, d, http.StatusOK, "")
		wantKeys(t, "dashboard", d.Body, "user", "enrollments", "wallets", "degraded")
		if u := d.Obj("user"); u["id"] != stu.ID || u["email"] != stu.Email || u["mfa_enabled"] != true {
			t.Errorf("dashboard user: got %v, want %s with MFA on", u, stu.ID)
		}
		ens, _ := d.Body["enrollments"].([]any)
		if len(ens) != 1 || ens[0].(map[string]any)["id"] != enrollmentID || ens[0].(map[string]any)["status"] != "completed" {
			t.Errorf("dashboard enrollments: got %v, want %s completed", d.Body["enrollments"], enrollmentID)
		}
		ws, _ := d.Body["wallets"].([]any)
		if len(ws) != 1 || ws[0].(map[string]any)["id"] != stuWallet || num(t, ws[0].(map[string]any)["balance"]) != topup-price {
			t.Errorf("dashboard wallets: got %v, want %s holding %d", d.Body["wallets"], stuWallet, topup-price)
		}
		if deg, ok := d.Body["degraded"].([]any); !ok || len(deg) != 0 {
			t.Errorf("dashboard degraded: got %v, want []", d.Body["degraded"])
		}
		anon := c.Do(t, http.MethodGet, "/api/v1/me/dashboard", "", nil)
		if anon.Status != http.StatusUnauthorized || !strings.HasPrefix(anon.Header.Get("WWW-Authenticate"), "Bearer") {
			t.Errorf("dashboard without a token: got %d (WWW-Authenticate %q), want 401 Bearer", anon.Status, anon.Header.Get("WWW-Authenticate"))
		}
	})
	t.Logf("%-46s %6d ms", "journey total (platform start included)", time.Since(begin).Milliseconds())
}

// wantProgress fails t unless p is API.md's progress after done of total
// lessons: percent is floor(100 · done / total).
func wantProgress(t testing.TB, p map[string]any, done, total int) {
	t.Helper()
	wantKeys(t, "progress", p, "completed_lessons", "total_lessons", "percent")
	if num(t, p["completed_lessons"]) != int64(done) || num(t, p["total_lessons"]) != int64(total) ||
		num(t, p["percent"]) != int64(100*done/total) {
		t.Fatalf("progress: got %v, want %d of %d, %d%%", p, done, total, 100*done/total)
	}
}

// pdfText returns the text pdftotext (poppler-utils, installed by .ci/run)
// reads from pdf, runs of white space made one space. It also fails t
// unless the bytes are a PDF at all.
func pdfText(t testing.TB, pdf []byte) string {
	t.Helper()
	if !strings.HasPrefix(string(pdf), "%PDF-") {
		t.Fatalf("not a PDF: starts %.20q", pdf)
	}
	file := filepath.Join(t.TempDir(), "certificate.pdf")
	if err := os.WriteFile(file, pdf, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("pdftotext", "-enc", "UTF-8", file, "-").CombinedOutput()
	if err != nil {
		t.Fatalf("pdftotext (poppler-utils, installed by .ci/run): %v: %s", err, out)
	}
	return strings.Join(strings.Fields(string(out)), " ")
}
