package page

import (
	"testing"
)

func TestRequestQuery(t *testing.T) {
	tests := []struct {
		name string
		req  Request
		want string
	}{
		{"zero leaves the defaults", Request{}, ""},
		{"limit only", Request{Limit: 5}, "limit=5"},
		{"cursor only", Request{Cursor: "abc"}, "cursor=abc"},
		{"both, cursor escaped", Request{Limit: 100, Cursor: "a+b/c="}, "cursor=a%2Bb%2Fc%3D&limit=100"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.req.Query().Encode(); got != tt.want {
				t.Errorf("Query: got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestRequestQueryRoundTrip(t *testing.T) {
	want := Request{Limit: 7, Cursor: Encode(map[string]int{"id": 3})}
	got, err := FromQuery(want.Query())
	if err != nil {
		t.Fatalf("FromQuery: got error %v, want nil", err)
	}
	if got != want {
		t.Errorf("FromQuery(Query()): got %+v, want %+v", got, want)
	}
}
