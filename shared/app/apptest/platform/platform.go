// Package platform runs the whole Azora platform on this machine as real
// processes, for end-to-end tests: the four services built from this
// checkout, two gateway replicas behind NGINX with TLS (configured by
// scripts/nginx.sh, as `make run` does), a Redis server and a dev Kafka
// broker of its own (so a test may stop them), stripe-mock, and a
// throwaway Postgres database per service on the test server.
//
// Every component is a Proc that a test can kill, stop, pause and start
// again on the same address, which is what the fault runs do.
package platform

import (
	"bufio"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"maps"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/azora-os/azora/finance/stripetest"
	"github.com/azora-os/azora/shared/pg/pgtest"
)

// Options shape a platform. The zero value is two gateway replicas and the
// services' defaults.
type Options struct {
	// Gateways is the number of gateway replicas behind NGINX (default 2).
	Gateways int
	// Env is added to every service's environment, e.g. a fee
	// (FINANCE_FEE_BASIS_POINTS) or looser rate limits (GATEWAY_RATE_USER).
	// It overrides the harness's own settings too, such as auth's cheap
	// password hashing (AUTH_ARGON2_TIME, AUTH_ARGON2_MEMORY_KIB).
	Env map[string]string
}

// Platform is a running platform. Clients call it through Edge; the
// fields give a test each process to measure or break.
type Platform struct {
	Redis     *Proc // redis-server with an append-only file: Stop and Start keep its data
	Kafka     *Proc // scripts/devkafka with a data directory: Stop and Start keep the log
	Auth      *Proc
	Education *Proc
	Finance   *Proc
	Gateways  []*Proc
	NGINX     *Edge

	// StripeURL is stripe-mock's base URL; WebhookSecret what finance
	// verifies Stripe-Signature with (sign with finance.SignPayload).
	StripeURL     string
	WebhookSecret string
	// Issuer is the iss of the tokens auth signs.
	Issuer string
}

// Services returns the service processes: auth, education, finance and
// the gateway replicas.
func (p *Platform) Services() []*Proc {
	return append([]*Proc{p.Auth, p.Education, p.Finance}, p.Gateways...)
}

// Start brings a platform up, in the order `make run` uses (dependencies,
// auth, education and finance, the gateways, NGINX), each waited for until
// it is ready, and stops it all when the test (or benchmark) ends.
func Start(t testing.TB, o Options) *Platform {
	t.Helper()
	if o.Gateways <= 0 {
		o.Gateways = 2
	}
	dir := t.TempDir()
	p := &Platform{Issuer: "http://auth.azora.test", WebhookSecret: "whsec_" + randomHex(16)}

	redisAddr := FreeAddr(t)
	host, port, _ := net.SplitHostPort(redisAddr)
	p.Redis = newProc(t, "redis", redisAddr, "redis-server", []string{"--bind", host, "--port", port,
		"--save", "", "--appendonly", "yes", "--appendfsync", "always", "--dir", dir}, nil, redisReady)
	p.Redis.Start()
	kafkaAddr := FreeAddr(t)
	p.Kafka = newProc(t, "kafka", kafkaAddr, Binary(t, "devkafka"),
		[]string{"-addr", kafkaAddr, "-data", filepath.Join(dir, "kafka")}, nil, kafkaReady)
	p.Kafka.Start()
	p.StripeURL = stripetest.Start(t)

	// Addresses first: each service's environment names the others.
	edgeHTTPS, edgeHTTP := FreeAddr(t), FreeAddr(t)
	authAddr, eduAddr, finAddr := FreeAddr(t), FreeAddr(t), FreeAddr(t)
	common := map[string]string{
		"LOG_LEVEL":            "warn",
		"LOG_FORMAT":           "logfmt",
		"SHUTDOWN_DRAIN_DELAY": "0s",
		"SHUTDOWN_TIMEOUT":     "10s",
		"KAFKA_BROKERS":        kafkaAddr,
		"REDIS_URL":            "redis://" + redisAddr + "/0",
		"AUTH_ISSUER":          p.Issuer,
		"AUTH_JWKS_URL":        "http://" + authAddr + "/.well-known/jwks.json",
	}
	maps.Copy(common, o.Env)
	service := func(name, addr string, kv ...string) *Proc {
		_, dsn := pgtest.New(t)
		env := maps.Clone(common)
		env["DATABASE_URL"] = dsn
		for i := 0; i+1 < len(kv); i += 2 {
			if _, set := o.Env[kv[i]]; !set { // Options.Env wins over these defaults
				env[kv[i]] = kv[i+1]
			}
		}
		return NewService(t, name, addr, env)
	}
	// Cheap password hashing: these tests measure flows, not Argon2.
	p.Auth = service("auth", authAddr, "AUTH_SEAL_KEYS", sealKey(), "AUTH_ARGON2_TIME", "1", "AUTH_ARGON2_MEMORY_KIB", "8192")
	p.Education = service("education", eduAddr, "EDUCATION_SEAL_KEYS", sealKey(), "EDUCATION_PUBLIC_URL", "https://"+edgeHTTPS)
	p.Finance = service("finance", finAddr, "STRIPE_API_BASE", p.StripeURL, "STRIPE_WEBHOOK_SECRET", p.WebhookSecret)
	p.Auth.Start()
	p.Education.Start()
	p.Finance.Start()

	var gateways []string
	for range o.Gateways {
		addr := FreeAddr(t)
		env := maps.Clone(common)
		maps.Copy(env, map[string]string{"AUTH_URLS": p.Auth.Base,
			"EDUCATION_URLS": p.Education.Base, "FINANCE_URLS": p.Finance.Base, "GATEWAY_HEALTH_INTERVAL": "500ms"})
		maps.Copy(env, o.Env)
		g := NewService(t, "gateway", addr, env)
		g.Start()
		p.Gateways = append(p.Gateways, g)
		gateways = append(gateways, g.Base)
	}
	p.NGINX = startEdge(t, edgeHTTPS, edgeHTTP, gateways...)
	return p
}

// NewService prepares (without starting) an instance of the service binary
// name (auth, education, finance, gateway) listening on addr, with env plus
// HTTP_ADDR. It is ready when its /readyz answers 200.
func NewService(t testing.TB, name, addr string, env map[string]string) *Proc {
	env = maps.Clone(env)
	env["HTTP_ADDR"] = addr
	p := newProc(t, name, addr, Binary(t, name), nil, env, httpReady)
	p.Base = "http://" + addr
	return p
}

// StartService starts an instance of the service binary name on a free
// loopback port with env and returns once it is ready.
func StartService(t testing.TB, name string, env map[string]string) *Proc {
	t.Helper()
	p := NewService(t, name, FreeAddr(t), env)
	p.Start()
	return p
}

// redisReady: the server answers PING.
func redisReady(p *Proc) bool {
	conn, err := net.DialTimeout("tcp", p.Addr, time.Second)
	if err != nil {
		return false
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(time.Second))
	if _, err := conn.Write([]byte("PING\r\n")); err != nil {
		return false
	}
	line, err := bufio.NewReader(conn).ReadString('\n')
	return err == nil && strings.HasPrefix(line, "+PONG")
}

// kafkaReady: devkafka has said it listens, in this run of the process
// (its log accumulates across restarts).
func kafkaReady(p *Proc) bool {
	return strings.Count(p.Logs(), "dev kafka broker listening on") >= p.starts()
}

func sealKey() string {
	key := make([]byte, 32)
	rand.Read(key)
	return "k1:" + base64.StdEncoding.EncodeToString(key)
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}
