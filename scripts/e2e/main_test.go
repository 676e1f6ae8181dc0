// Package e2e holds the platform's end-to-end tests: the services built
// from this checkout run as real processes behind NGINX (see
// shared/app/apptest/platform), and the tests call them only as a client
// on the Internet would, over HTTPS through NGINX.
package e2e

import (
	"testing"

	"github.com/azora-os/azora/shared/app/apptest/platform"
)

// TestMain removes the binaries the platform built once the tests are done.
func TestMain(m *testing.M) { platform.Main(m) }
