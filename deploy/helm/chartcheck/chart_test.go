package chartcheck

import (
	"encoding/json"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	networkingv1 "istio.io/api/networking/v1"
	securityv1 "istio.io/api/security/v1"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	netv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
)

const chartDir = "../azora"

// environments are the values files CI renders, each on top of values.yaml.
var environments = []string{"dev", "staging", "prod"}

func envOptions(env string, set ...string) Options {
	return Options{
		Chart:      chartDir,
		ValueFiles: []string{filepath.Join(chartDir, "values-"+env+".yaml")},
		Set:        append([]string{"image.tag=1.4.2"}, set...),
	}
}

func TestLintStrict(t *testing.T) {
	t.Parallel()
	cases := map[string]Options{"values.yaml only": {Chart: chartDir, Set: []string{"image.tag=1.4.2"}}}
	for _, env := range environments {
		cases[env] = envOptions(env)
	}
	for name, opts := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			if err := Lint(opts); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// release is one environment's objects, decoded.
type release struct {
	objs    []Object
	decoded map[string]any // "Kind/name" → the typed value
}

func (r release) get(t *testing.T, kind, name string) any {
	t.Helper()
	v, ok := r.decoded[kind+"/"+name]
	if !ok {
		t.Fatalf("%s/%s not rendered; have %v", kind, name, slices.Sorted(maps.Keys(r.decoded)))
	}
	return v
}

func (r release) count(kind string) int {
	n := 0
	for _, o := range r.objs {
		if o.Kind == kind {
			n++
		}
	}
	return n
}

func renderDecoded(t *testing.T, opts Options) release {
	t.Helper()
	objs, err := Render(opts)
	if err != nil {
		t.Fatal(err)
	}
	c, err := NewChecker()
	if err != nil {
		t.Fatal(err)
	}
	r := release{objs: objs, decoded: map[string]any{}}
	for _, o := range objs {
		v, err := c.Check(o)
		if err != nil {
			t.Error(err)
			continue
		}
		key := o.Kind + "/" + o.Name
		if _, dup := r.decoded[key]; dup {
			t.Errorf("%s rendered twice", key)
		}
		r.decoded[key] = v
	}
	if t.Failed() {
		t.FailNow()
	}
	return r
}

// TestEveryObjectDecodesStrictly renders each environment and decodes every object,
// hooks included, strictly into its type.
func TestEveryObjectDecodesStrictly(t *testing.T) {
	t.Parallel()
	want := map[string]map[string]int{
		"dev": {"Deployment": 5, "Service": 5, "Job": 3, "Cluster": 3, "ScheduledBackup": 0, "Kafka": 1, "KafkaNodePool": 1,
			"KafkaTopic": 3, "RedisCluster": 0, "HorizontalPodAutoscaler": 0, "PodDisruptionBudget": 0, "PeerAuthentication": 0,
			"ServiceMonitor": 0, "NetworkPolicy": 7, "Ingress": 1},
		"staging": {"Deployment": 4, "Service": 4, "Job": 3, "Cluster": 3, "ScheduledBackup": 3, "Kafka": 1, "KafkaNodePool": 1,
			"KafkaTopic": 3, "RedisCluster": 1, "HorizontalPodAutoscaler": 4, "PodDisruptionBudget": 4, "PeerAuthentication": 1,
			"AuthorizationPolicy": 5, "DestinationRule": 4, "ServiceEntry": 1, "ServiceMonitor": 1, "NetworkPolicy": 6, "Ingress": 1},
		"prod": {"Deployment": 4, "Service": 4, "Job": 3, "Cluster": 3, "ScheduledBackup": 3, "Kafka": 1, "KafkaNodePool": 1,
			"KafkaTopic": 3, "RedisCluster": 1, "HorizontalPodAutoscaler": 4, "PodDisruptionBudget": 4, "PeerAuthentication": 1,
			"AuthorizationPolicy": 5, "DestinationRule": 4, "ServiceEntry": 1, "ServiceMonitor": 1, "NetworkPolicy": 6, "Ingress": 1},
	}
	for _, env := range environments {
		t.Run(env, func(t *testing.T) {
			t.Parallel()
			r := renderDecoded(t, envOptions(env))
			for kind, n := range want[env] {
				if got := r.count(kind); got != n {
					t.Errorf("%d %s objects, want %d", got, kind, n)
				}
			}
		})
	}
}

// serviceEnv gathers the variables a service's container gets: its ConfigMap, the
// explicit env, and (in dev, where the chart holds them) its Secret.
func serviceEnv(t *testing.T, r release, pod corev1.PodSpec) map[string]string {
	t.Helper()
	env := map[string]string{}
	c := pod.Containers[0]
	for _, from := range c.EnvFrom {
		if from.ConfigMapRef != nil {
			maps.Copy(env, r.get(t, "ConfigMap", from.ConfigMapRef.Name).(*corev1.ConfigMap).Data)
		}
		if from.SecretRef != nil {
			if s, ok := r.decoded["Secret/"+from.SecretRef.Name]; ok {
				maps.Copy(env, s.(*corev1.Secret).StringData)
			}
		}
	}
	for _, e := range c.Env {
		env[e.Name] = e.Value
		if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
			env[e.Name] = "secret:" + e.ValueFrom.SecretKeyRef.Name + "/" + e.ValueFrom.SecretKeyRef.Key
		}
	}
	return env
}

// TestDeploymentsMatchTheBinaries checks what each Deployment gives its binary against
// what cmd/<svc>/main.go and shared/app/config.go require, and the hardening the issue
// asks for.
func TestDeploymentsMatchTheBinaries(t *testing.T) {
	t.Parallel()
	// Variables each binary refuses to start without ("a|b": either). Secrets that come
	// from Secrets made outside the chart (staging, prod) are listed in externalSecrets.
	required := map[string][]string{
		"gateway":   {"HTTP_ADDR", "REDIS_URL|REDIS_ADDRS", "AUTH_JWKS_URL", "AUTH_URLS", "EDUCATION_URLS", "FINANCE_URLS", "AUTH_ISSUER", "TRUSTED_PROXIES"},
		"auth":      {"HTTP_ADDR", "DATABASE_URL", "REDIS_URL|REDIS_ADDRS", "KAFKA_BROKERS", "AUTH_SEAL_KEYS|AUTH_SEAL_KEYS_FILE", "AUTH_ISSUER"},
		"education": {"HTTP_ADDR", "DATABASE_URL", "REDIS_URL|REDIS_ADDRS", "KAFKA_BROKERS", "AUTH_JWKS_URL", "EDUCATION_SEAL_KEYS|EDUCATION_SEAL_KEYS_FILE", "EDUCATION_PUBLIC_URL", "DATABASE_READ_URL"},
		"finance":   {"HTTP_ADDR", "DATABASE_URL", "REDIS_URL|REDIS_ADDRS", "KAFKA_BROKERS", "AUTH_JWKS_URL", "STRIPE_WEBHOOK_SECRET"},
	}
	externalSecrets := map[string]bool{"STRIPE_WEBHOOK_SECRET": true}
	ports := map[string]string{"gateway": ":4000", "auth": ":4001", "education": ":4002", "finance": ":4003"}
	for _, env := range environments {
		t.Run(env, func(t *testing.T) {
			t.Parallel()
			r := renderDecoded(t, envOptions(env))
			for svc := range required {
				d := r.get(t, "Deployment", "azora-"+svc).(*appsv1.Deployment)
				pod := d.Spec.Template.Spec
				c := pod.Containers[0]
				if got := strings.Join(c.Command, " "); got != "/usr/local/bin/"+svc {
					t.Errorf("%s runs %q", svc, got)
				}
				vars := serviceEnv(t, r, pod)
				for _, need := range required[svc] {
					found := false
					for _, alt := range strings.Split(need, "|") {
						_, ok := vars[alt]
						found = found || ok || (env != "dev" && externalSecrets[alt])
					}
					if !found {
						t.Errorf("%s: %s is not set; the binary would not start (have %v)", svc, need, slices.Sorted(maps.Keys(vars)))
					}
				}
				if vars["HTTP_ADDR"] != ports[svc] {
					t.Errorf("%s: HTTP_ADDR %q, want %q", svc, vars["HTTP_ADDR"], ports[svc])
				}
				_, url := vars["REDIS_URL"]
				_, addrs := vars["REDIS_ADDRS"]
				if url == addrs {
					t.Errorf("%s: exactly one of REDIS_URL and REDIS_ADDRS must be set", svc)
				}
				checkHardening(t, svc, pod)
			}
		})
	}
}

func checkHardening(t *testing.T, svc string, pod corev1.PodSpec) {
	t.Helper()
	ps := pod.SecurityContext
	if ps == nil || ps.RunAsNonRoot == nil || !*ps.RunAsNonRoot || ps.RunAsUser == nil || *ps.RunAsUser == 0 {
		t.Errorf("%s: the pod must run as a non-root user", svc)
	}
	for _, c := range pod.Containers {
		sc := c.SecurityContext
		if sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem ||
			sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation ||
			sc.Capabilities == nil || !slices.Contains(sc.Capabilities.Drop, "ALL") {
			t.Errorf("%s/%s: want a read-only root, no privilege escalation, all capabilities dropped; got %+v", svc, c.Name, sc)
		}
		if c.Resources.Requests.Memory().IsZero() || c.Resources.Limits.Memory().IsZero() {
			t.Errorf("%s/%s: memory request and limit are required", svc, c.Name)
		}
	}
	c := pod.Containers[0]
	if c.ReadinessProbe == nil || c.ReadinessProbe.HTTPGet == nil || c.ReadinessProbe.HTTPGet.Path != "/readyz" {
		t.Errorf("%s: readiness must probe /readyz", svc)
	}
	if c.LivenessProbe == nil || c.LivenessProbe.HTTPGet == nil || c.LivenessProbe.HTTPGet.Path != "/healthz" {
		t.Errorf("%s: liveness must probe /healthz", svc)
	}
}

// TestProductionShape checks the differences the issue asks of production: autoscaling
// on CPU and a custom metric, disruption budgets, Istio STRICT mTLS with per-caller
// policies and outlier detection, Vault, the data layer's sizes, TLS and monitoring.
func TestProductionShape(t *testing.T) {
	t.Parallel()
	r := renderDecoded(t, envOptions("prod"))
	for _, svc := range []string{"gateway", "auth", "education", "finance"} {
		h := r.get(t, "HorizontalPodAutoscaler", "azora-"+svc).(*autoscalingv2.HorizontalPodAutoscaler)
		var kinds []string
		for _, m := range h.Spec.Metrics {
			kinds = append(kinds, string(m.Type))
		}
		if !slices.Contains(kinds, "Resource") || !slices.Contains(kinds, "Pods") || *h.Spec.MinReplicas < 3 {
			t.Errorf("%s HPA: metrics %v, min %d; want CPU and a custom metric, at least 3", svc, kinds, *h.Spec.MinReplicas)
		}
		pdb := r.get(t, "PodDisruptionBudget", "azora-"+svc).(*policyv1.PodDisruptionBudget)
		if pdb.Spec.MaxUnavailable == nil || pdb.Spec.MaxUnavailable.IntValue() != 1 {
			t.Errorf("%s PDB: maxUnavailable %v", svc, pdb.Spec.MaxUnavailable)
		}
		d := r.get(t, "Deployment", "azora-"+svc).(*appsv1.Deployment)
		if d.Spec.Replicas != nil {
			t.Errorf("%s: replicas is set beside an HPA, which would fight it", svc)
		}
		ap := r.get(t, "AuthorizationPolicy", "azora-"+svc).(*IstioObject).Spec.(*securityv1.AuthorizationPolicy)
		if ap.Action != securityv1.AuthorizationPolicy_ALLOW || len(ap.Rules) < 2 {
			t.Errorf("%s: want an ALLOW policy with a rule per caller, got %v", svc, ap)
		}
		dr := r.get(t, "DestinationRule", "azora-"+svc).(*IstioObject).Spec.(*networkingv1.DestinationRule)
		if od := dr.GetTrafficPolicy().GetOutlierDetection(); od.GetConsecutive_5XxErrors().GetValue() == 0 || od.GetBaseEjectionTime() == nil {
			t.Errorf("%s: DestinationRule without outlier detection: %v", svc, dr)
		}
	}
	deny := r.get(t, "AuthorizationPolicy", "azora-gateway-deny-public-metrics").(*IstioObject).Spec.(*securityv1.AuthorizationPolicy)
	if deny.Action != securityv1.AuthorizationPolicy_DENY || !slices.Contains(deny.GetRules()[0].GetTo()[0].GetOperation().GetPaths(), "/metrics") {
		t.Errorf("the gateway's /metrics is not denied to NGINX: %v", deny)
	}
	pa := r.get(t, "PeerAuthentication", "azora").(*IstioObject).Spec.(*securityv1.PeerAuthentication)
	if pa.GetMtls().GetMode() != securityv1.PeerAuthentication_MutualTLS_STRICT {
		t.Errorf("PeerAuthentication mode %v, want STRICT", pa.GetMtls().GetMode())
	}
	if d := r.get(t, "Deployment", "azora-auth").(*appsv1.Deployment); d.Spec.Template.Annotations["vault.hashicorp.com/agent-inject"] != "true" {
		t.Error("auth: no Vault Agent injection in prod")
	}
	for _, svc := range []string{"auth", "education", "finance"} {
		c := r.get(t, "Cluster", "azora-"+svc+"-pg").(*PGCluster)
		if c.Spec.Instances != 3 || c.Spec.Backup == nil || c.Spec.Backup.BarmanObjectStore == nil {
			t.Errorf("%s Postgres: %d instances, backup %v; want a primary, 2 replicas and backups", svc, c.Spec.Instances, c.Spec.Backup)
		}
		b := r.get(t, "ScheduledBackup", "azora-"+svc+"-pg-daily").(*PGScheduledBackup)
		if b.Spec.Cluster.Name != "azora-"+svc+"-pg" || b.Spec.Schedule != "0 0 3 * * *" {
			t.Errorf("%s backup: %+v", svc, b.Spec)
		}
	}
	for _, topic := range []string{"auth", "education", "finance"} {
		kt := r.get(t, "KafkaTopic", "azora-kafka-azora."+topic).(*KafkaTopic)
		if kt.Spec.TopicName != "azora."+topic || kt.Spec.Partitions != 12 || kt.Spec.Replicas != 3 ||
			kt.Spec.Config["retention.ms"] != int64(604800000) || kt.Spec.Config["min.insync.replicas"] != int64(2) {
			t.Errorf("topic %s: %+v; want 12 partitions, 3 replicas, 7 days, min.insync.replicas 2", topic, kt.Spec)
		}
	}
	rc := r.get(t, "RedisCluster", "azora-redis").(*RedisCluster)
	if *rc.Spec.RedisLeader.Replicas != 3 || *rc.Spec.RedisFollower.Replicas != 3 {
		t.Errorf("Redis: %d primaries and %d replicas, want 3 and 3", *rc.Spec.RedisLeader.Replicas, *rc.Spec.RedisFollower.Replicas)
	}
	ing := r.get(t, "Ingress", "azora").(*netv1.Ingress)
	if len(ing.Spec.TLS) != 1 || ing.Spec.Rules[0].HTTP.Paths[0].Backend.Service.Name != "azora-gateway" {
		t.Errorf("Ingress: TLS %v, backend %v", ing.Spec.TLS, ing.Spec.Rules[0].HTTP.Paths[0].Backend)
	}
	sm := r.get(t, "ServiceMonitor", "azora").(*monitoringv1.ServiceMonitor)
	if len(sm.Spec.Endpoints) != 1 || sm.Spec.Endpoints[0].Path != "/metrics" {
		t.Errorf("ServiceMonitor endpoints %+v", sm.Spec.Endpoints)
	}
	for _, o := range r.objs {
		if o.Kind != "ConfigMap" || !strings.Contains(o.Name, "-dashboard-") {
			continue
		}
		for file, body := range r.get(t, "ConfigMap", o.Name).(*corev1.ConfigMap).Data {
			var dash struct {
				UID    string `json:"uid"`
				Panels []any  `json:"panels"`
			}
			if err := json.Unmarshal([]byte(body), &dash); err != nil || dash.UID == "" || len(dash.Panels) == 0 {
				t.Errorf("dashboard %s: %v (uid %q, %d panels)", file, err, dash.UID, len(dash.Panels))
			}
		}
	}
}

// TestMigrationHooks: `<svc> migrate` Jobs for the three services with a database, as
// hooks that run before upgrades, and before the install when Postgres exists already.
func TestMigrationHooks(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		opts Options
		hook string
	}{
		{"operator Postgres", envOptions("prod"), "post-install,pre-upgrade"},
		{"external Postgres", envOptions("prod", "postgres.mode=external", "postgres.external.cidrs={10.20.0.0/16}"), "pre-install,pre-upgrade"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := renderDecoded(t, tc.opts)
			for _, svc := range []string{"auth", "education", "finance"} {
				j := r.get(t, "Job", "azora-migrate-"+svc).(*batchv1.Job)
				if got := j.Annotations["helm.sh/hook"]; got != tc.hook {
					t.Errorf("%s: hook %q, want %q", svc, got, tc.hook)
				}
				c := j.Spec.Template.Spec.Containers[0]
				if got := strings.Join(c.Command, " "); got != "/usr/local/bin/"+svc+" migrate" {
					t.Errorf("%s migration runs %q", svc, got)
				}
				checkHardening(t, svc+" migrate", corev1.PodSpec{SecurityContext: j.Spec.Template.Spec.SecurityContext,
					Containers: []corev1.Container{{Name: "migrate", SecurityContext: c.SecurityContext, Resources: c.Resources,
						ReadinessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/readyz"}}},
						LivenessProbe:  &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/healthz"}}}}}})
			}
			for _, o := range r.objs {
				if o.Kind == "Job" && !o.Hook {
					t.Errorf("%s is not a hook", o)
				}
			}
		})
	}
}

// TestNetworkPolicyFlows checks the allowed flows against DESIGN.md's drawing.
func TestNetworkPolicyFlows(t *testing.T) {
	t.Parallel()
	r := renderDecoded(t, envOptions("prod"))
	deny := r.get(t, "NetworkPolicy", "azora-default-deny").(*netv1.NetworkPolicy)
	if len(deny.Spec.Ingress) != 0 || len(deny.Spec.Egress) != 0 || len(deny.Spec.PolicyTypes) != 2 {
		t.Errorf("default deny allows something: %+v", deny.Spec)
	}
	callers := func(np *netv1.NetworkPolicy) []string {
		var out []string
		for _, rule := range np.Spec.Ingress {
			for _, peer := range rule.From {
				if peer.PodSelector != nil && peer.NamespaceSelector == nil {
					out = append(out, peer.PodSelector.MatchLabels["app.kubernetes.io/component"])
				}
			}
		}
		slices.Sort(out)
		return out
	}
	for svc, want := range map[string][]string{
		"gateway":   nil, // only the ingress controller and Prometheus, from their namespaces
		"auth":      {"education", "finance", "gateway"},
		"education": {"gateway"},
		"finance":   {"gateway"},
	} {
		np := r.get(t, "NetworkPolicy", "azora-"+svc).(*netv1.NetworkPolicy)
		if got := callers(np); !slices.Equal(got, want) {
			t.Errorf("%s admits pods %v, want %v", svc, got, want)
		}
		stripe := false
		for _, rule := range np.Spec.Egress {
			for _, p := range rule.To {
				if p.IPBlock != nil && p.IPBlock.CIDR == "0.0.0.0/0" {
					stripe = true
				}
			}
		}
		if stripe != (svc == "finance") {
			t.Errorf("%s: egress to the internet is %v; only finance (Stripe) may", svc, stripe)
		}
	}
}

// TestSchemaRefusesBadValues: values.schema.json (and the chart's cross-field checks)
// make `helm template` fail on bad values, naming the value.
func TestSchemaRefusesBadValues(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		env  string
		set  []string
		want string
	}{
		{"negative replicas", "dev", []string{"services.auth.replicas=-1"}, "/services/auth/replicas"},
		{"zero replicas", "dev", []string{"services.gateway.replicas=0"}, "/services/gateway/replicas"},
		{"unknown environment", "dev", []string{"environment=qa"}, "/environment"},
		{"missing image tag", "dev", []string{"image.tag="}, "/image/tag"},
		{"image tag with a space", "dev", []string{"image.tag=v1 beta"}, "/image/tag"},
		{"latest in prod", "prod", []string{"image.tag=latest"}, "/image/tag"},
		{"Istio without an mTLS mode", "dev", []string{"istio.enabled=true", "istio.mtls.mode="}, "/istio/mtls/mode"},
		{"Istio with mTLS disabled", "dev", []string{"istio.enabled=true", "istio.mtls.mode=DISABLE"}, "/istio/mtls/mode"},
		{"prod with permissive mTLS", "prod", []string{"istio.mtls.mode=PERMISSIVE"}, "/istio/mtls/mode"},
		{"prod without Istio", "prod", []string{"istio.enabled=false"}, "/istio/enabled"},
		{"prod without Vault", "prod", []string{"vault.enabled=false"}, "/vault/enabled"},
		{"secrets in prod values", "prod", []string{"secrets.mode=chart"}, "/secrets/mode"},
		{"prod without TLS", "prod", []string{"ingress.tls.enabled=false"}, "/ingress/tls/enabled"},
		{"prod with one Postgres instance", "prod", []string{"postgres.instances=1"}, "/postgres/instances"},
		{"prod Kafka with min.insync.replicas 1", "prod", []string{"kafka.topics.minInsyncReplicas=1"}, "/kafka/topics/minInsyncReplicas"},
		{"standalone Redis in staging", "staging", []string{"redis.mode=standalone"}, "/redis/mode"},
		{"a misspelt values key", "dev", []string{"services.auth.replica=3"}, "replica"},
		{"an unknown service", "dev", []string{"services.billing.replicas=1"}, "billing"},
		{"unknown log level", "dev", []string{"config.logLevel=verbose"}, "/config/logLevel"},
		{"Redis key prefix with a hash tag", "dev", []string{"config.redisKeyPrefix={azora}"}, "/config/redisKeyPrefix"},
		{"a bad duration", "dev", []string{"config.shutdownTimeout=20"}, "/config/shutdownTimeout"},
		{"a bad memory quantity", "dev", []string{"services.auth.resources.limits.memory=lots"}, "/services/auth/resources/limits/memory"},
		{"existing secrets without names", "dev", []string{"secrets.mode=existing"}, "/secrets/existing"},
		{"backups without a destination", "dev", []string{"postgres.backup.enabled=true"}, "/postgres/backup"},
		{"external Kafka without brokers", "dev", []string{"kafka.mode=external"}, "/kafka/external"},
		{"HPA max below min", "dev", []string{"services.auth.autoscaling.enabled=true", "services.auth.autoscaling.maxReplicas=1", "services.auth.autoscaling.minReplicas=3"}, "maxReplicas (1) is below minReplicas (3)"},
		{"more topic replicas than brokers", "dev", []string{"kafka.topics.replicas=3"}, "exceeds the brokers"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := Render(envOptions(tc.env, tc.set...))
			if err == nil {
				t.Fatalf("rendered with %v; want a refusal naming %s", tc.set, tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error does not name %q:\n%v", tc.want, err)
			}
		})
	}
}

// TestMisspeltFieldFailsCI: a field misspelt in a template makes the check fail, for a
// Kubernetes type, each operator's resources and Istio's. Each case copies the chart,
// misspells one field, and renders and checks it as CI does.
func TestMisspeltFieldFailsCI(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		template, from, to, env string
	}{
		{"deployment.yaml", "readinessProbe:", "readynessProbe:", "dev"},
		{"_helpers.tpl", "readOnlyRootFilesystem: true", "readOnlyRootFileSystem: true", "dev"},
		{"hpa.yaml", "maxReplicas:", "maxReplica:", "prod"},
		{"networkpolicy.yaml", "policyTypes:", "policyType:", "prod"},
		{"postgres.yaml", "enablePDB:", "enablePdb:", "prod"},
		{"postgres.yaml", "retentionPolicy:", "retention:", "prod"},
		{"postgres.yaml", "backupOwnerReference:", "backupOwnerRef:", "prod"},
		{"kafka.yaml", "partitions:", "partition:", "prod"},
		{"kafka.yaml", "kraftMetadata:", "kraftMetaData:", "prod"},
		{"kafka.yaml", "entityOperator:", "entityOperators:", "prod"},
		{"redis-cluster.yaml", "persistenceEnabled:", "persistance:", "prod"},
		{"istio.yaml", "outlierDetection:", "outlierDetections:", "prod"},
		{"istio.yaml", "principals:", "principal:", "prod"},
		{"istio.yaml", "mode: {{ .Values.istio.mtls.mode }}", "mod: {{ .Values.istio.mtls.mode }}", "prod"},
		{"servicemonitor.yaml", "honorLabels:", "honourLabels:", "prod"},
	} {
		t.Run(tc.template+" "+tc.to, func(t *testing.T) {
			t.Parallel()
			dir := copyChart(t)
			path := filepath.Join(dir, "templates", tc.template)
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(b), tc.from) {
				t.Fatalf("%s has no %q", tc.template, tc.from)
			}
			if err := os.WriteFile(path, []byte(strings.Replace(string(b), tc.from, tc.to, 1)), 0o644); err != nil {
				t.Fatal(err)
			}
			opts := envOptions(tc.env)
			opts.Chart = dir
			objs, err := Render(opts)
			if err != nil {
				t.Fatal(err)
			}
			c, err := NewChecker()
			if err != nil {
				t.Fatal(err)
			}
			field := strings.TrimSuffix(strings.Fields(tc.to)[0], ":")
			var failures []string
			for _, o := range objs {
				if _, err := c.Check(o); err != nil {
					failures = append(failures, err.Error())
				}
			}
			if len(failures) == 0 {
				t.Fatalf("%s with %q passed the check", tc.template, tc.to)
			}
			for _, f := range failures {
				if !strings.Contains(f, field) {
					t.Errorf("a failure that does not name %q: %s", field, f)
				}
			}
		})
	}
}

// copyChart copies the chart to a temporary directory.
func copyChart(t *testing.T) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), "azora")
	if err := os.CopyFS(dst, os.DirFS(chartDir)); err != nil {
		t.Fatal(err)
	}
	return dst
}
