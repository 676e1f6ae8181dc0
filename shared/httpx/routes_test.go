package httpx

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gorilla/mux"
)

func TestRoutesMountWrapsNestsAndAnswers405(t *testing.T) {
	var order []string
	mw := func(tag string) func(http.Handler) http.Handler {
		return func(next http.Handler) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				order = append(order, tag)
				next.ServeHTTP(w, r)
			})
		}
	}
	extra := RouteMiddleware{}
	extra.Add("create", mw("outer"))
	extra.Add("create", mw("inner"))
	r := mux.NewRouter()
	rt := NewRoutes(r, extra)
	ok := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) })
	rt.Mount("create", http.MethodPost, "/things", ok)
	rt.Mount("list", http.MethodGet, "/things", ok)
	rt.Mount("other", http.MethodPost, "/other", ok)
	rt.Done("test")

	for _, tc := range []struct {
		method, path string
		want         int
	}{
		{http.MethodPost, "/things", http.StatusNoContent},
		{http.MethodGet, "/things", http.StatusNoContent},
		{http.MethodDelete, "/other", http.StatusMethodNotAllowed},
	} {
		w := httptest.NewRecorder()
		r.ServeHTTP(w, httptest.NewRequest(tc.method, tc.path, nil))
		if w.Code != tc.want {
			t.Errorf("%s %s: got %d, want %d", tc.method, tc.path, w.Code, tc.want)
		}
	}
	if strings.Join(order, ",") != "outer,inner" {
		t.Errorf("middleware ran as %v, want outer then inner, and only on the named route", order)
	}
}

func TestRoutesDonePanicsOnAnUnknownName(t *testing.T) {
	extra := RouteMiddleware{}
	extra.Add("enrol", func(h http.Handler) http.Handler { return h }) // a typo of "enroll"
	rt := NewRoutes(mux.NewRouter(), extra)
	rt.Mount("enroll", http.MethodPost, "/x", http.NotFoundHandler())
	defer func() {
		if p := recover(); p == nil || !strings.Contains(p.(string), `"enrol"`) {
			t.Errorf("got panic %v, want one naming the unknown route", p)
		}
	}()
	rt.Done("test")
}
