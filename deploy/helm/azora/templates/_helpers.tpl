{{/*
Names, labels and the environment of each service. Every template ranges over
azora.serviceNames and reads a service's facts from azora.serviceSpec.
*/}}

{{- define "azora.name" -}}
{{- .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* The release's prefix: the release name, with "-azora" unless it already says azora. */}}
{{- define "azora.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 40 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 40 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "azora.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* The four services, in start order. */}}
{{- define "azora.serviceNames" -}}
[gateway, auth, education, finance]
{{- end -}}

{{/* What each binary listens on and needs (cmd/<svc>/main.go, shared/app/config.go). */}}
{{- define "azora.serviceSpecs" -}}
gateway: {port: 4000, postgres: false, kafka: false, jwks: true, seal: false}
auth: {port: 4001, postgres: true, kafka: true, jwks: false, seal: true}
education: {port: 4002, postgres: true, kafka: true, jwks: true, seal: true}
finance: {port: 4003, postgres: true, kafka: true, jwks: true, seal: false}
{{- end -}}

{{/* azora.serviceSpec: (list $ "auth") → the spec map as YAML. */}}
{{- define "azora.serviceSpec" -}}
{{- $specs := include "azora.serviceSpecs" . | fromYaml -}}
{{- index $specs (index . 1) | toYaml -}}
{{- end -}}

{{- define "azora.selectorLabels" -}}
app.kubernetes.io/name: {{ include "azora.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/* Labels of the release's own objects. */}}
{{- define "azora.labels" -}}
{{ include "azora.selectorLabels" . }}
{{ include "azora.commonLabels" . }}
{{- end -}}

{{/* Labels that select nothing: for operator resources, whose pods must stay outside the
app's network policies and PeerAuthentication. */}}
{{- define "azora.commonLabels" -}}
helm.sh/chart: {{ include "azora.chart" . }}
app.kubernetes.io/part-of: azora
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/version: {{ .Values.image.tag | default .Chart.AppVersion | quote }}
azora.io/environment: {{ .Values.environment }}
{{- end -}}

{{/* azora.componentLabels: (list $ "auth") */}}
{{- define "azora.componentLabels" -}}
{{- $ := index . 0 -}}
{{ include "azora.labels" $ }}
app.kubernetes.io/component: {{ index . 1 }}
{{- end -}}

{{- define "azora.componentSelector" -}}
{{- $ := index . 0 -}}
{{ include "azora.selectorLabels" $ }}
app.kubernetes.io/component: {{ index . 1 }}
{{- end -}}

{{- define "azora.image" -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository .Values.image.tag -}}
{{- end -}}
{{- end -}}

{{/* Names of the objects other templates refer to. */}}
{{- define "azora.serviceName" -}}
{{- printf "%s-%s" (include "azora.fullname" (index . 0)) (index . 1) -}}
{{- end -}}
{{- define "azora.pgClusterName" -}}
{{- printf "%s-%s-pg" (include "azora.fullname" (index . 0)) (index . 1) -}}
{{- end -}}
{{- define "azora.kafkaName" -}}
{{- printf "%s-kafka" (include "azora.fullname" .) -}}
{{- end -}}
{{- define "azora.redisName" -}}
{{- printf "%s-redis" (include "azora.fullname" .) -}}
{{- end -}}
{{- define "azora.migrateName" -}}
{{- printf "%s-migrate" (include "azora.fullname" .) -}}
{{- end -}}
{{- define "azora.publicURL" -}}
{{- printf "%s://%s" (ternary "https" "http" .Values.ingress.tls.enabled) .Values.publicHost -}}
{{- end -}}

{{/* The secret a service's variables come from (envFrom). */}}
{{- define "azora.secretName" -}}
{{- $ := index . 0 -}}{{- $svc := index . 1 -}}
{{- if eq $.Values.secrets.mode "existing" -}}
{{- index $.Values.secrets.existing $svc -}}
{{- else -}}
{{- include "azora.serviceName" . -}}
{{- end -}}
{{- end -}}

{{/*
azora.configData: (list $ "auth") → the plain variables of a service, as ConfigMap data.
*/}}
{{- define "azora.configData" -}}
{{- $ := index . 0 -}}{{- $svc := index . 1 -}}
{{- $spec := include "azora.serviceSpec" (list $ $svc) | fromYaml -}}
{{- $values := index $.Values.services $svc -}}
{{- $c := $.Values.config -}}
{{- $env := dict -}}
{{- $_ := set $env "HTTP_ADDR" (printf ":%v" $spec.port) -}}
{{- $_ := set $env "LOG_LEVEL" $c.logLevel -}}
{{- $_ := set $env "LOG_FORMAT" $c.logFormat -}}
{{- if $c.otlpEndpoint }}{{ $_ := set $env "OTEL_EXPORTER_OTLP_ENDPOINT" $c.otlpEndpoint }}{{ end -}}
{{- $_ := set $env "AUTH_ISSUER" ($c.authIssuer | default (include "azora.publicURL" $)) -}}
{{- $_ := set $env "AUTH_AUDIENCE" $c.authAudience -}}
{{- $_ := set $env "REDIS_KEY_PREFIX" $c.redisKeyPrefix -}}
{{- $_ := set $env "TRUSTED_PROXIES" (join "," $c.trustedProxies | default "none") -}}
{{- $_ := set $env "SHUTDOWN_DRAIN_DELAY" $c.shutdownDrainDelay -}}
{{- $_ := set $env "SHUTDOWN_TIMEOUT" $c.shutdownTimeout -}}
{{- if eq $.Values.redis.mode "standalone" -}}
{{- $_ := set $env "REDIS_URL" (printf "redis://%s:6379/0" (include "azora.redisName" $)) -}}
{{- else if eq $.Values.redis.mode "operator" -}}
{{- $r := include "azora.redisName" $ -}}
{{- $_ := set $env "REDIS_ADDRS" (printf "%s-leader:6379,%s-follower:6379" $r $r) -}}
{{- else if $.Values.redis.external.url -}}
{{- $_ := set $env "REDIS_URL" $.Values.redis.external.url -}}
{{- else -}}
{{- $_ := set $env "REDIS_ADDRS" (join "," $.Values.redis.external.addrs) -}}
{{- end -}}
{{- if $spec.kafka -}}
{{- if eq $.Values.kafka.mode "operator" -}}
{{- $_ := set $env "KAFKA_BROKERS" (printf "%s-kafka-bootstrap:9092" (include "azora.kafkaName" $)) -}}
{{- else -}}
{{- $_ := set $env "KAFKA_BROKERS" $.Values.kafka.external.brokers -}}
{{- $ks := $.Values.kafka.external.security | default dict -}}
{{- $proto := $ks.protocol | default "plaintext" -}}
{{- if ne $proto "plaintext" -}}
{{- $_ := set $env "KAFKA_SECURITY_PROTOCOL" $proto -}}
{{- end -}}
{{- if hasPrefix "sasl_" $proto -}}
{{- $_ := set $env "KAFKA_SASL_MECHANISM" ($ks.saslMechanism | default "SCRAM-SHA-512") -}}
{{- $_ := set $env "KAFKA_SASL_USERNAME" $ks.username -}}
{{- end -}}
{{- range $m := include "azora.kafkaFiles" (list $ $svc) | fromYamlArray -}}
{{- range $var, $file := $m.files }}{{ $_ := set $env $var (printf "%s/%s" $m.dir $file) }}{{ end -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- if $spec.jwks -}}
{{- $_ := set $env "AUTH_JWKS_URL" (printf "http://%s:4001/.well-known/jwks.json" (include "azora.serviceName" (list $ "auth"))) -}}
{{- end -}}
{{- if eq $svc "gateway" -}}
{{- range $up := list "auth" "education" "finance" -}}
{{- $upSpec := include "azora.serviceSpec" (list $ $up) | fromYaml -}}
{{- $_ := set $env (printf "%s_URLS" (upper $up)) (printf "http://%s:%v" (include "azora.serviceName" (list $ $up)) $upSpec.port) -}}
{{- end -}}
{{- with $values.corsOrigins }}{{ $_ := set $env "GATEWAY_CORS_ORIGINS" (join "," .) }}{{ end -}}
{{- end -}}
{{- if eq $svc "education" -}}
{{- $_ := set $env "EDUCATION_PUBLIC_URL" (include "azora.publicURL" $) -}}
{{- end -}}
{{- if and (eq $svc "finance") $values.stripeApiBase -}}
{{- $_ := set $env "STRIPE_API_BASE" $values.stripeApiBase -}}
{{- end -}}
{{- if and $spec.seal $.Values.vault.enabled -}}
{{- $_ := set $env (printf "%s_SEAL_KEYS_FILE" (upper $svc)) "/vault/secrets/seal-keys" -}}
{{- end -}}
{{- range $k, $v := $c.extraEnv }}{{ $_ := set $env $k (toString $v) }}{{ end -}}
{{- range $k, $v := $values.env }}{{ $_ := set $env $k (toString $v) }}{{ end -}}
{{- range $k, $v := $env }}
{{ $k }}: {{ $v | toString | quote }}
{{- end -}}
{{- end -}}

{{/*
azora.secretEnv: (list $ "auth") → env entries read from other objects' Secrets: the
CloudNativePG application secret, the Redis password, the external Kafka's SASL password.
*/}}
{{- define "azora.secretEnv" -}}
{{- $ := index . 0 -}}{{- $svc := index . 1 -}}
{{- $spec := include "azora.serviceSpec" (list $ $svc) | fromYaml -}}
{{- if and $spec.postgres (eq $.Values.postgres.mode "operator") -}}
{{- $pg := include "azora.pgClusterName" (list $ $svc) }}
- name: DATABASE_URL
  valueFrom:
    secretKeyRef: {name: {{ $pg }}-app, key: uri}
{{- if eq $svc "education" }}
- name: AZORA_DB_USER
  valueFrom:
    secretKeyRef: {name: {{ $pg }}-app, key: username}
- name: AZORA_DB_PASSWORD
  valueFrom:
    secretKeyRef: {name: {{ $pg }}-app, key: password}
- name: DATABASE_READ_URL
  value: "postgresql://$(AZORA_DB_USER):$(AZORA_DB_PASSWORD)@{{ $pg }}-ro:5432/azora_education"
{{- end }}
{{- end }}
{{- $redisSecret := "" -}}
{{- if eq $.Values.redis.mode "operator" }}{{ $redisSecret = $.Values.redis.cluster.passwordSecret }}{{ end -}}
{{- if eq $.Values.redis.mode "external" }}{{ $redisSecret = $.Values.redis.external.passwordSecret }}{{ end -}}
{{- with $redisSecret }}
- name: REDIS_PASSWORD
  valueFrom:
    secretKeyRef: {name: {{ . }}, key: password}
{{- end }}
{{- if and $spec.kafka (eq $.Values.kafka.mode "external") }}
{{- with ($.Values.kafka.external.security | default dict).passwordSecret }}
- name: KAFKA_SASL_PASSWORD
  valueFrom:
    secretKeyRef: {name: {{ . | quote }}, key: password}
{{- end }}
{{- end }}
{{- end -}}

{{/*
azora.kafkaFiles: (list $ "auth") → the Secrets a service mounts for the external Kafka's
TLS, as a YAML list of {volume, secret, dir, files: {variable: file}}: the brokers' CA
(caSecret) and the client certificate of mutual TLS (clientCertSecret). Empty for the
gateway, and in operator mode. The ConfigMap's *_LOCATION variables, the volumes and their
mounts all come from this list, so the paths cannot drift apart.
*/}}
{{- define "azora.kafkaFiles" -}}
{{- $ := index . 0 -}}{{- $svc := index . 1 -}}
{{- $spec := include "azora.serviceSpec" (list $ $svc) | fromYaml -}}
{{- $files := list -}}
{{- if and $spec.kafka (eq $.Values.kafka.mode "external") -}}
{{- $ks := $.Values.kafka.external.security | default dict -}}
{{- with $ks.caSecret -}}
{{- $files = append $files (dict "volume" "kafka-ca" "secret" . "dir" "/etc/azora/kafka/ca"
  "files" (dict "KAFKA_SSL_CA_LOCATION" "ca.crt")) -}}
{{- end -}}
{{- with $ks.clientCertSecret -}}
{{- $files = append $files (dict "volume" "kafka-client" "secret" . "dir" "/etc/azora/kafka/client"
  "files" (dict "KAFKA_SSL_CERTIFICATE_LOCATION" "tls.crt" "KAFKA_SSL_KEY_LOCATION" "tls.key")) -}}
{{- end -}}
{{- end -}}
{{- toYaml $files -}}
{{- end -}}

{{/* azora.kafkaVolumeMounts: (list $ "auth") → volumeMounts entries for azora.kafkaFiles. */}}
{{- define "azora.kafkaVolumeMounts" -}}
{{- range include "azora.kafkaFiles" . | fromYamlArray }}
- {name: {{ .volume }}, mountPath: {{ .dir }}, readOnly: true}
{{- end -}}
{{- end -}}

{{/* azora.kafkaVolumes: (list $ "auth") → volumes entries for azora.kafkaFiles. Only the
named keys are projected (a missing one keeps the pod from starting, with an event saying
which), readable by the pod's group (fsGroup) alone. */}}
{{- define "azora.kafkaVolumes" -}}
{{- range include "azora.kafkaFiles" . | fromYamlArray }}
- name: {{ .volume }}
  secret:
    secretName: {{ .secret | quote }}
    defaultMode: 0440
    items:
      {{- range $var, $file := .files }}
      - {key: {{ $file }}, path: {{ $file }}}
      {{- end }}
{{- end -}}
{{- end -}}

{{/* Vault Agent annotations for a service that reads seal keys: (list $ "auth" prePopulateOnly) */}}
{{- define "azora.vaultAnnotations" -}}
{{- $ := index . 0 -}}{{- $svc := index . 1 -}}
{{- $path := index $.Values.vault.sealKeys $svc -}}
vault.hashicorp.com/agent-inject: "true"
vault.hashicorp.com/role: {{ $.Values.vault.role | quote }}
{{- with $.Values.vault.authPath }}
vault.hashicorp.com/auth-path: {{ . | quote }}
{{- end }}
vault.hashicorp.com/agent-pre-populate-only: {{ index . 2 | quote }}
vault.hashicorp.com/agent-run-as-user: "65532"
vault.hashicorp.com/agent-inject-secret-seal-keys: {{ $path | quote }}
vault.hashicorp.com/agent-inject-template-seal-keys: {{ printf "{{- with secret %q -}}{{ .Data.data.%s }}{{- end -}}" $path $.Values.vault.field | quote }}
{{- end -}}

{{/* Restricted pod and container security contexts. */}}
{{- define "azora.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: 65532
runAsGroup: 65532
fsGroup: 65532
seccompProfile: {type: RuntimeDefault}
{{- end -}}
{{- define "azora.containerSecurityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
privileged: false
runAsNonRoot: true
capabilities: {drop: [ALL]}
{{- end -}}

{{/* Cross-field checks the schema cannot express. */}}
{{- define "azora.validate" -}}
{{- range $svc := include "azora.serviceNames" . | fromYamlArray -}}
{{- $v := index $.Values.services $svc -}}
{{- if and $v.autoscaling.enabled (lt (int $v.autoscaling.maxReplicas) (int $v.autoscaling.minReplicas)) -}}
{{- fail (printf "services.%s.autoscaling: maxReplicas (%v) is below minReplicas (%v)" $svc $v.autoscaling.maxReplicas $v.autoscaling.minReplicas) -}}
{{- end -}}
{{- end -}}
{{- if and (eq .Values.kafka.mode "operator") (gt (int .Values.kafka.topics.replicas) (int .Values.kafka.replicas)) -}}
{{- fail (printf "kafka.topics.replicas (%v) exceeds the brokers (kafka.replicas %v)" .Values.kafka.topics.replicas .Values.kafka.replicas) -}}
{{- end -}}
{{- if gt (int .Values.kafka.topics.minInsyncReplicas) (int .Values.kafka.topics.replicas) -}}
{{- fail (printf "kafka.topics.minInsyncReplicas (%v) exceeds the topic replicas (%v)" .Values.kafka.topics.minInsyncReplicas .Values.kafka.topics.replicas) -}}
{{- end -}}
{{- if and .Values.monitoring.serviceMonitor.istioTLS (not .Values.istio.enabled) -}}
{{- fail "monitoring.serviceMonitor.istioTLS needs istio.enabled" -}}
{{- end -}}
{{- include "azora.validateKafkaSecurity" . -}}
{{- end -}}

{{/*
kafka.external.security against kafka.mode and its own protocol. The binaries refuse the
same combinations at start (shared/app/config.go); failing here stops them at install
instead of in a crash loop.
*/}}
{{- define "azora.validateKafkaSecurity" -}}
{{- $ks := .Values.kafka.external.security | default dict -}}
{{- $proto := $ks.protocol | default "plaintext" -}}
{{- $sasl := hasPrefix "sasl_" $proto -}}
{{- $tls := or (eq $proto "ssl") (eq $proto "sasl_ssl") -}}
{{- $set := list -}}
{{- if ne $proto "plaintext" }}{{ $set = append $set (printf "protocol %s" $proto) }}{{ end -}}
{{- range $k := list "saslMechanism" "username" "passwordSecret" "caSecret" "clientCertSecret" -}}
{{- if index $ks $k }}{{ $set = append $set $k }}{{ end -}}
{{- end -}}
{{- if eq .Values.kafka.mode "operator" -}}
{{- if $set -}}
{{- fail (printf "kafka.external.security (%s) applies to kafka.mode external only: the chart's own Kafka (operator mode) is reached on its plain listener inside the cluster, with Istio's mTLS around it in staging and prod; unset it, or use kafka.mode external" (join ", " $set)) -}}
{{- end -}}
{{- else -}}
{{- $missing := list -}}
{{- $noSASL := list -}}
{{- range $k := list "saslMechanism" "username" "passwordSecret" -}}
{{- if and $sasl (ne $k "saslMechanism") (not (index $ks $k)) }}{{ $missing = append $missing $k }}{{ end -}}
{{- if and (not $sasl) (index $ks $k) }}{{ $noSASL = append $noSASL $k }}{{ end -}}
{{- end -}}
{{- if $missing -}}
{{- fail (printf "kafka.external.security.protocol %s signs in with SASL: set kafka.external.security.%s" $proto (join " and " $missing)) -}}
{{- end -}}
{{- if $noSASL -}}
{{- fail (printf "kafka.external.security.%s %s set but protocol %s does not use SASL (sasl_plaintext or sasl_ssl do)" (join ", " $noSASL) (ternary "are" "is" (gt (len $noSASL) 1)) $proto) -}}
{{- end -}}
{{- $noTLS := list -}}
{{- range $k := list "caSecret" "clientCertSecret" -}}
{{- if and (not $tls) (index $ks $k) }}{{ $noTLS = append $noTLS $k }}{{ end -}}
{{- end -}}
{{- if $noTLS -}}
{{- fail (printf "kafka.external.security.%s %s set but protocol %s does not use TLS (ssl or sasl_ssl do)" (join ", " $noTLS) (ternary "are" "is" (gt (len $noTLS) 1)) $proto) -}}
{{- end -}}
{{- end -}}
{{- end -}}
