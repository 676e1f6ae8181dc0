package education

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"

	"github.com/azora-os/azora/shared/errs"
	"github.com/azora-os/azora/shared/httpx"
)

// Bounds on what the client reads of a success: JSON answers are small
// (a page of at most 100 rows), a certificate PDF somewhat larger.
const (
	maxResponseBytes = 4 << 20
	maxPDFBytes      = 16 << 20
)

// call is where one client request goes and what it carries.
type call struct {
	path        []string // segments under /api/v1, each escaped on the way
	rooted      string   // a path from the instance's root instead
	query       url.Values
	header      http.Header
	body        any    // sent as JSON when not nil
	contentType string // of the body; application/json when empty
}

// encodeCall points r at base + to(request)'s path, query, headers and body.
func encodeCall(base *url.URL, to func(any) (call, error)) func(context.Context, *http.Request, any) error {
	prefix, rawPrefix := strings.TrimSuffix(base.Path, "/"), strings.TrimSuffix(base.EscapedPath(), "/")
	return func(_ context.Context, r *http.Request, request any) error {
		c, err := to(request)
		if err != nil {
			return err
		}
		u := *base
		if c.rooted != "" {
			u.Path, u.RawPath = prefix+c.rooted, ""
		} else {
			var p, raw strings.Builder
			p.WriteString(prefix + "/api/v1")
			raw.WriteString(rawPrefix + "/api/v1")
			for _, s := range c.path {
				p.WriteString("/" + s)
				raw.WriteString("/" + url.PathEscape(s))
			}
			u.Path, u.RawPath = p.String(), raw.String()
		}
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
			return errs.Internalf(err, "education client: marshal %T", c.body)
		}
		ct := c.contentType
		if ct == "" {
			ct = "application/json"
		}
		r.Header.Set("Content-Type", ct)
		r.Body = io.NopCloser(bytes.NewReader(body))
		r.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
		r.ContentLength = int64(len(body))
		return nil
	}
}

// answered returns education's problem as an error, and an internal error
// for any other answer that is not a success (an unfollowed redirect).
func answered(resp *http.Response) error {
	if err := httpx.ErrorFromResponse(resp); err != nil {
		return err
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return errs.Internalf(fmt.Errorf("status %d", resp.StatusCode), "education client: %s %s", resp.Request.Method, resp.Request.URL.Redacted())
	}
	return nil
}

// decodeResponse reads a T from a success, or education's problem as an
// error.
func decodeResponse[T any](_ context.Context, resp *http.Response) (any, error) {
	if err := answered(resp); err != nil {
		return nil, err
	}
	var v T
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxResponseBytes)).Decode(&v); err != nil {
		return nil, errs.Internalf(err, "education client: decode %T", v)
	}
	return v, nil
}

// decodePDF reads a certificate PDF; anything but application/pdf is not
// one (an intermediary's error page, say).
func decodePDF(_ context.Context, resp *http.Response) (any, error) {
	if err := answered(resp); err != nil {
		return nil, err
	}
	if mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); mt != "application/pdf" {
		return nil, errs.Internalf(fmt.Errorf("content type %q", resp.Header.Get("Content-Type")), "education client: certificate PDF")
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxPDFBytes+1))
	switch {
	case err != nil:
		return nil, errs.Internalf(err, "education client: read certificate PDF")
	case len(b) > maxPDFBytes:
		return nil, errs.Internalf(errors.New("larger than the client reads"), "education client: certificate PDF")
	}
	return pdfResponse{PDF: b}, nil
}
