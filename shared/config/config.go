// Package config reads a binary's configuration from the environment. A
// Reader collects every missing or malformed variable so that main can stop
// with one line naming them all, instead of failing on the first.
package config

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"
)

// Secret is a string that prints masked, so a Config can be logged whole.
type Secret string

// String masks the secret.
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return "****"
}

// GoString masks the secret under %#v too.
func (s Secret) GoString() string { return s.String() }

// Reader reads typed variables and remembers every problem.
type Reader struct {
	lookup func(string) (string, bool)
	errs   []string
}

// FromEnv returns a Reader over the process environment.
func FromEnv() *Reader { return &Reader{lookup: os.LookupEnv} }

// FromMap returns a Reader over m (for tests and for run(ctx, cfg) callers).
func FromMap(m map[string]string) *Reader {
	return &Reader{lookup: func(k string) (string, bool) { v, ok := m[k]; return v, ok }}
}

func (r *Reader) get(key string) (string, bool) {
	v, ok := r.lookup(key)
	v = strings.TrimSpace(v)
	return v, ok && v != ""
}

func (r *Reader) fail(key, format string, args ...any) {
	r.errs = append(r.errs, key+" "+fmt.Sprintf(format, args...))
}

// String returns the variable or def when unset.
func (r *Reader) String(key, def string) string {
	if v, ok := r.get(key); ok {
		return v
	}
	return def
}

// Required returns the variable, recording an error when it is unset.
func (r *Reader) Required(key string) string {
	v, ok := r.get(key)
	if !ok {
		r.fail(key, "is required")
	}
	return v
}

// Secret is Required for a value that must never be printed. Like every
// secret read here, it may instead come from the file named by <key>_FILE
// (see OptionalSecret).
func (r *Reader) Secret(key string) Secret {
	v, ok := r.secret(key)
	if !ok {
		r.fail(key, "is required (or %s_FILE naming a file that holds it)", key)
	}
	return Secret(v)
}

// OptionalSecret returns a secret that may be unset. When key is unset and
// <key>_FILE is set, the secret is that file's content without surrounding
// whitespace: how Kubernetes Secret volumes and the Vault Agent injector
// hand secrets over without putting them in the environment.
func (r *Reader) OptionalSecret(key string) Secret {
	v, _ := r.secret(key)
	return Secret(v)
}

// SecretURL is OptionalSecret for an absolute URL that may hold a password
// (a DSN); a malformed one is reported without its password.
func (r *Reader) SecretURL(key string) Secret {
	v, ok := r.secret(key)
	if ok && v != "" {
		r.checkURL(key, v)
	}
	return Secret(v)
}

// secret returns key's value or, when key is unset, the trimmed content of
// the file <key>_FILE names. ok is false only when neither is set; a file
// that cannot be read or is empty is recorded as a problem.
func (r *Reader) secret(key string) (v string, ok bool) {
	if v, ok := r.get(key); ok {
		return v, true
	}
	path, ok := r.get(key + "_FILE")
	if !ok {
		return "", false
	}
	b, err := os.ReadFile(path)
	if err != nil {
		r.fail(key+"_FILE", "cannot be read: %v", err)
		return "", true
	}
	if v = strings.TrimSpace(string(b)); v == "" {
		r.fail(key+"_FILE", "names an empty file (%s)", path)
	}
	return v, true
}

// Int returns an integer variable or def.
func (r *Reader) Int(key string, def int) int {
	v, ok := r.get(key)
	if !ok {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		r.fail(key, "must be an integer, got %q", v)
	}
	return n
}

// Duration returns a time.ParseDuration variable or def.
func (r *Reader) Duration(key string, def time.Duration) time.Duration {
	v, ok := r.get(key)
	if !ok {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		r.fail(key, "must be a non-negative duration such as 5s, got %q", v)
	}
	return d
}

// Bool returns a strconv.ParseBool variable or def.
func (r *Reader) Bool(key string, def bool) bool {
	v, ok := r.get(key)
	if !ok {
		return def
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		r.fail(key, "must be true or false, got %q", v)
	}
	return b
}

// List returns a comma-separated variable, trimmed, empty items dropped.
func (r *Reader) List(key string, def []string) []string {
	v, ok := r.get(key)
	if !ok {
		return def
	}
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// URL returns an absolute URL variable (scheme and host required) or def.
func (r *Reader) URL(key, def string) string {
	v := r.String(key, def)
	if v != "" {
		r.checkURL(key, v)
	}
	return v
}

func (r *Reader) checkURL(key, v string) {
	u, err := url.Parse(v)
	if err != nil || u.Scheme == "" || (u.Host == "" && u.Opaque == "") {
		r.fail(key, "must be an absolute URL, got %q", redactURL(v))
	}
}

// OneOf returns a variable that must be one of allowed, or def.
func (r *Reader) OneOf(key, def string, allowed ...string) string {
	v := r.String(key, def)
	for _, a := range allowed {
		if v == a {
			return v
		}
	}
	r.fail(key, "must be one of %s, got %q", strings.Join(allowed, "|"), v)
	return v
}

// Check records a custom problem when ok is false.
func (r *Reader) Check(ok bool, key, format string, args ...any) {
	if !ok {
		r.fail(key, format, args...)
	}
}

// Err returns one error naming every problem, or nil.
func (r *Reader) Err() error {
	if len(r.errs) == 0 {
		return nil
	}
	return errors.New("bad configuration: " + strings.Join(r.errs, "; "))
}

// redactURL hides a password in a URL so it can be printed.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "<unparsable>"
	}
	return u.Redacted()
}
