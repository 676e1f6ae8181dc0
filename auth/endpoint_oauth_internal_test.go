package auth

import (
	"bytes"
	"context"
	"reflect"
	"strings"
	"testing"

	"github.com/go-kit/log"

	"github.com/azora-os/azora/shared/httpx"
	"github.com/azora-os/azora/shared/kit"
)

// TestAuditClientChange: a change is logged at info level with the admin,
// the action and the client, never the secret; a refused one is not.
func TestAuditClientChange(t *testing.T) {
	ctx := kit.WithClaims(context.Background(), kit.Claims{Subject: "admin-1"})
	for _, tc := range []struct {
		name     string
		request  any
		response any
		err      error
		want     string // "" = nothing logged
	}{
		{"register_client", ClientRequest{Name: "x"}, ClientCredentials{ClientID: "c-new", ClientSecret: "s3cret"}, nil,
			`level=info msg="oauth client changed" action=register_client client_id=c-new admin=admin-1`},
		{"rotate_client_secret", idRequest{ID: "c-1"}, rotatedSecret{ClientID: "c-1", ClientSecret: "s3cret"}, nil,
			`level=info msg="oauth client changed" action=rotate_client_secret client_id=c-1 admin=admin-1`},
		{"update_client", updateClientRequest{ID: "c-2"}, clientResponse{}, nil,
			`level=info msg="oauth client changed" action=update_client client_id=c-2 admin=admin-1`},
		{"delete_client", idRequest{ID: "c-3"}, httpx.NoContent{}, nil,
			`level=info msg="oauth client changed" action=delete_client client_id=c-3 admin=admin-1`},
		{"delete_client", idRequest{ID: "c-4"}, nil, ErrClientNotFound, ""},
	} {
		var buf bytes.Buffer
		ep := auditClientChange(log.NewLogfmtLogger(&buf), tc.name)(func(context.Context, any) (any, error) {
			return tc.response, tc.err
		})
		resp, err := ep(ctx, tc.request)
		if !reflect.DeepEqual(resp, tc.response) || err != tc.err {
			t.Errorf("%s: the endpoint's answer changed: %v, %v", tc.name, resp, err)
		}
		got := strings.TrimSpace(buf.String())
		if got != tc.want || strings.Contains(got, "s3cret") {
			t.Errorf("%s: logged %q, want %q", tc.name, got, tc.want)
		}
	}
}
