package httpx

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"

	httptransport "github.com/go-kit/kit/transport/http"

	"github.com/azora-os/azora/shared/errs"
)

// NoContent is an endpoint's success without a body: EncodeJSON answers it
// 204.
type NoContent struct{}

// StatusCode makes EncodeJSON answer 204.
func (NoContent) StatusCode() int { return http.StatusNoContent }

// EncodeJSON returns a go-kit response encoder writing the response as JSON
// with status. A response implementing httptransport.StatusCoder overrides
// status (an enrollment answers 201 or 202 from one endpoint), and one
// implementing httptransport.Headerer adds its headers. It returns an
// internal error, before writing anything, when the response cannot be
// marshalled.
func EncodeJSON(status int) httptransport.EncodeResponseFunc {
	return func(_ context.Context, w http.ResponseWriter, response any) error {
		if h, ok := response.(httptransport.Headerer); ok {
			for k, vs := range h.Headers() {
				for _, v := range vs {
					w.Header().Add(k, v)
				}
			}
		}
		code := status
		if sc, ok := response.(httptransport.StatusCoder); ok {
			code = sc.StatusCode()
		}
		return WriteJSON(w, code, response)
	}
}

// WriteJSON writes v as a JSON body with status and Content-Type
// application/json; charset=utf-8. Statuses that carry no body (204, 304)
// write none. It returns an internal error, before writing anything, when v
// cannot be marshalled, so the caller can still answer with WriteError;
// a failed write (the client left) is not reported.
func WriteJSON(w http.ResponseWriter, status int, v any) error {
	if status == http.StatusNoContent || status == http.StatusNotModified {
		w.WriteHeader(status)
		return nil
	}
	body, err := json.Marshal(v)
	if err != nil {
		return errs.Internalf(err, "httpx: marshal %T", v)
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)+1))
	w.WriteHeader(status)
	// A write error means the client is gone; with the status line out
	// there is nothing left to tell it, and returning the error would make
	// go-kit write a second response.
	_, _ = w.Write(append(body, '\n'))
	return nil
}
