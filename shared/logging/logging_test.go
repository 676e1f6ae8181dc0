package logging

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/go-kit/log/level"
	"go.opentelemetry.io/otel/trace"
)

func TestJSONLineCarriesRequestAndTraceID(t *testing.T) {
	var buf bytes.Buffer
	l, err := New(&buf, "json", "info")
	if err != nil {
		t.Fatal(err)
	}
	tid, _ := trace.TraceIDFromHex("0102030405060708090a0b0c0d0e0f10")
	sid, _ := trace.SpanIDFromHex("0102030405060708")
	ctx := trace.ContextWithSpanContext(WithRequestID(context.Background(), "req-1"),
		trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: sid}))
	level.Info(With(ctx, l)).Log("msg", "hello")
	level.Debug(l).Log("msg", "dropped")

	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 1 {
		t.Fatalf("got %d lines, want 1 (debug filtered): %q", len(lines), buf.String())
	}
	var got map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &got); err != nil {
		t.Fatal(err)
	}
	if c, _ := got["caller"].(string); !strings.HasPrefix(c, "logging_test.go:") {
		t.Errorf("caller: got %q, want the line in logging_test.go that logged", c)
	}
	for k, want := range map[string]string{"msg": "hello", "request_id": "req-1", "trace_id": tid.String(), "level": "info"} {
		if got[k] != want {
			t.Errorf("%s: got %v, want %q", k, got[k], want)
		}
	}
}

func TestNewRejectsUnknownFormatAndLevel(t *testing.T) {
	if _, err := New(&bytes.Buffer{}, "xml", "info"); err == nil {
		t.Error("format xml: got nil error")
	}
	if _, err := New(&bytes.Buffer{}, "json", "loud"); err == nil {
		t.Error("level loud: got nil error")
	}
}

func TestEnabledFollowsTheMostVerboseLogger(t *testing.T) {
	defer verbosity.Store(verbosity.Load())
	verbosity.Store(-1)
	if !Enabled(Debug) {
		t.Fatal("before any logger exists every level must count as enabled")
	}
	if _, err := New(&bytes.Buffer{}, "json", "warn"); err != nil {
		t.Fatal(err)
	}
	if Enabled(Debug) || Enabled(Info) || !Enabled(Warn) || !Enabled(Error) {
		t.Errorf("with one warn logger: debug %v info %v warn %v error %v", Enabled(Debug), Enabled(Info), Enabled(Warn), Enabled(Error))
	}
	if _, err := New(&bytes.Buffer{}, "json", "debug"); err != nil {
		t.Fatal(err)
	}
	if !Enabled(Debug) {
		t.Error("a debug logger must enable debug lines")
	}
	if _, err := New(&bytes.Buffer{}, "json", "error"); err != nil || !Enabled(Debug) {
		t.Errorf("a later, quieter logger must not silence the debug one (err %v)", err)
	}
}
