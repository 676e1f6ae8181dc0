package httpx

import (
	"net/http"
	"strings"

	"github.com/go-kit/log"
	"github.com/gorilla/mux"

	"github.com/azora-os/azora/shared/errs"
)

// ErrNotFound is what NotFoundHandler answers: no route matches the path.
var ErrNotFound = errs.New(errs.NotFound, "not_found", "no such resource")

// errMethodNotAllowed is the router's 405. No errs kind maps to 405, so it
// stays private: returned from a handler it would render as a 400.
var errMethodNotAllowed = &errs.Error{Kind: errs.Invalid, Code: "method_not_allowed", Message: "the method is not allowed on this resource"}

// NotFoundHandler answers every request with a 404 not_found problem; set it
// as a gorilla/mux Router's NotFoundHandler.
func NotFoundHandler(logger log.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		WriteError(w, r, logger, ErrNotFound.WithMessage("no resource at %s", r.URL.Path))
	})
}

// MethodNotAllowedHandler answers with a 405 method_not_allowed problem; set
// it as a Router's MethodNotAllowedHandler. Without the router it cannot
// name the allowed methods; HandleUnmatched installs one that does.
func MethodNotAllowedHandler(logger log.Logger) http.Handler {
	return methodNotAllowed(logger, nil)
}

// HandleUnmatched sets r's NotFoundHandler and MethodNotAllowedHandler to
// problem responses; the 405 carries an Allow header found by matching the
// request against r with each standard method (cheap: only 405s pay).
func HandleUnmatched(r *mux.Router, logger log.Logger) {
	r.NotFoundHandler = NotFoundHandler(logger)
	r.MethodNotAllowedHandler = methodNotAllowed(logger, r)
}

func methodNotAllowed(logger log.Logger, router *mux.Router) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if router != nil {
			if allow := allowed(router, r); allow != "" {
				w.Header().Set("Allow", allow)
			}
		}
		// 405 is outside the errs kinds (it is the router's answer, never a
		// domain error), so the status is set here and the problem body is
		// built from the Invalid row with the status corrected.
		writeProblemStatus(r.Context(), w, errMethodNotAllowed.WithMessage("%s is not allowed on %s", r.Method, r.URL.Path), http.StatusMethodNotAllowed, "Method not allowed")
	})
}

func allowed(router *mux.Router, r *http.Request) string {
	var ok []string
	for _, m := range []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete, http.MethodOptions} {
		probe := r.Clone(r.Context())
		probe.Method = m
		var match mux.RouteMatch
		if router.Match(probe, &match) && match.MatchErr == nil {
			ok = append(ok, m)
		}
	}
	return strings.Join(ok, ", ")
}
