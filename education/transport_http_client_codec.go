package education

import (
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"

	"github.com/azora-os/azora/shared/errs"
	"github.com/azora-os/azora/shared/httpx/httpclient"
)

// Bounds on what the client reads of a success: JSON answers are small
// (a page of at most 100 rows), a certificate PDF somewhat larger.
const (
	maxResponseBytes = 4 << 20
	maxPDFBytes      = 16 << 20
)

// call is where one client request goes and what it carries.
type call = httpclient.Call

// decodeResponse reads a T from a success, or education's problem as an
// error.
func decodeResponse[T any](ctx context.Context, resp *http.Response) (any, error) {
	return httpclient.DecodeJSON[T]("education", maxResponseBytes)(ctx, resp)
}

// decodePDF reads a certificate PDF; anything but application/pdf is not
// one (an intermediary's error page, say).
func decodePDF(_ context.Context, resp *http.Response) (any, error) {
	if err := httpclient.Check("education", resp); err != nil {
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
