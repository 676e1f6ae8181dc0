package finance

import (
	"context"
	"net/http"

	"github.com/azora-os/azora/shared/httpx/httpclient"
)

// maxResponseBytes bounds what the client reads of a success: JSON
// answers are small (a page of at most 100 rows).
const maxResponseBytes = 4 << 20

// call is where one client request goes and what it carries.
type call = httpclient.Call

// decodeResponse reads a T from a success, or finance's problem as an
// error; any other answer that is not a success (an unfollowed redirect)
// is an internal error.
func decodeResponse[T any](ctx context.Context, resp *http.Response) (any, error) {
	return httpclient.DecodeJSON[T]("finance", maxResponseBytes)(ctx, resp)
}
