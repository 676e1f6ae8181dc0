package finance

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/azora-os/azora/shared/errs"
	"github.com/azora-os/azora/shared/httpx"
)

// maxResponseBytes bounds what the client reads of a success: JSON
// answers are small (a page of at most 100 rows).
const maxResponseBytes = 4 << 20

// call is where one client request goes and what it carries.
type call struct {
	path   []string // segments under /api/v1, each escaped on the way
	query  url.Values
	header http.Header
	body   any // sent as JSON when not nil
}

// encodeCall points r at base + to(ctx, request)'s path, query, headers
// and body.
func encodeCall(base *url.URL, to func(context.Context, any) (call, error)) func(context.Context, *http.Request, any) error {
	prefix, rawPrefix := strings.TrimSuffix(base.Path, "/"), strings.TrimSuffix(base.EscapedPath(), "/")
	return func(ctx context.Context, r *http.Request, request any) error {
		c, err := to(ctx, request)
		if err != nil {
			return err
		}
		u := *base
		var p, raw strings.Builder
		p.WriteString(prefix + "/api/v1")
		raw.WriteString(rawPrefix + "/api/v1")
		for _, s := range c.path {
			p.WriteString("/" + s)
			raw.WriteString("/" + url.PathEscape(s))
		}
		u.Path, u.RawPath = p.String(), raw.String()
		u.RawQuery = c.query.Encode()
		r.URL = &u
		for k, vs := range c.header {
			r.Header[k] = vs
		}
		if c.body == nil {
			return nil
		}
		body, err := json.Marshal(c.body)
		if err != nil {
			return errs.Internalf(err, "finance client: marshal %T", c.body)
		}
		r.Header.Set("Content-Type", "application/json")
		r.Body = io.NopCloser(bytes.NewReader(body))
		r.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
		r.ContentLength = int64(len(body))
		return nil
	}
}

// decodeResponse reads a T from a success, or finance's problem as an
// error; any other answer that is not a success (an unfollowed redirect)
// is an internal error.
func decodeResponse[T any](_ context.Context, resp *http.Response) (any, error) {
	if err := httpx.ErrorFromResponse(resp); err != nil {
		return nil, err
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return nil, errs.Internalf(fmt.Errorf("status %d", resp.StatusCode), "finance client: %s %s", resp.Request.Method, resp.Request.URL.Redacted())
	}
	var v T
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxResponseBytes)).Decode(&v); err != nil {
		return nil, errs.Internalf(err, "finance client: decode %T", v)
	}
	return v, nil
}
