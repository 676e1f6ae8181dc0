package events_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
	"github.com/jmoiron/sqlx"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/azora-os/azora/shared/config"
	"github.com/azora-os/azora/shared/events"
	"github.com/azora-os/azora/shared/events/kafkatest"
	"github.com/azora-os/azora/shared/pg"
)

// scramSecurity signs in as saslUser with password over TLS, trusting the
// authorities in caFile.
func scramSecurity(caFile string, password config.Secret) events.KafkaSecurity {
	return events.KafkaSecurity{
		Protocol: events.ProtocolSASLSSL, SASLMechanism: events.MechanismSCRAMSHA512,
		Username: saslUser, Password: password, CAFile: caFile,
	}
}

// publishWith runs a relay with sec until the test ends and waits until it
// has published every outbox row.
func (env *relayEnv) publishWith(t *testing.T, sec events.KafkaSecurity) {
	t.Helper()
	r := env.relay(t, nil)
	r.Security = sec
	startRelay(t, r)
	env.waitAllSent(t, 10*time.Second)
}

// refused runs a relay with sec for refusedFor and stops it, failing the
// test when it published any row or its logs lack wantLog.
func (env *relayEnv) refused(t *testing.T, sec events.KafkaSecurity, wantLog string) {
	t.Helper()
	var logs relayLogBuffer
	r := env.relay(t, nil)
	r.Security = sec
	r.Logger = log.NewLogfmtLogger(io.MultiWriter(&logs, relayLogWriter{t}))
	stop := startRelay(t, r)
	time.Sleep(refusedFor)
	stop()
	if got := env.count(t, `SELECT count(*) FROM outbox WHERE sent_at IS NOT NULL`); got != 0 {
		t.Fatalf("rows sent: got %d, want 0", got)
	}
	if !strings.Contains(logs.String(), wantLog) {
		t.Errorf("relay logs do not mention %q:\n%s", wantLog, logs.String())
	}
}

// waitApplied waits until the consumer has recorded n effects, then checks
// they are those of n distinct enqueued events: each applied exactly once.
func (env *relayEnv) waitApplied(t *testing.T, n int) {
	t.Helper()
	relayWait(t, 10*time.Second, "the consumer to apply every event", func() bool {
		return env.count(t, `SELECT count(*) FROM effects`) >= n
	})
	if got := env.count(t, `SELECT count(DISTINCT event_id) FROM effects JOIN outbox USING (event_id)`); got != n {
		t.Errorf("effects of enqueued events: got %d distinct, want %d", got, n)
	}
	if got := env.count(t, `SELECT count(*) FROM effects`); got != n {
		t.Errorf("effects: got %d rows, want %d (each event applied once)", got, n)
	}
}

// saslOptions makes a broker accept only SCRAM-SHA-512 as saslUser.
func saslOptions() []kfake.Opt {
	return []kfake.Opt{kfake.EnableSASL(), kfake.Superuser(events.MechanismSCRAMSHA512, saslUser, saslPass)}
}

// startSecureBroker starts a kafkatest cluster listening with tc (and
// opts) and returns its bootstrap servers.
func startSecureBroker(t *testing.T, tc *tls.Config, opts ...kfake.Opt) string {
	t.Helper()
	return kafkatest.New(t, kafkatest.With(append(opts, kfake.TLS(tc))...))
}

// secureRelayEnv is a relayEnv on brokers whose database also holds the
// effects the secure consumer writes.
func secureRelayEnv(t *testing.T, brokers string) *relayEnv {
	t.Helper()
	db, dsn := newRelayDB(t)
	db.MustExec(`CREATE TABLE effects (
		event_id   uuid        NOT NULL,
		applied_at timestamptz NOT NULL DEFAULT clock_timestamp())`)
	return &relayEnv{db: db, dsn: dsn, brokers: brokers}
}

// enqueueSpread enqueues n events over the platform's topics and four
// users, and returns their ids.
func enqueueSpread(t *testing.T, env *relayEnv, n int) map[string]bool {
	t.Helper()
	us := users(4)
	evs := make([]events.Event, n)
	ids := make(map[string]bool, n)
	for i := range evs {
		evs[i] = relayEvent(t, events.Topics[i%len(events.Topics)], us[i%len(us)], i)
		ids[evs[i].ID] = true
	}
	env.enqueue(t, evs...)
	return ids
}

// secureConsumer returns a Consumer over db and brokers whose handlers
// record each event's id in effects, inside the consumer's transaction.
func secureConsumer(t *testing.T, db *sqlx.DB, brokers string, sec events.KafkaSecurity) *events.Consumer {
	record := func(ctx context.Context, e events.Event) error {
		_, err := pg.Ext(ctx, db).ExecContext(ctx, `INSERT INTO effects (event_id) VALUES ($1)`, e.ID)
		return err
	}
	hs := map[string]events.Handler{}
	for _, topic := range events.Topics {
		hs[topic+".test.happened"] = record
	}
	return &events.Consumer{
		Group: "security-test", Brokers: brokers, Security: sec,
		Topics: events.Topics, DB: db, Handlers: hs,
		Logger: level.NewFilter(log.NewLogfmtLogger(relayLogWriter{t}), level.AllowInfo()),
	}
}

// startSecureConsumer runs c until the test ends, then checks that Run
// returned nil promptly after its context was cancelled.
func startSecureConsumer(t *testing.T, c *events.Consumer) {
	stop := events.StartConsumer(t, c)
	t.Cleanup(func() { // before StartConsumer's own: this one sees the error
		if err := stop(); err != nil {
			t.Errorf("consumer Run: got %v, want nil after cancel", err)
		}
	})
}

// readSecure reads what the platform's topics hold with a franz-go client
// that must present TLS (trusting roots) and SCRAM-SHA-512 too, and
// returns how many records each event id has.
func readSecure(t *testing.T, brokers string, roots *x509.CertPool) map[string]int {
	t.Helper()
	got := map[string]int{}
	for _, topic := range events.Topics {
		recs := kafkatest.ReadAll(t, brokers, topic, 0, 10*time.Second,
			kgo.DialTLSConfig(&tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}),
			kgo.SASL(scram.Auth{User: saslUser, Pass: saslPass}.AsSha512Mechanism()))
		for _, r := range recs {
			ev, err := events.Parse(r.Value)
			if err != nil {
				t.Fatalf("record %s/%d@%d: %v", r.Topic, r.Partition, r.Offset, err)
			}
			got[ev.ID]++
		}
	}
	return got
}

// testCA is a throwaway certificate authority.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
}

func newTestCA(t *testing.T, name string) *testCA {
	t.Helper()
	cert, key := certify(t, nil, &x509.Certificate{
		Subject:               pkix.Name{CommonName: name},
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	})
	return &testCA{cert: cert, key: key}
}

// certify fills tmpl's serial and an hour's validity either side of now,
// and signs it with a fresh key, by ca or (nil) by itself.
func certify(t *testing.T, ca *testCA, tmpl *x509.Certificate) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatalf("generate key: %v", err)
	}
	if tmpl.SerialNumber, err = rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62)); err != nil {
		t.Fatal(err)
	}
	tmpl.NotBefore, tmpl.NotAfter = time.Now().Add(-time.Hour), time.Now().Add(time.Hour)
	parent, parentKey := tmpl, key
	if ca != nil {
		parent, parentKey = ca.cert, ca.key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
	if err != nil {
		t.Fatalf("certify %s: %v", tmpl.Subject.CommonName, err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert, key
}

// issue signs a certificate for cn with extended usage use and the SANs in
// hosts (IP addresses or DNS names).
func (ca *testCA) issue(t *testing.T, cn string, use x509.ExtKeyUsage, hosts ...string) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	tmpl := &x509.Certificate{
		Subject:     pkix.Name{CommonName: cn},
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{use},
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	return certify(t, ca, tmpl)
}

// serverTLS returns a broker's TLS config with a certificate for hosts.
func (ca *testCA) serverTLS(t *testing.T, hosts ...string) *tls.Config {
	t.Helper()
	cert, key := ca.issue(t, hosts[0], x509.ExtKeyUsageServerAuth, hosts...)
	return &tls.Config{
		Certificates: []tls.Certificate{{Certificate: [][]byte{cert.Raw}, PrivateKey: key}},
		MinVersion:   tls.VersionTLS12,
	}
}

// writeClientCert writes a client certificate for cn and its key as PEM
// files, returning their paths.
func (ca *testCA) writeClientCert(t *testing.T, cn string) (certFile, keyFile string) {
	t.Helper()
	cert, key := ca.issue(t, cn, x509.ExtKeyUsageClientAuth)
	pkcs8, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return writePEM(t, "CERTIFICATE", cert.Raw), writePEM(t, "PRIVATE KEY", pkcs8)
}

// writePEM writes the CA's certificate as PEM and returns the file's path.
func (ca *testCA) writePEM(t *testing.T) string { return writePEM(t, "CERTIFICATE", ca.cert.Raw) }

func (ca *testCA) pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(ca.cert)
	return p
}

// writePEM writes der as one PEM block of typ to a new file in a
// temporary directory and returns its path.
func writePEM(t *testing.T, typ string, der []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "file.pem")
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}
