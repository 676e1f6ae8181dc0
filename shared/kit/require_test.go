package kit_test

import (
	"context"
	"errors"
	"testing"

	"github.com/azora-os/azora/shared/kit"
)

func TestRequireClaims(t *testing.T) {
	if _, err := kit.RequireClaims(context.Background()); !errors.Is(err, kit.ErrMissingToken) {
		t.Errorf("no claims: got %v, want missing_token", err)
	}
	c, err := kit.RequireClaims(kit.WithClaims(context.Background(), kit.Claims{Subject: "u1"}))
	if err != nil || c.Subject != "u1" {
		t.Errorf("got %+v, %v; want the claims in ctx", c, err)
	}
}
