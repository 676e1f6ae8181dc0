package httpx

import "testing"

func TestValidUUID(t *testing.T) {
	for id, want := range map[string]bool{
		"0190f5a0-0000-7000-8000-000000000000":   true,
		"0190F5A0-0000-7000-8000-000000000000":   true,
		"{0190f5a0-0000-7000-8000-000000000000}": false, // uuid.Parse accepts it; a path id must be canonical
		"0190f5a000007000800000000000000":        false,
		"not-a-uuid":                             false,
		"":                                       false,
	} {
		if got := ValidUUID(id); got != want {
			t.Errorf("ValidUUID(%q) = %v, want %v", id, got, want)
		}
	}
}
