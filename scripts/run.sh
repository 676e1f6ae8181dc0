#!/usr/bin/env bash
# run.sh is `make run`: the whole platform on this machine, in the foreground.
#
#   deps (Postgres, Redis) → go build → dev Kafka broker → stripe-mock → migrate → auth →
#   education, finance → gateway → NGINX, each waited for until GET /readyz answers 200;
#   then it prints the URLs and stays until Ctrl-C or SIGTERM, when it stops everything it
#   started, newest first, and only that (a Postgres or Redis it merely found keeps running).
#
# Every variable already in the environment wins; the defaults below apply only when unset:
#   DATABASE_URL, REDIS_URL          servers (see scripts/deps.sh); per-service databases are
#                                    azora_auth|education|finance on DATABASE_URL's server,
#                                    or AUTH_/EDUCATION_/FINANCE_DATABASE_URL verbatim
#   KAFKA_BROKERS                    real brokers; when unset bin/devkafka runs on KAFKA_DEV_ADDR
#                                    (default 127.0.0.1:9092)
#   GATEWAY_/AUTH_/EDUCATION_/FINANCE_HTTP_ADDR   listen addresses (127.0.0.1:4000 … :4003)
#   GATEWAY_REPLICAS (2)             gateway replicas behind NGINX; replica N ≥ 2 listens on
#                                    GATEWAY<N>_HTTP_ADDR (default 127.0.0.1:4004, :4005 …)
#   AUTH_URLS, EDUCATION_URLS, FINANCE_URLS, GATEWAY_URLS, AUTH_JWKS_URL   derived from those
#   STRIPE_SECRET_KEY                unset: stripe-mock on STRIPE_MOCK_ADDR (127.0.0.1:12111)
#                                    and STRIPE_API_BASE pointing at it; STRIPE_MOCK=off skips it
#   LOG_LEVEL (info), LOG_FORMAT (logfmt), OTEL_EXPORTER_OTLP_ENDPOINT, and anything else the
#   services read, passed through untouched. NGINX_* : see scripts/nginx.sh.
#   AZORA_RUN_DIR (.run)  logs in $AZORA_RUN_DIR/logs/<name>.log, pids in …/pids/
#   AZORA_BUILD=0 skips `go build`; AZORA_BIN_DIR (bin) holds the binaries
#   READY_TIMEOUT (60) seconds each component gets to answer /readyz
set -Eeuo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
LOG_PREFIX="run:"

RUN_DIR=${AZORA_RUN_DIR:-$AZORA_STATE}
LOG_DIR=$RUN_DIR/logs
PID_DIR=$RUN_DIR/pids
BIN_DIR=${AZORA_BIN_DIR:-$AZORA_ROOT/bin}
READY_TIMEOUT=${READY_TIMEOUT:-60}
STRIPE_MOCK_VERSION=v0.203.0
GATEWAY_REPLICAS=${GATEWAY_REPLICAS:-2}
[[ $GATEWAY_REPLICAS =~ ^[1-9][0-9]?$ ]] || { echo "run: ERROR: GATEWAY_REPLICAS must be 1-99, got '$GATEWAY_REPLICAS'" >&2; exit 1; }
# The gateway replicas, named gateway, gateway2, gateway3 …: one binary, one address each.
GATEWAYS=(gateway)
for ((n = 2; n <= GATEWAY_REPLICAS; n++)); do GATEWAYS+=("gateway$n"); done
SERVICES=(auth education finance "${GATEWAYS[@]}")

GATEWAY_HTTP_ADDR=${GATEWAY_HTTP_ADDR:-127.0.0.1:4000}
AUTH_HTTP_ADDR=${AUTH_HTTP_ADDR:-127.0.0.1:4001}
EDUCATION_HTTP_ADDR=${EDUCATION_HTTP_ADDR:-127.0.0.1:4002}
FINANCE_HTTP_ADDR=${FINANCE_HTTP_ADDR:-127.0.0.1:4003}
for ((n = 2; n <= GATEWAY_REPLICAS; n++)); do
	v=GATEWAY${n}_HTTP_ADDR
	declare "$v=${!v:-127.0.0.1:$((4002 + n))}"
done
KAFKA_DEV_ADDR=${KAFKA_DEV_ADDR:-127.0.0.1:9092}
STRIPE_MOCK_ADDR=${STRIPE_MOCK_ADDR:-127.0.0.1:12111}
# stripe-mock also serves HTTPS unless told where; keep that on loopback too, next port up.
STRIPE_MOCK_HTTPS_ADDR=${STRIPE_MOCK_HTTPS_ADDR:-$(addr_host "$STRIPE_MOCK_ADDR"):$(($(addr_port "$STRIPE_MOCK_ADDR") + 1))}

# --- process bookkeeping ------------------------------------------------------------------

NAMES=() # what this run started, in start order; PIDS[i] belongs to NAMES[i]
PIDS=()
STOP_REQUESTED=""

# spawn NAME CMD…: starts CMD in the background with its output in $LOG_DIR/NAME.log.
spawn() {
	local name=$1
	shift
	"$@" >"$LOG_DIR/$name.log" 2>&1 </dev/null &
	NAMES+=("$name")
	PIDS+=("$!")
	echo "$!" >"$PID_DIR/$name.pid"
}

cleanup() {
	local rc=$? i
	trap - EXIT INT TERM
	if [ -n "$STOP_REQUESTED" ]; then rc=0; fi
	if [ ${#NAMES[@]} -gt 0 ]; then
		say "stopping ${NAMES[*]}"
		for ((i = ${#NAMES[@]} - 1; i >= 0; i--)); do
			stop_process "${NAMES[i]}" "${PIDS[i]}"
			rm -f "$PID_DIR/${NAMES[i]}.pid"
		done
	fi
	stop_started_deps || rc=1
	rm -f "$RUN_DIR/run.pid"
	say "stopped"
	exit "$rc"
}

# fail_with_log NAME MESSAGE: reports why NAME is not up, with the end of its log, and exits.
fail_with_log() {
	say "ERROR: $2"
	if [ -s "$LOG_DIR/$1.log" ]; then
		say "last lines of $LOG_DIR/$1.log:"
		tail -n 30 "$LOG_DIR/$1.log" | sed 's/^/    /' >&2
	fi
	exit 1
}

pid_of() {
	local i
	for i in "${!NAMES[@]}"; do
		if [ "${NAMES[i]}" = "$1" ]; then echo "${PIDS[i]}"; fi
	done
}

# wait_http NAME URL [ANY]: waits until URL answers 200 (or anything at all when ANY is set)
# while NAME keeps running, for at most READY_TIMEOUT seconds.
wait_http() {
	local name=$1 url=$2 any=${3:-} pid code deadline=$((SECONDS + READY_TIMEOUT))
	pid=$(pid_of "$name")
	while :; do
		code=$(http_status "$url" 2)
		if [ "$code" = 200 ] || { [ -n "$any" ] && [ "$code" != 000 ]; }; then
			say "$name is ready ($url → $code)"
			return 0
		fi
		pid_alive "$pid" || fail_with_log "$name" "$name exited before it was ready (GET $url → $code)"
		[ "$SECONDS" -lt "$deadline" ] || fail_with_log "$name" "$name is not ready after ${READY_TIMEOUT}s: GET $url → $code (set READY_TIMEOUT to wait longer)"
		sleep 0.2
	done
}

# need_port NAME ADDR HINT: fails clearly when something already listens where NAME should.
need_port() {
	if tcp_open "$(addr_host "$2")" "$(addr_port "$2")"; then
		local who
		who=$(ss -ltnpH "sport = :$(addr_port "$2")" 2>/dev/null | grep -o 'users:.*' | head -1 || true)
		die "port $(addr_port "$2") for $1 is already in use${who:+ ($who)}; stop that process or set $3"
	fi
}

url_of() { echo "http://$(addr_host "$1"):$(addr_port "$1")"; }

# addr_of SVC: the listen address of a service (its <SVC>_HTTP_ADDR).
addr_of() {
	local v="${1^^}_HTTP_ADDR"
	echo "${!v}"
}

# --- development secrets ------------------------------------------------------------------
# Secrets a service refuses to start without get a development value here, only when the
# variable is unset. Each is generated once into $AZORA_DEV_SECRETS (mode 600; per user, see
# lib.sh) and reused, so what was sealed or signed with it (TOTP seeds, signing keys) stays
# readable across runs, clones and `make clean`. Production gets them from Vault; nothing here is ever used there.
#   dev_secret NAME BYTES [PREFIX]  exports NAME = PREFIX + BYTES random bytes, base64 (std, padded)
dev_secret() {
	local name=$1 bytes=$2 prefix=${3:-} file=$AZORA_DEV_SECRETS value=""
	[ -z "${!name:-}" ] || return 0
	mkdir -p "$(dirname "$file")"
	if [ -f "$file" ]; then value=$(sed -n "s/^$name=//p" "$file" | tail -n 1); fi
	if [ -z "$value" ]; then
		value=$prefix$(head -c "$bytes" /dev/urandom | base64 | tr -d '\n')
		(umask 077 && echo "$name=$value" >>"$file")
		say "generated a development $name (kept in $file)"
	fi
	export "$name=$value"
}
dev_secrets() {
	# The key-encryption key that seals auth's signing keys and TOTP seeds ("id:key").
	if [ -z "${AUTH_SEAL_KEYS_FILE:-}" ]; then dev_secret AUTH_SEAL_KEYS 32 dev1:; fi
	# The one that seals education's certificate signing key.
	if [ -z "${EDUCATION_SEAL_KEYS_FILE:-}" ]; then dev_secret EDUCATION_SEAL_KEYS 32 dev1:; fi
	# What Stripe (here: scripts/stripe-webhook) signs webhooks with.
	dev_secret STRIPE_WEBHOOK_SECRET 24 whsec_
}

# --- per-service environment --------------------------------------------------------------

# db_url SVC: the service's database: <SVC>_DATABASE_URL, else DATABASE_URL's server with the
# database name ${AZORA_DB_PREFIX}_<svc>.
db_url() {
	local override="${1^^}_DATABASE_URL"
	if [ -n "${!override:-}" ]; then
		echo "${!override}"
	elif [[ $DATABASE_URL == *://* ]]; then
		sed -E "s#^([a-z]+://[^/?]*)(/[^?]*)?(\\?.*)?\$#\\1/${AZORA_DB_PREFIX}_$1\\3#" <<<"$DATABASE_URL"
	else # key=value form
		echo "$(sed -E 's/(^| )dbname=[^ ]*//' <<<"$DATABASE_URL") dbname=${AZORA_DB_PREFIX}_$1"
	fi
}

# svc_env SVC: sets ENV_ARGS to SVC's environment (NAME=value words for env(1)), laid over
# ours. An array rather than a wrapper function, so that `env … binary &` is the service's own
# pid, which SIGTERM reaches.
svc_env() {
	local svc=$1
	ENV_ARGS=()
	# The gateway has no database; DATABASE_URL here is the admin URL of the server.
	[[ $svc != gateway* ]] || ENV_ARGS+=(-u DATABASE_URL)
	ENV_ARGS+=(HTTP_ADDR="$(addr_of "$svc")" LOG_LEVEL="$LOG_LEVEL" LOG_FORMAT="$LOG_FORMAT"
		AUTH_JWKS_URL="$AUTH_JWKS_URL")
	case $svc in
	auth) ENV_ARGS+=(DATABASE_URL="$(db_url auth)" REDIS_URL="$REDIS_URL" KAFKA_BROKERS="$KAFKA_BROKERS") ;;
	education) ENV_ARGS+=(DATABASE_URL="$(db_url education)" KAFKA_BROKERS="$KAFKA_BROKERS") ;;
	finance)
		ENV_ARGS+=(DATABASE_URL="$(db_url finance)" KAFKA_BROKERS="$KAFKA_BROKERS")
		[ -z "${STRIPE_API_BASE:-}" ] || ENV_ARGS+=(STRIPE_API_BASE="$STRIPE_API_BASE")
		;;
	gateway*) ENV_ARGS+=(REDIS_URL="$REDIS_URL" AUTH_URLS="$AUTH_URLS" EDUCATION_URLS="$EDUCATION_URLS"
		FINANCE_URLS="$FINANCE_URLS") ;;
	esac
}

# want_stripe_mock: finance talks to stripe-mock when no real Stripe is configured.
want_stripe_mock() {
	[ -z "${STRIPE_SECRET_KEY:-}" ] && [ -z "${STRIPE_API_BASE:-}" ] && [ "${STRIPE_MOCK:-auto}" != off ]
}

# preflight_ports fails before anything starts when a port this run needs is taken.
preflight_ports() {
	local svc
	for svc in "${SERVICES[@]}"; do
		need_port "$svc" "$(addr_of "$svc")" "${svc^^}_HTTP_ADDR"
	done
	[ -n "${KAFKA_BROKERS:-}" ] || need_port devkafka "$KAFKA_DEV_ADDR" "KAFKA_DEV_ADDR (or KAFKA_BROKERS to use a running broker)"
	if want_stripe_mock; then
		need_port stripe-mock "$STRIPE_MOCK_ADDR" "STRIPE_MOCK_ADDR (or STRIPE_MOCK=off)"
		need_port stripe-mock "$STRIPE_MOCK_HTTPS_ADDR" "STRIPE_MOCK_HTTPS_ADDR"
	fi
	need_port nginx "127.0.0.1:${NGINX_HTTP_PORT:-8080}" "NGINX_HTTP_PORT"
	need_port nginx "127.0.0.1:${NGINX_HTTPS_PORT:-8443}" "NGINX_HTTPS_PORT"
}

# --- steps --------------------------------------------------------------------------------

build() {
	if [ "${AZORA_BUILD:-1}" = 0 ]; then
		say "AZORA_BUILD=0: using the binaries in $BIN_DIR"
		return
	fi
	command -v go >/dev/null || die "go not found: install Go $(sed -n 's/^go //p' "$AZORA_ROOT/go.mod") (https://go.dev/dl) and put it on PATH"
	say "building into $BIN_DIR"
	(cd "$AZORA_ROOT" && go build -o "$BIN_DIR/" ./auth/cmd/auth ./education/cmd/education \
		./finance/cmd/finance ./gateway/cmd/gateway ./scripts/devkafka) || die "go build failed"
}

start_kafka() {
	if [ -n "${KAFKA_BROKERS:-}" ]; then
		say "kafka: using KAFKA_BROKERS=$KAFKA_BROKERS"
		return
	fi
	local addr=$KAFKA_DEV_ADDR line="" deadline=$((SECONDS + 15))
	spawn devkafka env KAFKA_DEV_ADDR="$addr" "$BIN_DIR/devkafka"
	until line=$(grep -m1 'dev kafka broker listening on' "$LOG_DIR/devkafka.log" 2>/dev/null); do
		pid_alive "$(pid_of devkafka)" || fail_with_log devkafka "devkafka exited before it listened"
		[ "$SECONDS" -lt "$deadline" ] || fail_with_log devkafka "devkafka did not report listening within 15s"
		sleep 0.1
	done
	KAFKA_BROKERS=${line##*listening on }
	KAFKA_BROKERS=${KAFKA_BROKERS%% *}
	say "kafka: dev broker ready at $KAFKA_BROKERS"
}

# start_stripe_mock: finance talks to stripe-mock when no real Stripe key is configured.
start_stripe_mock() {
	want_stripe_mock || return 0
	local addr=$STRIPE_MOCK_ADDR https_addr=$STRIPE_MOCK_HTTPS_ADDR bin gobin
	# go install writes to GOBIN, else the first GOPATH entry's bin.
	gobin=$(go env GOBIN 2>/dev/null)
	[ -n "$gobin" ] || gobin=$(go env GOPATH 2>/dev/null | cut -d: -f1)/bin
	if ! bin=$(command -v stripe-mock) && ! bin=$(ls "$gobin/stripe-mock" 2>/dev/null); then
		say "stripe-mock: installing $STRIPE_MOCK_VERSION with go install"
		# GOFLAGS cleared: a project-wide -mod=… would break a module-less install.
		GOFLAGS='' go install "github.com/stripe/stripe-mock@$STRIPE_MOCK_VERSION" >&2 ||
			die "go install github.com/stripe/stripe-mock failed; install it yourself, or set STRIPE_MOCK=off (or STRIPE_SECRET_KEY)"
		bin=$gobin/stripe-mock
	fi
	spawn stripe-mock "$bin" -http-addr "$addr" -https-addr "$https_addr"
	STRIPE_API_BASE=$(url_of "$addr")
	wait_http stripe-mock "$STRIPE_API_BASE/v1/charges" any
}

migrate() {
	local svc
	for svc in auth education finance; do
		svc_env "$svc"
		env "${ENV_ARGS[@]}" "$BIN_DIR/$svc" migrate >"$LOG_DIR/$svc-migrate.log" 2>&1 </dev/null ||
			fail_with_log "$svc-migrate" "$svc migrate failed"
		say "$svc: migrations applied"
	done
}

# start_service SVC…: starts the services, then waits for each to answer /readyz.
start_services() {
	local svc
	for svc in "$@"; do
		svc_env "$svc"
		spawn "$svc" env "${ENV_ARGS[@]}" "$BIN_DIR/${svc%%[0-9]*}"
	done
	for svc in "$@"; do
		wait_http "$svc" "$(url_of "$(addr_of "$svc")")/readyz"
	done
}

# --- main ---------------------------------------------------------------------------------

mkdir -p "$LOG_DIR" "$PID_DIR"
if pid_alive "$(cat "$RUN_DIR/run.pid" 2>/dev/null)"; then
	die "another run.sh (pid $(cat "$RUN_DIR/run.pid")) is using $RUN_DIR; stop it first, or set AZORA_RUN_DIR"
fi
echo $$ >"$RUN_DIR/run.pid"
trap cleanup EXIT
trap 'say "ERROR: unexpected failure (status $?) at scripts/run.sh:$LINENO: $BASH_COMMAND"' ERR
trap 'STOP_REQUESTED=1; exit 0' INT TERM
preflight_ports

# (An assignment, not `eval "$(…)"`: eval would hide deps.sh failing.)
deps_env=$("$AZORA_ROOT/scripts/deps.sh") || exit 1
eval "$deps_env"
export LOG_LEVEL=${LOG_LEVEL:-info} LOG_FORMAT=${LOG_FORMAT:-logfmt}
export AUTH_URLS=${AUTH_URLS:-$(url_of "$AUTH_HTTP_ADDR")}
export EDUCATION_URLS=${EDUCATION_URLS:-$(url_of "$EDUCATION_HTTP_ADDR")}
export FINANCE_URLS=${FINANCE_URLS:-$(url_of "$FINANCE_HTTP_ADDR")}
if [ -z "${GATEWAY_URLS:-}" ]; then
	GATEWAY_URLS=$(for g in "${GATEWAYS[@]}"; do url_of "$(addr_of "$g")"; done | paste -sd,)
fi
export GATEWAY_URLS
export AUTH_JWKS_URL=${AUTH_JWKS_URL:-${AUTH_URLS%%,*}/.well-known/jwks.json}
dev_secrets

build
start_kafka
start_stripe_mock
migrate

# auth first: the others fetch its JWKS; the gateway last, in front of all three.
start_services auth
start_services education finance
start_services "${GATEWAYS[@]}"

https_port=${NGINX_HTTPS_PORT:-8443}
# nginx.sh installs nginx when missing (apt), writes the config and checks it; do that in the
# foreground so its messages and failures show here, then start it.
"$AZORA_ROOT/scripts/nginx.sh" check
spawn nginx "$AZORA_ROOT/scripts/nginx.sh" start
wait_http nginx "https://127.0.0.1:$https_port/readyz"

{
	row() { printf '  %-28s %s\n' "$1" "$2"; }
	echo
	row "https://localhost:$https_port" "NGINX, TLS 1.3 → ${#GATEWAYS[@]} gateway replica(s) (self-signed: curl -k, or trust $AZORA_STATE/certs/localhost.crt)"
	row "http://localhost:${NGINX_HTTP_PORT:-8080}" "NGINX, redirects to https"
	for svc in "${GATEWAYS[@]}" auth education finance; do
		row "$(url_of "$(addr_of "$svc")")" "$svc (/healthz /readyz /metrics)"
	done
	row "$KAFKA_BROKERS" "kafka$([ -z "$(pid_of devkafka)" ] || echo " (dev broker)")"
	[ -z "$(pid_of stripe-mock)" ] || row "$STRIPE_API_BASE" "stripe-mock"
	row "$(url_hostport "$DATABASE_URL" 5432 | tr ' ' :)" "postgres (${AZORA_DB_PREFIX}_auth, _education, _finance)"
	row "$(url_hostport "$REDIS_URL" 6379 | tr ' ' :)" "redis"
	echo
	echo "  logs: $LOG_DIR/<name>.log    Ctrl-C stops everything started here"
	echo
} >&2
say "all services ready"

# Stay in the foreground; a component that dies takes the run down with it, loudly.
while :; do
	for i in "${!NAMES[@]}"; do
		pid_alive "${PIDS[i]}" || fail_with_log "${NAMES[i]}" "${NAMES[i]} (pid ${PIDS[i]}) exited"
	done
	sleep 1 &
	wait $! || true
done
