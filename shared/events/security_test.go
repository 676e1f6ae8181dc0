package events_test

import (
	"crypto/tls"
	"testing"
	"time"

	"github.com/azora-os/azora/shared/events"
)

// The broker's only SASL user.
const (
	saslUser = "azora-relay"
	saslPass = "s3cret-scram-pass"
)

// How long a test watches a client that must not get through: librdkafka
// fails a TLS or SASL handshake within milliseconds and retries every
// second at most (reconnect.backoff.max.ms), so 3 s spans several tries.
const refusedFor = 3 * time.Second

func TestRelayAndConsumerSpeakSASLOverTLS(t *testing.T) {
	t.Parallel()
	ca := newTestCA(t, "azora test CA")
	brokers := startSecureBroker(t, ca.serverTLS(t, "127.0.0.1", "localhost"), saslOptions()...)
	sec := scramSecurity(ca.writePEM(t), saslPass)
	env := secureRelayEnv(t, brokers)
	ids := enqueueSpread(t, env, 12)

	env.publishWith(t, sec)
	startSecureConsumer(t, secureConsumer(t, env.db, brokers, sec))
	env.waitApplied(t, len(ids))

	// The records are on the broker itself, read by another client that
	// also has to present TLS and SCRAM.
	got := readSecure(t, brokers, ca.pool())
	for id := range ids {
		if got[id] == 0 {
			t.Errorf("event %s: not on the broker", id)
		}
	}
}

func TestRelayWithAWrongPasswordPublishesNothing(t *testing.T) {
	t.Parallel()
	ca := newTestCA(t, "azora test CA")
	brokers := startSecureBroker(t, ca.serverTLS(t, "127.0.0.1", "localhost"), saslOptions()...)
	caFile := ca.writePEM(t)
	env := secureRelayEnv(t, brokers)
	ids := enqueueSpread(t, env, 6)

	// librdkafka prefixes every failed SASL exchange so. (A real broker
	// answers SASL_AUTHENTICATION_FAILED and "Authentication failed"
	// follows; kfake just drops the connection.)
	env.refused(t, scramSecurity(caFile, "not-the-password"), "SASL authentication error")

	// Nothing was lost: with the right password the same rows go out.
	env.publishWith(t, scramSecurity(caFile, saslPass))
	if got := readSecure(t, brokers, ca.pool()); len(got) != len(ids) {
		t.Errorf("broker: got %d distinct events, want %d", len(got), len(ids))
	}
}

func TestRelayRefusesABrokerItCannotVerify(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		// server returns the broker's TLS config, its certificate issued
		// by ca, and the CA file the relay is given.
		server func(t *testing.T, ca *testCA) (*tls.Config, string)
	}{
		{
			name: "signed by an unknown authority",
			server: func(t *testing.T, ca *testCA) (*tls.Config, string) {
				return ca.serverTLS(t, "127.0.0.1", "localhost"), newTestCA(t, "another CA").writePEM(t)
			},
		},
		{
			// No CAFile: the system's trust store ("probe"), which does
			// not hold the throwaway CA.
			name: "checked against the system's authorities",
			server: func(t *testing.T, ca *testCA) (*tls.Config, string) {
				return ca.serverTLS(t, "127.0.0.1", "localhost"), ""
			},
		},
		{
			name: "issued for another host",
			server: func(t *testing.T, ca *testCA) (*tls.Config, string) {
				return ca.serverTLS(t, "kafka.example.com"), ca.writePEM(t)
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			serverTLS, caFile := tc.server(t, newTestCA(t, "azora test CA"))
			env := secureRelayEnv(t, startSecureBroker(t, serverTLS, saslOptions()...))
			enqueueSpread(t, env, 3)
			env.refused(t, scramSecurity(caFile, saslPass), "certificate verify failed")
		})
	}
}

func TestRelayAndConsumerAuthenticateWithAClientCert(t *testing.T) {
	t.Parallel()
	ca := newTestCA(t, "azora test CA")
	serverTLS := ca.serverTLS(t, "127.0.0.1", "localhost")
	serverTLS.ClientAuth = tls.RequireAndVerifyClientCert
	serverTLS.ClientCAs = ca.pool()
	brokers := startSecureBroker(t, serverTLS)
	env := secureRelayEnv(t, brokers)
	ids := enqueueSpread(t, env, 6)

	sec := events.KafkaSecurity{Protocol: events.ProtocolSSL, CAFile: ca.writePEM(t)}
	env.refused(t, sec, "certificate required")

	sec.CertFile, sec.KeyFile = ca.writeClientCert(t, "azora-relay")
	env.publishWith(t, sec)
	startSecureConsumer(t, secureConsumer(t, env.db, brokers, sec))
	env.waitApplied(t, len(ids))
}
