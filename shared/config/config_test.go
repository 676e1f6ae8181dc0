package config

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestReaderReportsEveryProblemAtOnce(t *testing.T) {
	r := FromMap(map[string]string{
		"PORT":    "eighty",
		"TIMEOUT": "soon",
		"FORMAT":  "xml",
		"URL":     "not a url",
	})
	r.Required("DATABASE_URL")
	r.Int("PORT", 1)
	r.Duration("TIMEOUT", time.Second)
	r.OneOf("FORMAT", "json", "json", "logfmt")
	r.URL("URL", "")
	err := r.Err()
	if err == nil {
		t.Fatal("got nil error, want one naming five variables")
	}
	for _, key := range []string{"DATABASE_URL is required", "PORT", "TIMEOUT", "FORMAT", "URL"} {
		if !strings.Contains(err.Error(), key) {
			t.Errorf("error %q does not name %s", err, key)
		}
	}
	if strings.Count(err.Error(), ";") != 4 {
		t.Errorf("got %q, want five problems on one line", err)
	}
}

func TestReaderDefaultsAndValues(t *testing.T) {
	r := FromMap(map[string]string{"N": "7", "D": "250ms", "L": " a, ,b ", "B": "true", "S": "  "})
	if got := r.Int("N", 1); got != 7 {
		t.Errorf("Int: got %d, want 7", got)
	}
	if got := r.Duration("D", 0); got != 250*time.Millisecond {
		t.Errorf("Duration: got %v, want 250ms", got)
	}
	if got := strings.Join(r.List("L", nil), "|"); got != "a|b" {
		t.Errorf("List: got %q, want a|b", got)
	}
	if !r.Bool("B", false) {
		t.Error("Bool: got false, want true")
	}
	if got := r.String("S", "def"); got != "def" {
		t.Errorf("blank value: got %q, want the default", got)
	}
	if err := r.Err(); err != nil {
		t.Errorf("got %v, want no error", err)
	}
}

func TestSecretIsMasked(t *testing.T) {
	s := Secret("sk_live_123")
	for _, got := range []string{fmt.Sprint(s), fmt.Sprintf("%v", s), fmt.Sprintf("%#v", struct{ K Secret }{s})} {
		if strings.Contains(got, "sk_live") {
			t.Errorf("secret printed: %q", got)
		}
	}
}

func TestURLErrorRedactsPassword(t *testing.T) {
	r := FromMap(map[string]string{"DATABASE_URL": "//user:hunter2@host/db"})
	r.URL("DATABASE_URL", "")
	if err := r.Err(); err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Errorf("got %v, want an error without the password", err)
	}
}

func TestSecretsFromFiles(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	r := FromMap(map[string]string{
		"STRIPE_WEBHOOK_SECRET_FILE": write("whsec", "whsec_from_file\n"),
		"DATABASE_URL_FILE":          write("dsn", "postgres://azora:hunter2@db:5432/azora\n"),
		"REDIS_PASSWORD":             "from-env",
		"REDIS_PASSWORD_FILE":        write("ignored", "from-file"),
	})
	if got := r.Secret("STRIPE_WEBHOOK_SECRET"); got != "whsec_from_file" {
		t.Errorf("Secret from file = %q", string(got))
	}
	if got := r.SecretURL("DATABASE_URL"); got != "postgres://azora:hunter2@db:5432/azora" {
		t.Errorf("SecretURL from file = %q", string(got))
	}
	if got := r.OptionalSecret("REDIS_PASSWORD"); got != "from-env" {
		t.Errorf("the variable itself must win over its _FILE, got %q", string(got))
	}
	if got := r.OptionalSecret("NOT_SET"); got != "" {
		t.Errorf("unset optional secret = %q", string(got))
	}
	if err := r.Err(); err != nil {
		t.Fatal(err)
	}
}

func TestSecretFileProblemsAreReported(t *testing.T) {
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty")
	os.WriteFile(empty, []byte(" \n"), 0o600)
	r := FromMap(map[string]string{
		"A_FILE":       filepath.Join(dir, "missing"),
		"B_FILE":       empty,
		"DATABASE_URL": "not a url with hunter2",
	})
	r.Secret("A")
	r.OptionalSecret("B")
	r.Secret("C")
	r.SecretURL("DATABASE_URL")
	err := r.Err()
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{"A_FILE cannot be read", "B_FILE names an empty file", "C is required (or C_FILE", "DATABASE_URL must be an absolute URL"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	if strings.Contains(err.Error(), "A is required") {
		t.Errorf("an unreadable A_FILE is reported twice: %v", err)
	}
}
