package kit_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/azora-os/azora/shared/errs"
	"github.com/azora-os/azora/shared/kit"
	"github.com/azora-os/azora/shared/logging"
	"github.com/go-kit/log"
)

func TestLoggingLevels(t *testing.T) {
	tests := []struct {
		name   string
		client bool
		err    error
		want   []string // substrings of the one log line
		not    []string
	}{
		{"success", false, nil, []string{"level=debug", `msg="endpoint succeeded"`}, []string{"err="}},
		{"client error", false, errs.New(errs.NotFound, "course_not_found", "no such course"),
			[]string{"level=debug", "code=course_not_found"}, []string{"err="}},
		// The edge's error encoder logs a server endpoint's fault at error
		// level; the endpoint line stays at debug so a fault is one error line.
		{"server fault", false, errs.Internalf(errors.New("pq: connection reset"), "load wallet"),
			[]string{"level=debug", "code=internal", "pq: connection reset", "load wallet"}, nil},
		{"client endpoint fault", true, errs.Internalf(errors.New("dial tcp: refused"), "call finance"),
			[]string{"level=error", "code=internal", "dial tcp: refused"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			mw := kit.Logging
			if tt.client {
				mw = kit.ClientLogging
			}
			ep := mw(log.NewLogfmtLogger(&buf), "transfer")(func(context.Context, any) (any, error) { return "r", tt.err })
			ctx := logging.WithRequestID(context.Background(), "req-42")
			resp, err := ep(ctx, nil)
			if err != tt.err || resp != "r" {
				t.Fatalf("middleware changed the result: got %v, %v", resp, err)
			}
			line := strings.TrimSpace(buf.String())
			if strings.Count(line, "\n") != 0 {
				t.Fatalf("got %d lines, want 1: %q", strings.Count(line, "\n")+1, line)
			}
			for _, w := range append(tt.want, "endpoint=transfer", "duration=", "request_id=req-42") {
				if !strings.Contains(line, w) {
					t.Errorf("line %q: want it to contain %q", line, w)
				}
			}
			for _, n := range tt.not {
				if strings.Contains(line, n) {
					t.Errorf("line %q: want it not to contain %q", line, n)
				}
			}
		})
	}
}
