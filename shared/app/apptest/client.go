package apptest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// Client calls a service under test from a chosen loopback address, so a
// test can play several client IPs (Linux routes all of 127.0.0.0/8 to lo).
type Client struct {
	Base string
	HTTP *http.Client
}

// NewClient returns a client of base that connects from fromIP.
func NewClient(base, fromIP string) *Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(fromIP)}, Timeout: 5 * time.Second}
	return &Client{Base: base, HTTP: &http.Client{
		Timeout:   30 * time.Second,
		Transport: &http.Transport{DialContext: d.DialContext, MaxIdleConnsPerHost: 64},
	}}
}

// Reply is a decoded response.
type Reply struct {
	Status int
	Header http.Header
	Body   map[string]any // the JSON object, when the body is one
	Raw    []byte
}

// Str returns the string at key of the body, or "".
func (r Reply) Str(key string) string { s, _ := r.Body[key].(string); return s }

// Obj returns the object at key of the body, or nil.
func (r Reply) Obj(key string) map[string]any { m, _ := r.Body[key].(map[string]any); return m }

// Do sends a request with an optional bearer token, JSON body (a value to
// marshal, or a []byte of JSON sent as is) and extra headers (pairs of
// name, value), and fails t when it cannot be sent.
func (c *Client) Do(t testing.TB, method, path, token string, body any, headers ...string) Reply {
	t.Helper()
	r, err := c.Send(context.Background(), method, path, token, body, headers...)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// Send is Do without a test: it returns what keeps the request from being
// sent or its answer from being read, so goroutines of a load or a fault
// run may call it, and ctx bounds a call that hangs.
func (c *Client) Send(ctx context.Context, method, path, token string, body any, headers ...string) (Reply, error) {
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case []byte: // JSON already, sent byte for byte (a signed webhook payload)
		rd = bytes.NewReader(b)
	default:
		raw, err := json.Marshal(body)
		if err != nil {
			return Reply{}, err
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.Base+path, rd)
	if err != nil {
		return Reply{}, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	return c.roundTrip(req)
}

// Form posts v as an application/x-www-form-urlencoded body, as OAuth
// clients call the token, introspection and revocation endpoints, with
// HTTP Basic credentials when id is set (each form-encoded first, RFC 6749
// §2.3.1). It fails t when the request cannot be sent.
func (c *Client) Form(t testing.TB, path, id, secret string, v url.Values) Reply {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, c.Base+path, strings.NewReader(v.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if id != "" {
		req.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
	}
	r, err := c.roundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// roundTrip sends req and reads its answer, the body decoded when it is a
// JSON object.
func (c *Client) roundTrip(req *http.Request) (Reply, error) {
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return Reply{}, fmt.Errorf("%s %s: %w", req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return Reply{}, fmt.Errorf("%s %s: reading the body: %w", req.Method, req.URL.Path, err)
	}
	r := Reply{Status: resp.StatusCode, Header: resp.Header, Raw: raw}
	if len(raw) > 0 {
		_ = json.Unmarshal(raw, &r.Body)
	}
	return r, nil
}

// Want fails t unless r has status and, when code is set, that problem code.
func Want(t testing.TB, r Reply, status int, code string) {
	t.Helper()
	if r.Status != status || (code != "" && r.Str("code") != code) {
		t.Fatalf("got %d %s, want %d %s", r.Status, r.Raw, status, code)
	}
}

// Strings converts a decoded JSON array of strings.
func Strings(v any) []string {
	var out []string
	for _, x := range v.([]any) {
		out = append(out, x.(string))
	}
	return out
}
