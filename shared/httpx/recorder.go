package httpx

import "net/http"

// recorder wraps a ResponseWriter to learn what a handler answered: the
// status, the body size and, for problems, the code.
type recorder struct {
	http.ResponseWriter
	status int
	bytes  int64
	code   string
}

func (r *recorder) WriteHeader(status int) {
	if r.status == 0 && status >= 200 { // 1xx are interim, not the answer
		r.status = status
	}
	r.ResponseWriter.WriteHeader(status)
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	n, err := r.ResponseWriter.Write(b)
	r.bytes += int64(n)
	return n, err
}

// Flush keeps streaming handlers working through the wrapper.
func (r *recorder) Flush() {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	_ = http.NewResponseController(r.ResponseWriter).Flush()
}

// final returns the status the client gets: what the handler wrote, 200
// when it returned without writing, and 500 when it has not returned
// (completed false: it is panicking, and Recover answers 500).
func (r *recorder) final(completed bool) int {
	switch {
	case r.status != 0:
		return r.status
	case completed:
		return http.StatusOK
	}
	return http.StatusInternalServerError
}

// Unwrap lets http.ResponseController reach the connection's writer.
func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// noteCode hands a problem's code to every recorder around w, so the access
// log line can say why a request failed without logging its body.
func noteCode(w http.ResponseWriter, code string) {
	for w != nil {
		if r, ok := w.(*recorder); ok {
			r.code = code
		}
		u, ok := w.(interface{ Unwrap() http.ResponseWriter })
		if !ok {
			return
		}
		w = u.Unwrap()
	}
}
