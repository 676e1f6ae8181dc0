package app

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/azora-os/azora/shared/config"
)

func TestLoadConfigNamesEveryMissingVariable(t *testing.T) {
	r := config.FromMap(map[string]string{"LOG_FORMAT": "xml", "TRUSTED_PROXIES": "10.0.0.0/99"})
	LoadConfig(r, "finance", ":4003", Needs{Postgres: true, Redis: true, Kafka: true, JWKS: true})
	err := r.Err()
	if err == nil {
		t.Fatal("got nil error, want the missing variables named")
	}
	for _, v := range []string{"DATABASE_URL", "REDIS_URL", "KAFKA_BROKERS", "AUTH_JWKS_URL", "LOG_FORMAT", "TRUSTED_PROXIES"} {
		if !strings.Contains(err.Error(), v) {
			t.Errorf("error %q does not name %s", err, v)
		}
	}
}

func TestLoadConfigDefaultsAndSecrets(t *testing.T) {
	r := config.FromMap(map[string]string{
		"DATABASE_URL": "postgres://azora:hunter2@db:5432/azora_finance",
		"REDIS_ADDRS":  "r1:6379, r2:6379",
	})
	c := LoadConfig(r, "finance", ":4003", Needs{Postgres: true, Redis: true})
	if err := r.Err(); err != nil {
		t.Fatal(err)
	}
	if c.HTTPAddr != ":4003" || c.LogFormat != "json" || c.LogLevel != "info" || len(c.RedisAddrs) != 2 {
		t.Errorf("got %+v", c)
	}
	if strings.Contains(c.DatabaseURL.String(), "hunter2") {
		t.Error("DATABASE_URL printed with its password")
	}
}

func TestLoadConfigTrustsLoopbackProxiesByDefault(t *testing.T) {
	c := LoadConfig(config.FromMap(nil), "gateway", ":4000", Needs{})
	for _, a := range []string{"127.0.0.1", "127.1.2.3", "::1"} {
		if !c.TrustedProxies.Contains(netip.MustParseAddr(a)) {
			t.Errorf("%s not trusted by default", a)
		}
	}
	if c.TrustedProxies.Contains(netip.MustParseAddr("10.0.0.1")) {
		t.Error("10.0.0.1 trusted by default")
	}
	c = LoadConfig(config.FromMap(map[string]string{"TRUSTED_PROXIES": "none"}), "gateway", ":4000", Needs{})
	if len(c.TrustedProxies) != 0 {
		t.Errorf("TRUSTED_PROXIES=none: got %v, want nobody trusted", c.TrustedProxies)
	}
}
