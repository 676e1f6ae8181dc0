// Package httpxtest helps transport tests drive an HTTP handler and check
// what it answers, above all the RFC 9457 problem documents httpx writes.
package httpxtest

import (
	"encoding/json"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/azora-os/azora/shared/httpx"
)

// Response is a finished response with its body read.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// Do sends method path to target, which is an http.Handler (served in
// process through a recorder) or an *httptest.Server (sent over its
// client). A non-empty body goes as application/json; a non-empty token
// goes as a Bearer Authorization. headers are set last, so they override
// both (a raw Authorization, another Content-Type). Do fails t on any
// transport error or an unknown target type.
func Do(t testing.TB, target any, method, path, token, body string, headers map[string]string) Response {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, path, rd)
	if err != nil {
		t.Fatalf("new request %s %s: %v", method, path, err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	var resp *http.Response
	switch tg := target.(type) {
	case *httptest.Server:
		// The server's URL is only known here, so the path is joined now.
		u, err := req.URL.Parse(tg.URL + path)
		if err != nil {
			t.Fatalf("parse %s%s: %v", tg.URL, path, err)
		}
		req.URL, req.Host = u, u.Host
		if resp, err = tg.Client().Do(req); err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
	case http.Handler:
		// httptest.NewRequest fills what a server would (RemoteAddr, Host,
		// RequestURI), which handlers and middleware may read.
		in := httptest.NewRequest(method, path, rd)
		in.Header = req.Header
		rec := httptest.NewRecorder()
		tg.ServeHTTP(rec, in)
		resp = rec.Result()
	default:
		t.Fatalf("Do target: got %T, want an http.Handler or *httptest.Server", target)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read body of %s %s: %v", method, path, err)
	}
	return Response{Status: resp.StatusCode, Header: resp.Header, Body: b}
}

// Keys returns the sorted top-level keys of a JSON object body; it fails t
// when the body is not a JSON object.
func (r Response) Keys(t testing.TB) []string {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal(r.Body, &m); err != nil {
		t.Fatalf("body %q is not a JSON object: %v", r.Body, err)
	}
	return slices.Sorted(maps.Keys(m))
}

// Decode unmarshals the body into v; it fails t when it cannot.
func (r Response) Decode(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(r.Body, v); err != nil {
		t.Fatalf("decode %q: %v", r.Body, err)
	}
}

// Problem checks that r is an RFC 9457 problem of status and code as httpx
// writes it: media type application/problem+json, type /problems/<code>,
// request_id equal to the X-Request-ID header, Cache-Control no-store. It
// returns the problem; a wrong status or an undecodable body fails t at
// once, the other mismatches are reported and the test goes on.
func (r Response) Problem(t testing.TB, status int, code string) httpx.Problem {
	t.Helper()
	if r.Status != status {
		t.Fatalf("status: got %d, want %d (body %s)", r.Status, status, r.Body)
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/problem+json" {
		t.Errorf("Content-Type: got %q, want application/problem+json", ct)
	}
	var p httpx.Problem
	r.Decode(t, &p)
	if p.Code != code || p.Status != status || p.Type != "/problems/"+code {
		t.Errorf("problem: got code %q status %d type %q, want %q %d /problems/%s", p.Code, p.Status, p.Type, code, status, code)
	}
	if p.RequestID == "" || p.RequestID != r.Header.Get("X-Request-ID") {
		t.Errorf("problem request_id: got %q, want the X-Request-ID %q", p.RequestID, r.Header.Get("X-Request-ID"))
	}
	if cc := r.Header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("Cache-Control of an error: got %q, want no-store", cc)
	}
	return p
}
