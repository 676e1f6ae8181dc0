package httpclient

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/go-kit/kit/endpoint"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/azora-os/azora/shared/errs"
	"github.com/azora-os/azora/shared/kit"
	"github.com/azora-os/azora/shared/logging"
)

var errTestUnreachable = errs.New(errs.Unavailable, "test_unreachable", "the test service cannot be reached")

func TestParseInstance(t *testing.T) {
	tests := []struct {
		name, instance, want string
	}{
		{"host:port is plain http", "auth:4001", "http://auth:4001"},
		{"http URL", "http://auth:4001", "http://auth:4001"},
		{"https URL with a path", "https://example.com/prefix", "https://example.com/prefix"},
		{"ftp is not http(s)", "ftp://example.com", ""},
		{"no host", "http://", ""},
		{"empty", "", ""},
		{"unparseable", "http://[::1", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u, err := ParseInstance(tt.instance)
			if tt.want == "" {
				if err == nil {
					t.Fatalf("ParseInstance(%q): got %v, want an error", tt.instance, u)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseInstance(%q): got error %v, want nil", tt.instance, err)
			}
			if got := u.String(); got != tt.want {
				t.Errorf("ParseInstance(%q): got %q, want %q", tt.instance, got, tt.want)
			}
		})
	}
}

// newTestClient returns a Client against srv with opts.
func newTestClient(t *testing.T, srv *httptest.Server, opts ...Option) *Client {
	t.Helper()
	base, err := ParseInstance(srv.URL)
	if err != nil {
		t.Fatalf("ParseInstance(%q): %v", srv.URL, err)
	}
	return New("test", base, errTestUnreachable, opts...)
}

func TestDefaultHTTPClient(t *testing.T) {
	if got := defaultHTTPClient().Timeout; got != DefaultTimeout {
		t.Errorf("Timeout: got %v, want %v", got, DefaultTimeout)
	}
	var followed bool
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { followed = true }))
	defer target.Close()
	redirecting := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, target.URL, http.StatusFound)
	}))
	defer redirecting.Close()

	c := newTestClient(t, redirecting)
	ep := c.Endpoint("get", http.MethodGet, c.At("/x"), EncodeNothing, DecodeJSON[map[string]any]("test", 1<<10))
	_, err := ep(kit.WithToken(context.Background(), "secret"), nil)
	if followed {
		t.Error("redirect: got followed, want not followed (the token would travel with it)")
	}
	if got := errs.KindOf(err); got != errs.Internal {
		t.Errorf("redirect answer: got kind %v (%v), want Internal", got, err)
	}
}

func TestEndpointForwardsContext(t *testing.T) {
	prev := otel.GetTextMapPropagator()
	otel.SetTextMapPropagator(propagation.TraceContext{})
	t.Cleanup(func() { otel.SetTextMapPropagator(prev) })

	var got http.Header
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r.Header.Clone()
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{}`))
	}))
	defer srv.Close()
	c := newTestClient(t, srv)
	ep := c.Endpoint("get", http.MethodGet, c.At("/x"), EncodeNothing, DecodeJSON[map[string]any]("test", 1<<10))

	sc := trace.NewSpanContext(trace.SpanContextConfig{
		TraceID: trace.TraceID{1, 2, 3}, SpanID: trace.SpanID{4, 5, 6}, TraceFlags: trace.FlagsSampled,
	})
	tests := []struct {
		name                     string
		ctx                      context.Context
		auth, reqID, traceparent string
	}{
		{"nothing to forward", context.Background(), "", "", ""},
		{"all of it", trace.ContextWithSpanContext(logging.WithRequestID(kit.WithToken(context.Background(), "tok"), "req-1"), sc),
			"Bearer tok", "req-1", "00-01020300000000000000000000000000-0405060000000000-01"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := ep(tt.ctx, nil); err != nil {
				t.Fatalf("call: got error %v, want nil", err)
			}
			for _, h := range []struct{ key, want string }{
				{"Authorization", tt.auth}, {"X-Request-ID", tt.reqID}, {"Traceparent", tt.traceparent},
			} {
				if v := got.Get(h.key); v != h.want {
					t.Errorf("%s: got %q, want %q", h.key, v, h.want)
				}
			}
		})
	}
}

func TestEndpointClassifiesUnreachable(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/problem+json")
		w.WriteHeader(http.StatusNotFound)
		w.Write([]byte(`{"status":404,"code":"thing_not_found","detail":"no such thing"}`))
	}))
	c := newTestClient(t, srv)
	ep := c.Endpoint("get", http.MethodGet, c.At("/x"), EncodeNothing, DecodeJSON[map[string]any]("test", 1<<10))

	_, err := ep(context.Background(), nil)
	if e := errs.As(err); e.Code != "thing_not_found" {
		t.Errorf("service's answer: got code %q (%v), want thing_not_found unchanged", e.Code, err)
	}

	srv.Close()
	_, err = ep(context.Background(), nil)
	if !errors.Is(err, errTestUnreachable) {
		t.Errorf("closed server: got %v, want test_unreachable", err)
	}
	if errors.Unwrap(err) == nil {
		t.Error("closed server: got no cause, want the transport error wrapped")
	}

	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := ep(canceled, nil); !errors.Is(err, errTestUnreachable) {
		t.Errorf("cancelled call: got %v, want test_unreachable", err)
	}
}

func TestOptions(t *testing.T) {
	var hits int
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits++
		w.Write([]byte(`{}`))
	}))
	defer srv.Close()

	var sent int
	custom := &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		sent++
		return http.DefaultTransport.RoundTrip(r)
	})}
	var names []string
	mw := func(name string) endpoint.Middleware {
		names = append(names, name)
		return func(next endpoint.Endpoint) endpoint.Endpoint { return next }
	}
	c := newTestClient(t, srv, WithHTTPClient(custom), WithMiddleware(mw))
	ep := c.Endpoint("the_name", http.MethodGet, c.At("/x"), EncodeNothing, DecodeJSON[map[string]any]("test", 1<<10))
	if _, err := ep(context.Background(), nil); err != nil {
		t.Fatalf("call: got error %v, want nil", err)
	}
	if sent != 1 || hits != 1 {
		t.Errorf("WithHTTPClient: got %d sent through it, %d served, want 1 and 1", sent, hits)
	}
	if len(names) != 1 || names[0] != "the_name" {
		t.Errorf("WithMiddleware: got names %q, want [the_name]", names)
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
