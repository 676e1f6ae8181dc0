package errs

import (
	"errors"
	"fmt"
	"testing"
)

var errInsufficient = New(Conflict, "insufficient_funds", "the source wallet does not hold enough")

func TestIsMatchesByCodeThroughCopiesAndWrapping(t *testing.T) {
	cause := errors.New("pq: check violation")
	for name, err := range map[string]error{
		"itself":       errInsufficient,
		"with message": errInsufficient.WithMessage("wallet %s holds 5", "w1"),
		"wrapped":      fmt.Errorf("transfer: %w", errInsufficient.Wrap(cause)),
	} {
		t.Run(name, func(t *testing.T) {
			if !errors.Is(err, errInsufficient) {
				t.Errorf("errors.Is(%v, ErrInsufficient) = false, want true", err)
			}
			if got := KindOf(err); got != Conflict {
				t.Errorf("got kind %s, want conflict", got)
			}
		})
	}
	if errors.Is(New(Conflict, "already_enrolled", ""), errInsufficient) {
		t.Error("different codes matched")
	}
	if !errors.Is(errInsufficient.Wrap(cause), cause) {
		t.Error("the cause is not reachable through Unwrap")
	}
	if errInsufficient.Message != "the source wallet does not hold enough" {
		t.Error("WithMessage changed the sentinel")
	}
}

func TestAsAndServerFaults(t *testing.T) {
	tests := []struct {
		name      string
		err       error
		wantKind  Kind
		wantFault bool
	}{
		{"plain error is internal", errors.New("boom"), Internal, true},
		{"unavailable", E(Unavailable, "down", nil), Unavailable, true},
		{"client error", Validation(FieldError{"email", "is required"}), Invalid, false},
		{"not found", New(NotFound, "not_found", "no such wallet"), NotFound, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := KindOf(tc.err); got != tc.wantKind {
				t.Errorf("got kind %s, want %s", got, tc.wantKind)
			}
			if got := IsServerFault(tc.err); got != tc.wantFault {
				t.Errorf("IsServerFault: got %v, want %v", got, tc.wantFault)
			}
		})
	}
	if As(nil) != nil || IsServerFault(nil) {
		t.Error("nil error classified as an error")
	}
	if e := Internalf(errors.New("disk"), "save %s", "x"); e.Message != "internal error" || e.Err.Error() != "save x: disk" {
		t.Errorf("got %q / %q", e.Message, e.Err)
	}
}
