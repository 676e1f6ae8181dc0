package app

import (
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/azora-os/azora/shared/config"
	"github.com/azora-os/azora/shared/events"
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

func TestLoadConfigReadsKafkaSecurity(t *testing.T) {
	dir := t.TempDir()
	ca, cert, key := filepath.Join(dir, "ca.crt"), filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	for _, f := range []string{ca, cert, key} {
		if err := os.WriteFile(f, []byte("-----BEGIN CERTIFICATE-----\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	passwordFile := filepath.Join(dir, "password")
	if err := os.WriteFile(passwordFile, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	kafka := func(kv ...string) map[string]string {
		m := map[string]string{"KAFKA_BROKERS": "b1:9093"}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	tests := []struct {
		name string
		env  map[string]string
		want events.KafkaSecurity
	}{
		{"plaintext by default", kafka(), events.KafkaSecurity{Protocol: "plaintext"}},
		{"sasl_ssl with the system trust store, SCRAM-SHA-512 by default",
			kafka("KAFKA_SECURITY_PROTOCOL", "sasl_ssl", "KAFKA_SASL_USERNAME", "azora", "KAFKA_SASL_PASSWORD_FILE", passwordFile),
			events.KafkaSecurity{Protocol: "sasl_ssl", SASLMechanism: "SCRAM-SHA-512", Username: "azora", Password: "s3cret"}},
		{"sasl_plaintext with PLAIN",
			kafka("KAFKA_SECURITY_PROTOCOL", "sasl_plaintext", "KAFKA_SASL_MECHANISM", "PLAIN", "KAFKA_SASL_USERNAME", "azora", "KAFKA_SASL_PASSWORD", "pw"),
			events.KafkaSecurity{Protocol: "sasl_plaintext", SASLMechanism: "PLAIN", Username: "azora", Password: "pw"}},
		{"ssl with a CA and a client certificate",
			kafka("KAFKA_SECURITY_PROTOCOL", "ssl", "KAFKA_SSL_CA_LOCATION", ca, "KAFKA_SSL_CERTIFICATE_LOCATION", cert, "KAFKA_SSL_KEY_LOCATION", key),
			events.KafkaSecurity{Protocol: "ssl", CAFile: ca, CertFile: cert, KeyFile: key}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := config.FromMap(tt.env)
			c := LoadConfig(r, "finance", ":4003", Needs{Kafka: true})
			if err := r.Err(); err != nil {
				t.Fatal(err)
			}
			if c.KafkaSecurity != tt.want {
				t.Errorf("got %+v, want %+v", c.KafkaSecurity, tt.want)
			}
		})
	}
}

func TestLoadConfigRefusesInconsistentKafkaSecurity(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "absent.crt")
	tests := []struct {
		name string
		env  map[string]string
		want []string // every variable the error must name
	}{
		{"an unknown protocol", map[string]string{"KAFKA_SECURITY_PROTOCOL": "tls"}, []string{"KAFKA_SECURITY_PROTOCOL"}},
		{"sasl without credentials", map[string]string{"KAFKA_SECURITY_PROTOCOL": "sasl_ssl"},
			[]string{"KAFKA_SASL_USERNAME", "KAFKA_SASL_PASSWORD"}},
		{"an unknown mechanism", map[string]string{"KAFKA_SECURITY_PROTOCOL": "sasl_ssl", "KAFKA_SASL_MECHANISM": "GSSAPI",
			"KAFKA_SASL_USERNAME": "u", "KAFKA_SASL_PASSWORD": "p"}, []string{"KAFKA_SASL_MECHANISM"}},
		{"credentials the protocol would not send", map[string]string{"KAFKA_SECURITY_PROTOCOL": "ssl",
			"KAFKA_SASL_USERNAME": "u", "KAFKA_SASL_PASSWORD": "p"}, []string{"KAFKA_SASL_USERNAME", "KAFKA_SASL_PASSWORD"}},
		{"a CA with plaintext", map[string]string{"KAFKA_SSL_CA_LOCATION": "/etc/ca.crt"}, []string{"KAFKA_SSL_CA_LOCATION"}},
		{"a certificate without its key", map[string]string{"KAFKA_SECURITY_PROTOCOL": "ssl",
			"KAFKA_SSL_CERTIFICATE_LOCATION": "/dev/null"}, []string{"KAFKA_SSL_CERTIFICATE_LOCATION and KAFKA_SSL_KEY_LOCATION"}},
		{"a file that is not there", map[string]string{"KAFKA_SECURITY_PROTOCOL": "ssl", "KAFKA_SSL_CA_LOCATION": missing},
			[]string{"KAFKA_SSL_CA_LOCATION cannot be read"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.env["KAFKA_BROKERS"] = "b1:9093"
			r := config.FromMap(tt.env)
			LoadConfig(r, "finance", ":4003", Needs{Kafka: true})
			err := r.Err()
			if err == nil {
				t.Fatal("got nil error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not name %s", err, w)
				}
			}
		})
	}
}
