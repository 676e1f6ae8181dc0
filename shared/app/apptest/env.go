package apptest

import (
	"testing"

	"github.com/azora-os/azora/shared/events/kafkatest"
	"github.com/azora-os/azora/shared/pg/pgtest"
	"github.com/azora-os/azora/shared/redisx/redistest"
)

// Deps says which throwaway dependencies Env creates.
type Deps struct {
	Postgres bool // an empty database; the service migrates it
	Redis    bool
	Kafka    bool // an in-process kfake cluster with the platform's topics
}

// Env returns the environment a service's loadConfig reads, pointing at
// fresh dependencies that live as long as the test, plus settings that
// keep tests fast (no drain delay, quiet logs).
func Env(t testing.TB, d Deps) map[string]string {
	t.Helper()
	env := map[string]string{
		"LOG_LEVEL":            "warn",
		"LOG_FORMAT":           "logfmt",
		"SHUTDOWN_DRAIN_DELAY": "0s",
		"SHUTDOWN_TIMEOUT":     "10s",
		// Token-checking services fetch keys lazily, so a closed port is
		// enough until a test sends a token.
		"AUTH_JWKS_URL": "http://127.0.0.1:1/.well-known/jwks.json",
	}
	if d.Postgres {
		_, dsn := pgtest.New(t)
		env["DATABASE_URL"] = dsn
	}
	if d.Redis {
		// The service's keys go under the test's own prefix, removed when
		// the test ends.
		_, prefix := redistest.New(t)
		env["REDIS_URL"] = redistest.URL()
		env["REDIS_KEY_PREFIX"] = prefix
	}
	if d.Kafka {
		env["KAFKA_BROKERS"] = kafkatest.New(t)
	}
	return env
}
