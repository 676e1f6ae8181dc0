package main

import (
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	collectortrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/azora-os/azora/shared/app/apptest"
	"github.com/azora-os/azora/shared/app/apptest/platform"
)

// otlpReceiver is an OTLP/HTTP trace collector kept in memory: the
// services export their spans to it exactly as they would to a real
// collector (OTEL_EXPORTER_OTLP_ENDPOINT), and the test reads them back.
type otlpReceiver struct {
	*httptest.Server
	mu    sync.Mutex
	spans []receivedSpan
}

type receivedSpan struct {
	service, name, traceID string
}

func newOTLPReceiver(t *testing.T) *otlpReceiver {
	rc := &otlpReceiver{}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		var req collectortrace.ExportTraceServiceRequest
		if err != nil || r.URL.Path != "/v1/traces" || proto.Unmarshal(body, &req) != nil {
			http.Error(w, "not an OTLP trace export", http.StatusBadRequest)
			return
		}
		rc.mu.Lock()
		for _, rs := range req.ResourceSpans {
			service := ""
			for _, kv := range rs.GetResource().GetAttributes() {
				if kv.Key == "service.name" {
					service = kv.GetValue().GetStringValue()
				}
			}
			for _, ss := range rs.ScopeSpans {
				for _, sp := range ss.Spans {
					rc.spans = append(rc.spans, receivedSpan{service, sp.Name, hex.EncodeToString(sp.TraceId)})
				}
			}
		}
		rc.mu.Unlock()
		w.Header().Set("Content-Type", "application/x-protobuf")
		out, _ := proto.Marshal(&collectortrace.ExportTraceServiceResponse{})
		w.Write(out)
	}))
	t.Cleanup(rc.Close)
	return rc
}

// names returns, per service, the names of the spans of trace traceID.
func (rc *otlpReceiver) names(traceID string) map[string][]string {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	out := map[string][]string{}
	for _, s := range rc.spans {
		if s.traceID == traceID {
			out[s.service] = append(out[s.service], s.name)
		}
	}
	return out
}

// TestOneTraceFollowsAPaidEnrollment runs every service as a process
// exporting spans to an in-test OTLP collector, enrolls a student in a paid
// course through the gateway with a known traceparent, and waits until
// spans of that one trace arrive from the gateway, education (the request)
// and finance (consuming enrollment.requested from Kafka), and education
// again (consuming finance's answer): the trace id crosses HTTP, the
// outbox, Kafka and back.
func TestOneTraceFollowsAPaidEnrollment(t *testing.T) {
	t.Parallel()
	p := newPlatform(t)
	rc := newOTLPReceiver(t)
	p.env["OTEL_EXPORTER_OTLP_ENDPOINT"] = rc.URL
	p.env["OTEL_BSP_SCHEDULE_DELAY"] = "50" // ms: export spans promptly
	a := p.startAuth()
	edu := p.startEducation(1)[0]
	fin := p.startFinance()
	gw := platform.StartService(t, "gateway", with(p.env,
		"AUTH_URLS", a.Base, "EDUCATION_URLS", edu.Base, "FINANCE_URLS", fin.Base))
	c := apptest.NewClient(gw.Base, "")

	signUp := func(role string) string {
		email := role + "-" + randomHex(6) + "@example.com"
		apptest.Want(t, c.Do(t, "POST", "/api/v1/auth/register", "", map[string]any{
			"email": email, "password": "correct horse battery staple", "name": "Ada", "role": role}), http.StatusCreated, "")
		r := c.Do(t, "POST", "/api/v1/auth/login", "", map[string]any{"email": email, "password": "correct horse battery staple"})
		apptest.Want(t, r, http.StatusOK, "")
		return r.Str("access_token")
	}
	instructor, student := signUp("instructor"), signUp("student")
	course := c.Do(t, "POST", "/api/v1/courses", instructor, map[string]any{
		"title": "Tracing in production", "description": "Follow one request everywhere",
		"price": map[string]any{"amount": 1500, "currency": "USD"}})
	apptest.Want(t, course, http.StatusCreated, "")
	id, _ := course.Obj("course")["id"].(string)
	apptest.Want(t, c.Do(t, "POST", "/api/v1/courses/"+id+"/lessons", instructor, map[string]any{"title": "Spans", "content": "…"}), http.StatusCreated, "")
	apptest.Want(t, c.Do(t, "POST", "/api/v1/courses/"+id+"/publish", instructor, nil), http.StatusOK, "")

	traceID := randomHex(16)
	r := c.Do(t, "POST", "/api/v1/courses/"+id+"/enrollments", student, nil,
		"Idempotency-Key", "trace-"+traceID, "traceparent", "00-"+traceID+"-"+randomHex(8)+"-01")
	apptest.Want(t, r, http.StatusAccepted, "")

	has := func(names []string, want string) bool {
		for _, n := range names {
			if n == want {
				return true
			}
		}
		return false
	}
	var got map[string][]string
	apptest.Eventually(t, "spans of one trace from gateway, education and finance", func() bool {
		got = rc.names(traceID)
		return len(got["gateway"]) > 0 &&
			has(got["education"], "POST /api/v1/courses/{id}/enrollments") &&
			has(got["finance"], "consume azora.education.enrollment.requested") &&
			(has(got["education"], "consume azora.finance.payment.failed") || has(got["education"], "consume azora.finance.payment.completed"))
	})
	t.Logf("trace %s: %v", traceID, got)

	// The business metrics saw the same journey, once each.
	if n := metric(t, a.Base, "azora_auth_registrations_total", `role="instructor"`); n != 1 {
		t.Errorf("instructor registrations = %v, want 1", n)
	}
	if n := metric(t, a.Base, "azora_auth_registrations_total", `role="student"`); n != 1 {
		t.Errorf("student registrations = %v, want 1", n)
	}
	if n := metric(t, edu.Base, "azora_education_enrollments_total", `status="pending_payment"`); n != 1 {
		t.Errorf("pending enrollments = %v, want 1", n)
	}
	// The charge failed (an empty wallet), so no money moved.
	if n := metric(t, fin.Base, "azora_finance_money_moved_total", ""); n != 0 {
		t.Errorf("money moved = %v, want 0 for a refused charge", n)
	}
}
