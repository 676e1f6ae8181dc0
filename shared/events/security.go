package events

import (
	"github.com/confluentinc/confluent-kafka-go/v2/kafka"

	"github.com/azora-os/azora/shared/config"
)

// The values of KafkaSecurity.Protocol (librdkafka's security.protocol).
const (
	ProtocolPlaintext     = "plaintext"
	ProtocolSSL           = "ssl"
	ProtocolSASLPlaintext = "sasl_plaintext"
	ProtocolSASLSSL       = "sasl_ssl"
)

// The SASL mechanisms KafkaSecurity accepts.
const (
	MechanismPlain       = "PLAIN"
	MechanismSCRAMSHA256 = "SCRAM-SHA-256"
	MechanismSCRAMSHA512 = "SCRAM-SHA-512"
)

// KafkaSecurity is how the relay and the consumers reach brokers that ask
// for TLS, SASL or both (a managed Kafka). The zero value is plaintext
// without authentication: the dev broker, or a cluster inside a service
// mesh that encrypts and authenticates the connections itself.
type KafkaSecurity struct {
	// Protocol is one of the Protocol constants; empty means plaintext.
	Protocol string
	// SASLMechanism (a Mechanism constant), Username and Password sign in
	// with SASL, for the sasl_* protocols.
	SASLMechanism string
	Username      string
	Password      config.Secret
	// CAFile is a PEM bundle of the authorities that sign the brokers'
	// certificates, for the *ssl protocols; empty: the system's trust store.
	CAFile string
	// CertFile and KeyFile are a client certificate and its key (PEM), for
	// brokers that authenticate clients by certificate (mutual TLS).
	CertFile, KeyFile string
}

// TLS reports whether s encrypts the connection.
func (s KafkaSecurity) TLS() bool { return s.Protocol == ProtocolSSL || s.Protocol == ProtocolSASLSSL }

// SASL reports whether s signs in with SASL.
func (s KafkaSecurity) SASL() bool {
	return s.Protocol == ProtocolSASLPlaintext || s.Protocol == ProtocolSASLSSL
}

// apply adds s to a librdkafka configuration. Brokers' certificates are
// always verified, host name included (librdkafka's default since 2.0).
func (s KafkaSecurity) apply(cfg *kafka.ConfigMap) {
	if s.Protocol == "" || s.Protocol == ProtocolPlaintext {
		return
	}
	m := *cfg
	m["security.protocol"] = s.Protocol
	if s.SASL() {
		m["sasl.mechanism"] = s.SASLMechanism
		m["sasl.username"] = s.Username
		m["sasl.password"] = string(s.Password)
	}
	if s.TLS() {
		// "probe" makes librdkafka's bundled OpenSSL look for the system's
		// trust store where Debian, Alpine, RHEL … keep it.
		ca := s.CAFile
		if ca == "" {
			ca = "probe"
		}
		m["ssl.ca.location"] = ca
		if s.CertFile != "" {
			m["ssl.certificate.location"] = s.CertFile
			m["ssl.key.location"] = s.KeyFile
		}
	}
}
