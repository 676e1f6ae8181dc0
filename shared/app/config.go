package app

import (
	"os"
	"strings"
	"time"

	"github.com/azora-os/azora/shared/config"
	"github.com/azora-os/azora/shared/events"
	"github.com/azora-os/azora/shared/httpx"
)

// Config is what every service binary reads from the environment. A
// service's own config struct embeds it.
type Config struct {
	Name            string
	HTTPAddr        string
	LogLevel        string
	LogFormat       string
	OTLPEndpoint    string
	DatabaseURL     config.Secret // holds a password in production
	RedisURL        config.Secret
	RedisAddrs      []string
	RedisPassword   config.Secret
	KafkaBrokers    string
	KafkaSecurity   events.KafkaSecurity // TLS and SASL towards the brokers
	KeyPrefix       string               // every Redis key the platform writes starts with it
	JWKSURL         string
	Issuer          string               // the iss of access tokens (the auth service's public URL)
	Audience        string               // the aud access tokens carry
	DebugAddr       string               // serves net/http/pprof when set; never expose it publicly
	TrustedProxies  httpx.TrustedProxies // peers whose X-Forwarded-For/Proto are believed
	DrainDelay      time.Duration        // readiness is 503 this long before the listener closes
	ShutdownTimeout time.Duration        // in-flight requests get this long to finish
}

// Needs says which dependencies a binary requires.
type Needs struct {
	Postgres bool
	Redis    bool
	Kafka    bool
	JWKS     bool
}

// Base returns c; a service config embedding Config inherits it, which is
// how Main reaches the common part of any service's config.
func (c Config) Base() Config { return c }

// LoadConfig reads the common variables for service name, recording every
// problem in r. defaultAddr is the service's port from DESIGN.md.
func LoadConfig(r *config.Reader, name, defaultAddr string, needs Needs) Config {
	c := Config{
		Name:            name,
		HTTPAddr:        r.String("HTTP_ADDR", defaultAddr),
		LogLevel:        r.OneOf("LOG_LEVEL", "info", "debug", "info", "warn", "error"),
		LogFormat:       r.OneOf("LOG_FORMAT", "json", "json", "logfmt"),
		OTLPEndpoint:    r.URL("OTEL_EXPORTER_OTLP_ENDPOINT", ""),
		DebugAddr:       r.String("DEBUG_ADDR", ""),
		KeyPrefix:       r.String("REDIS_KEY_PREFIX", "azora:"),
		Issuer:          r.URL("AUTH_ISSUER", "http://127.0.0.1:4001"),
		Audience:        r.String("AUTH_AUDIENCE", "azora"),
		DrainDelay:      r.Duration("SHUTDOWN_DRAIN_DELAY", 5*time.Second),
		ShutdownTimeout: r.Duration("SHUTDOWN_TIMEOUT", 20*time.Second),
	}
	// Loopback by default (make run: NGINX → gateway → services on one
	// host); "none" trusts no peer.
	proxyList := r.List("TRUSTED_PROXIES", []string{"127.0.0.0/8", "::1"})
	if len(proxyList) == 1 && proxyList[0] == "none" {
		proxyList = nil
	}
	proxies, err := httpx.ParseTrustedProxies(proxyList)
	r.Check(err == nil, "TRUSTED_PROXIES", "%v", err)
	c.TrustedProxies = proxies
	if needs.Postgres {
		c.DatabaseURL = r.SecretURL("DATABASE_URL")
		r.Check(c.DatabaseURL != "", "DATABASE_URL", "is required")
	}
	if needs.Redis {
		c.RedisURL = r.SecretURL("REDIS_URL")
		c.RedisAddrs = r.List("REDIS_ADDRS", nil)
		c.RedisPassword = r.OptionalSecret("REDIS_PASSWORD")
		r.Check(c.RedisURL != "" || len(c.RedisAddrs) > 0, "REDIS_URL", "or REDIS_ADDRS is required")
		r.Check(c.RedisURL == "" || len(c.RedisAddrs) == 0, "REDIS_URL", "and REDIS_ADDRS are exclusive: set one")
		r.Check(!strings.ContainsAny(c.KeyPrefix, "{}"), "REDIS_KEY_PREFIX", "must not contain { or }: keys put their own cluster hash tags after it")
	}
	if needs.Kafka {
		c.KafkaBrokers = r.Required("KAFKA_BROKERS")
		c.KafkaSecurity = loadKafkaSecurity(r)
	}
	if needs.JWKS {
		c.JWKSURL = r.URL("AUTH_JWKS_URL", "")
		r.Check(c.JWKSURL != "", "AUTH_JWKS_URL", "is required")
	}
	return c
}

// loadKafkaSecurity reads how the services reach brokers that ask for TLS
// or SASL (names after librdkafka's properties). A setting the protocol
// would ignore is an error rather than silently unused: a username with
// plaintext means the operator expected authentication that would not
// happen. Files are checked for readability here, so a missing mount
// fails the start instead of the first connection.
func loadKafkaSecurity(r *config.Reader) events.KafkaSecurity {
	s := events.KafkaSecurity{Protocol: r.OneOf("KAFKA_SECURITY_PROTOCOL", events.ProtocolPlaintext,
		events.ProtocolPlaintext, events.ProtocolSSL, events.ProtocolSASLPlaintext, events.ProtocolSASLSSL)}
	if s.SASL() {
		s.SASLMechanism = r.OneOf("KAFKA_SASL_MECHANISM", events.MechanismSCRAMSHA512,
			events.MechanismPlain, events.MechanismSCRAMSHA256, events.MechanismSCRAMSHA512)
		s.Username = r.Required("KAFKA_SASL_USERNAME")
		s.Password = r.Secret("KAFKA_SASL_PASSWORD")
	} else {
		for _, k := range []string{"KAFKA_SASL_MECHANISM", "KAFKA_SASL_USERNAME", "KAFKA_SASL_PASSWORD", "KAFKA_SASL_PASSWORD_FILE"} {
			r.Check(r.String(k, "") == "", k, "is set but KAFKA_SECURITY_PROTOCOL=%s does not use SASL (sasl_plaintext or sasl_ssl do)", s.Protocol)
		}
	}
	files := []struct {
		key  string
		into *string
	}{
		{"KAFKA_SSL_CA_LOCATION", &s.CAFile},
		{"KAFKA_SSL_CERTIFICATE_LOCATION", &s.CertFile},
		{"KAFKA_SSL_KEY_LOCATION", &s.KeyFile},
	}
	for _, f := range files {
		v := r.String(f.key, "")
		if !s.TLS() {
			r.Check(v == "", f.key, "is set but KAFKA_SECURITY_PROTOCOL=%s does not use TLS (ssl or sasl_ssl do)", s.Protocol)
			continue
		}
		if v != "" {
			_, err := os.ReadFile(v)
			r.Check(err == nil, f.key, "cannot be read: %v", err)
		}
		*f.into = v
	}
	r.Check((s.CertFile == "") == (s.KeyFile == ""), "KAFKA_SSL_CERTIFICATE_LOCATION",
		"and KAFKA_SSL_KEY_LOCATION go together: a client certificate needs its key")
	return s
}
