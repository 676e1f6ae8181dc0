package chartcheck

import (
	"fmt"
	"maps"
	"path"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/resource"
)

// kafkaBrokers is the managed Kafka of these tests: two brokers on its TLS port.
const kafkaBrokers = "b-1.kafka.example.net:9094,b-2.kafka.example.net:9094"

// externalKafka is the --set of an install against kafkaBrokers, plus the given
// kafka.external.security.<key>=<value> settings.
func externalKafka(security ...string) []string {
	set := []string{"kafka.mode=external", "kafka.external.brokers=" + strings.ReplaceAll(kafkaBrokers, ",", `\,`),
		"kafka.external.cidrs={10.20.0.0/16}", "kafka.external.ports={9094}"}
	for _, s := range security {
		set = append(set, "kafka.external.security."+s)
	}
	return set
}

// kafkaVars is the KAFKA_* part of a service's environment.
func kafkaVars(env map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range env {
		if strings.HasPrefix(k, "KAFKA_") {
			out[k] = v
		}
	}
	return out
}

// secretVolume is the volume the chart makes for one of kafka.external.security's Secrets.
func secretVolume(name, secret string, keys ...string) corev1.Volume {
	items := make([]corev1.KeyToPath, 0, len(keys))
	for _, k := range keys {
		items = append(items, corev1.KeyToPath{Key: k, Path: k})
	}
	return corev1.Volume{Name: name, VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{
		SecretName: secret, Items: items, DefaultMode: new(int32(0o440))}}}
}

// The mounts and volumes every Deployment has whatever Kafka is.
var (
	tmpMount  = corev1.VolumeMount{Name: "tmp", MountPath: "/tmp"}
	tmpVolume = corev1.Volume{Name: "tmp", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{
		SizeLimit: new(resource.MustParse("64Mi"))}}}
)

// TestKafkaSecurityEnvAndMounts renders kafka.external.security's settings and checks
// what auth, education and finance get, exactly: the variables shared/app/config.go
// reads, the SASL password from its Secret, and the CA and client certificate mounted
// where the *_LOCATION variables point; in their Deployments and in their migration Jobs,
// since `migrate` loads (and checks) the same configuration. The gateway, which has no
// Kafka, gets none of it, and the installs of today (operator mode, plaintext external)
// get nothing new.
func TestKafkaSecurityEnvAndMounts(t *testing.T) {
	t.Parallel()
	caMount := corev1.VolumeMount{Name: "kafka-ca", MountPath: "/etc/azora/kafka/ca", ReadOnly: true}
	clientMount := corev1.VolumeMount{Name: "kafka-client", MountPath: "/etc/azora/kafka/client", ReadOnly: true}
	caVolume := secretVolume("kafka-ca", "azora-kafka-ca", "ca.crt")
	clientVolume := secretVolume("kafka-client", "azora-kafka-client", "tls.crt", "tls.key")
	operatorBrokers := map[string]string{"KAFKA_BROKERS": "azora-kafka-kafka-bootstrap:9092"}
	for _, tc := range []struct {
		name    string
		env     string
		set     []string
		vars    map[string]string // the KAFKA_* variables of auth, education and finance
		mounts  []corev1.VolumeMount
		volumes []corev1.Volume
	}{
		{name: "dev, operator", env: "dev", vars: operatorBrokers},
		{name: "staging, operator", env: "staging", vars: operatorBrokers},
		{name: "prod, operator", env: "prod", vars: operatorBrokers},
		{name: "dev, external plaintext", env: "dev", set: externalKafka(), vars: map[string]string{"KAFKA_BROKERS": kafkaBrokers}},
		{name: "prod, external plaintext said explicitly", env: "prod", set: externalKafka("protocol=plaintext"),
			vars: map[string]string{"KAFKA_BROKERS": kafkaBrokers}},
		{
			name: "prod, sasl_ssl with a private CA and a client certificate", env: "prod",
			set: externalKafka("protocol=sasl_ssl", "saslMechanism=SCRAM-SHA-256", "username=azora",
				"passwordSecret=azora-kafka", "caSecret=azora-kafka-ca", "clientCertSecret=azora-kafka-client"),
			vars: map[string]string{
				"KAFKA_BROKERS":                  kafkaBrokers,
				"KAFKA_SECURITY_PROTOCOL":        "sasl_ssl",
				"KAFKA_SASL_MECHANISM":           "SCRAM-SHA-256",
				"KAFKA_SASL_USERNAME":            "azora",
				"KAFKA_SASL_PASSWORD":            "secret:azora-kafka/password",
				"KAFKA_SSL_CA_LOCATION":          "/etc/azora/kafka/ca/ca.crt",
				"KAFKA_SSL_CERTIFICATE_LOCATION": "/etc/azora/kafka/client/tls.crt",
				"KAFKA_SSL_KEY_LOCATION":         "/etc/azora/kafka/client/tls.key",
			},
			mounts:  []corev1.VolumeMount{caMount, clientMount},
			volumes: []corev1.Volume{caVolume, clientVolume},
		},
		{
			name: "dev, sasl_plaintext with the default mechanism", env: "dev",
			set: externalKafka("protocol=sasl_plaintext", "username=azora", "passwordSecret=azora-kafka"),
			vars: map[string]string{
				"KAFKA_BROKERS":           kafkaBrokers,
				"KAFKA_SECURITY_PROTOCOL": "sasl_plaintext",
				"KAFKA_SASL_MECHANISM":    "SCRAM-SHA-512",
				"KAFKA_SASL_USERNAME":     "azora",
				"KAFKA_SASL_PASSWORD":     "secret:azora-kafka/password",
			},
		},
		{
			name: "staging, ssl with the system trust store and a client certificate", env: "staging",
			set: externalKafka("protocol=ssl", "clientCertSecret=azora-kafka-client"),
			vars: map[string]string{
				"KAFKA_BROKERS":                  kafkaBrokers,
				"KAFKA_SECURITY_PROTOCOL":        "ssl",
				"KAFKA_SSL_CERTIFICATE_LOCATION": "/etc/azora/kafka/client/tls.crt",
				"KAFKA_SSL_KEY_LOCATION":         "/etc/azora/kafka/client/tls.key",
			},
			mounts:  []corev1.VolumeMount{clientMount},
			volumes: []corev1.Volume{clientVolume},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := renderDecoded(t, envOptions(tc.env, tc.set...))
			for _, svc := range []string{"gateway", "auth", "education", "finance"} {
				vars, mounts, volumes := tc.vars, tc.mounts, tc.volumes
				if svc == "gateway" {
					vars, mounts, volumes = map[string]string{}, nil, nil
				}
				pod := r.get(t, "Deployment", "azora-"+svc).(*appsv1.Deployment).Spec.Template.Spec
				checkKafkaPod(t, svc, r, pod, vars,
					append([]corev1.VolumeMount{tmpMount}, mounts...), append([]corev1.Volume{tmpVolume}, volumes...))
				if svc == "gateway" {
					continue
				}
				job := r.get(t, "Job", "azora-migrate-"+svc).(*batchv1.Job).Spec.Template.Spec
				checkKafkaPod(t, svc+" migrate", r, job, vars, mounts, volumes)
			}
			for _, o := range r.objs {
				if o.Kind != "ConfigMap" {
					continue
				}
				for k := range r.get(t, "ConfigMap", o.Name).(*corev1.ConfigMap).Data {
					if strings.Contains(k, "PASSWORD") {
						t.Errorf("ConfigMap %s holds %s; passwords come from Secrets", o.Name, k)
					}
				}
			}
		})
	}
}

// checkKafkaPod compares a pod's Kafka variables, its first container's mounts and the
// pod's volumes with what is wanted, and checks that every *_LOCATION names a file a
// Secret volume puts there.
func checkKafkaPod(t *testing.T, what string, r release, pod corev1.PodSpec, vars map[string]string,
	mounts []corev1.VolumeMount, volumes []corev1.Volume) {
	t.Helper()
	if got := kafkaVars(serviceEnv(t, r, pod)); !maps.Equal(got, vars) {
		t.Errorf("%s: Kafka variables\n got %v\nwant %v", what, got, vars)
	}
	c := pod.Containers[0]
	if !equality.Semantic.DeepEqual(c.VolumeMounts, mounts) {
		t.Errorf("%s: volume mounts\n got %+v\nwant %+v", what, c.VolumeMounts, mounts)
	}
	if !equality.Semantic.DeepEqual(pod.Volumes, volumes) {
		t.Errorf("%s: volumes\n got %s\nwant %s", what, describeVolumes(pod.Volumes), describeVolumes(volumes))
	}
	for _, e := range c.Env {
		if e.Name == "KAFKA_SASL_PASSWORD" && (e.Value != "" || e.ValueFrom == nil || e.ValueFrom.SecretKeyRef == nil) {
			t.Errorf("%s: KAFKA_SASL_PASSWORD is not read from a Secret: %+v", what, e)
		}
	}
	for k, file := range vars {
		if strings.HasSuffix(k, "_LOCATION") && !secretFileAt(pod, c, file) {
			t.Errorf("%s: %s=%s, but no Secret volume mounted there has that file", what, k, file)
		}
	}
}

// secretFileAt reports whether file is a key a Secret volume projects where c mounts it.
func secretFileAt(pod corev1.PodSpec, c corev1.Container, file string) bool {
	dir, name := path.Split(file)
	for _, m := range c.VolumeMounts {
		if m.MountPath != strings.TrimSuffix(dir, "/") || !m.ReadOnly {
			continue
		}
		for _, v := range pod.Volumes {
			if v.Name == m.Name && v.Secret != nil && slices.ContainsFunc(v.Secret.Items, func(i corev1.KeyToPath) bool { return i.Path == name }) {
				return true
			}
		}
	}
	return false
}

func describeVolumes(vs []corev1.Volume) string {
	var out []string
	for _, v := range vs {
		switch {
		case v.Secret != nil:
			mode := "nil"
			if v.Secret.DefaultMode != nil {
				mode = fmt.Sprintf("%#o", *v.Secret.DefaultMode)
			}
			out = append(out, fmt.Sprintf("%s: secret %s items %v mode %s", v.Name, v.Secret.SecretName, v.Secret.Items, mode))
		default:
			out = append(out, fmt.Sprintf("%s: %+v", v.Name, v.VolumeSource))
		}
	}
	return "[" + strings.Join(out, "; ") + "]"
}

// TestKafkaSecurityRefused: the combinations the binaries would refuse at start, and
// security settings in operator mode, fail the render with a message naming the values.
func TestKafkaSecurityRefused(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		set  []string
		want string
	}{
		{"sasl_ssl without username or password", externalKafka("protocol=sasl_ssl"),
			"kafka.external.security.protocol sasl_ssl signs in with SASL: set kafka.external.security.username and passwordSecret"},
		{"sasl_plaintext without a password", externalKafka("protocol=sasl_plaintext", "username=azora"),
			"kafka.external.security.protocol sasl_plaintext signs in with SASL: set kafka.external.security.passwordSecret"},
		{"sasl_ssl without a username", externalKafka("protocol=sasl_ssl", "passwordSecret=azora-kafka"),
			"kafka.external.security.protocol sasl_ssl signs in with SASL: set kafka.external.security.username"},
		{"a CA with plaintext", externalKafka("caSecret=azora-kafka-ca"),
			"kafka.external.security.caSecret is set but protocol plaintext does not use TLS (ssl or sasl_ssl do)"},
		{"a client certificate with sasl_plaintext", externalKafka("protocol=sasl_plaintext", "username=azora", "passwordSecret=azora-kafka", "clientCertSecret=azora-kafka-client"),
			"kafka.external.security.clientCertSecret is set but protocol sasl_plaintext does not use TLS (ssl or sasl_ssl do)"},
		{"a CA and a client certificate with plaintext", externalKafka("caSecret=azora-kafka-ca", "clientCertSecret=azora-kafka-client"),
			"kafka.external.security.caSecret, clientCertSecret are set but protocol plaintext does not use TLS"},
		{"a mechanism with ssl", externalKafka("protocol=ssl", "saslMechanism=PLAIN"),
			"kafka.external.security.saslMechanism is set but protocol ssl does not use SASL (sasl_plaintext or sasl_ssl do)"},
		{"a username with plaintext", externalKafka("username=azora"),
			"kafka.external.security.username is set but protocol plaintext does not use SASL"},
		{"a password with ssl", externalKafka("protocol=ssl", "passwordSecret=azora-kafka"),
			"kafka.external.security.passwordSecret is set but protocol ssl does not use SASL"},
		{"a protocol in operator mode", []string{"kafka.external.security.protocol=sasl_ssl"},
			"kafka.external.security (protocol sasl_ssl) applies to kafka.mode external only"},
		{"a CA in operator mode", []string{"kafka.external.security.caSecret=azora-kafka-ca"},
			"kafka.external.security (caSecret) applies to kafka.mode external only"},
		{"everything in operator mode", []string{"kafka.external.security.protocol=sasl_ssl", "kafka.external.security.username=azora",
			"kafka.external.security.passwordSecret=azora-kafka", "kafka.external.security.clientCertSecret=azora-kafka-client"},
			"kafka.external.security (protocol sasl_ssl, username, passwordSecret, clientCertSecret) applies to kafka.mode external only"},
		{"an unknown protocol", externalKafka("protocol=tls"), "/kafka/external/security/protocol"},
		{"an unknown mechanism", externalKafka("protocol=sasl_ssl", "username=azora", "passwordSecret=azora-kafka", "saslMechanism=SCRAM"),
			"/kafka/external/security/saslMechanism"},
		{"a misspelt security key", externalKafka("caSecrets=azora-kafka-ca"), "caSecrets"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := Render(envOptions("dev", tc.set...))
			if err == nil {
				t.Fatalf("rendered with %v; want a refusal saying %q", tc.set, tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error does not say %q:\n%v", tc.want, err)
			}
		})
	}
}
