package httpclient

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	httptransport "github.com/go-kit/kit/transport/http"

	"github.com/azora-os/azora/shared/errs"
	"github.com/azora-os/azora/shared/httpx"
)

// Call is where one client request goes and what it carries.
type Call struct {
	Path        []string // segments under /api/v1, each escaped on the way
	Rooted      string   // a path from the instance's root instead of Path
	Query       url.Values
	Header      http.Header
	Body        any    // sent as JSON when not nil
	ContentType string // of Body; application/json when empty
}

// EncodeCall returns an encoder that points the request at the base URL
// plus to(ctx, request)'s path and query, and sets its headers and body.
// Each Path segment is escaped, so an id cannot climb out of its place.
// It returns to's error unchanged, and an internal error when Body does
// not marshal.
func (c *Client) EncodeCall(to func(context.Context, any) (Call, error)) httptransport.EncodeRequestFunc {
	base := c.base
	prefix, rawPrefix := strings.TrimSuffix(base.Path, "/"), strings.TrimSuffix(base.EscapedPath(), "/")
	return func(ctx context.Context, r *http.Request, request any) error {
		call, err := to(ctx, request)
		if err != nil {
			return err
		}
		u := *base
		if call.Rooted != "" {
			u.Path, u.RawPath = prefix+call.Rooted, ""
		} else {
			var p, raw strings.Builder
			p.WriteString(prefix + "/api/v1")
			raw.WriteString(rawPrefix + "/api/v1")
			for _, s := range call.Path {
				p.WriteString("/" + s)
				raw.WriteString("/" + url.PathEscape(s))
			}
			u.Path, u.RawPath = p.String(), raw.String()
		}
		u.RawQuery = call.Query.Encode()
		r.URL = &u
		for k, vs := range call.Header {
			r.Header[k] = vs
		}
		if call.Body == nil {
			return nil
		}
		return c.setJSON(r, call.Body, call.ContentType)
	}
}

// EncodeJSON is an encoder that sends request as a JSON body of known
// length; an internal error when it does not marshal.
func (c *Client) EncodeJSON(_ context.Context, r *http.Request, request any) error {
	return c.setJSON(r, request, "")
}

// EncodeNothing is an encoder for a request without a body.
func EncodeNothing(context.Context, *http.Request, any) error { return nil }

// setJSON makes v, marshalled, r's body of type contentType
// (application/json when empty), replayable on a retry.
func (c *Client) setJSON(r *http.Request, v any, contentType string) error {
	body, err := json.Marshal(v)
	if err != nil {
		return errs.Internalf(err, "%s client: marshal %T", c.service, v)
	}
	if contentType == "" {
		contentType = "application/json"
	}
	r.Header.Set("Content-Type", contentType)
	r.Body = io.NopCloser(bytes.NewReader(body))
	r.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
	r.ContentLength = int64(len(body))
	return nil
}

// Check returns the problem of service's answer resp as an *errs.Error
// with the service's kind and code (httpx.ErrorFromResponse; a 429 keeps
// its Retry-After), an internal error for any other answer that is not a
// success (an unfollowed redirect), and nil for a 2xx.
func Check(service string, resp *http.Response) error {
	if err := httpx.ErrorFromResponse(resp); err != nil {
		return err
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return errs.Internalf(fmt.Errorf("status %d", resp.StatusCode), "%s client: %s %s", service, resp.Request.Method, resp.Request.URL.Redacted())
	}
	return nil
}

// DecodeNoContent returns a decoder of service's answers without a body:
// httpx.NoContent from a success, Check's error otherwise.
func DecodeNoContent(service string) httptransport.DecodeResponseFunc {
	return func(_ context.Context, resp *http.Response) (any, error) {
		if err := Check(service, resp); err != nil {
			return nil, err
		}
		return httpx.NoContent{}, nil
	}
}

// DecodeJSON returns a decoder that reads a T of at most limit bytes from
// a success of service, or returns Check's error. A body that is not a T
// is an internal error.
func DecodeJSON[T any](service string, limit int64) httptransport.DecodeResponseFunc {
	return func(_ context.Context, resp *http.Response) (any, error) {
		if err := Check(service, resp); err != nil {
			return nil, err
		}
		var v T
		if err := json.NewDecoder(io.LimitReader(resp.Body, limit)).Decode(&v); err != nil {
			return nil, errs.Internalf(err, "%s client: decode %T", service, v)
		}
		return v, nil
	}
}
