#!/usr/bin/env bash
# smoke.sh proves that `make run` works on this machine: it starts scripts/run.sh in the
# background, waits for "all services ready", then checks
#   - GET /healthz, /readyz and /metrics answer 200 on both gateway replicas, auth, education and finance;
#   - NGINX: https://127.0.0.1:<https>/healthz answers 200 over HTTP/2 and TLS 1.3, refuses
#     TLS 1.2, returns an X-Request-ID and HSTS; http://127.0.0.1:<http>/… answers 301 to the
#     same path on https;
# then stops run.sh with SIGTERM and checks it exits 0 and that no process it started (and no
# Postgres/Redis it started) is still running. Exit status 1 with the reason on any failure.
#
# Ports: the defaults (4000-4004, 8080, 8443, 9092, 12111-12112) when all are free, else a free
# block elsewhere, so it runs beside a `make run` (SMOKE_PORTS=default makes a taken default
# port an error instead). Logs: .run/smoke/logs/, run.sh's own output in .run/smoke/run.log.
# SMOKE_TIMEOUT (300) bounds the start-up, `go build` included.
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
LOG_PREFIX="smoke:"

export AZORA_RUN_DIR=${AZORA_RUN_DIR:-$AZORA_STATE/smoke}
RUN_LOG=$AZORA_RUN_DIR/run.log
TIMEOUT=${SMOKE_TIMEOUT:-300}
SERVICES=(gateway gateway2 auth education finance)
FAILS=0
RUN_PID=""

fail() {
	say "FAIL: $*"
	FAILS=$((FAILS + 1))
}
ok() { say "ok: $*"; }

# --- ports --------------------------------------------------------------------------------
names=(GATEWAY AUTH EDUCATION FINANCE NGINX_HTTP NGINX_HTTPS KAFKA STRIPE STRIPE_HTTPS GATEWAY2)
defaults=(4000 4001 4002 4003 8080 8443 9092 12111 12112 4004)
[ -z "${KAFKA_BROKERS:-}" ] || { unset 'names[6]' 'defaults[6]'; }
taken=()
for i in "${!names[@]}"; do
	if tcp_open 127.0.0.1 "${defaults[i]}"; then taken+=("${defaults[i]}"); fi
done
declare -A port
if [ ${#taken[@]} = 0 ]; then
	for i in "${!names[@]}"; do port[${names[i]}]=${defaults[i]}; done
elif [ "${SMOKE_PORTS:-auto}" = default ]; then
	die "default ports in use: ${taken[*]} (another make run?); stop it or unset SMOKE_PORTS to use other ports"
else
	p=$((20000 + $$ % 20000))
	for n in "${names[@]}"; do
		p=$(free_port 127.0.0.1 "$p") || die "no free port found"
		port[$n]=$p
		p=$((p + 1))
	done
	say "default ports in use (${taken[*]}); using $(for n in "${names[@]}"; do printf '%s=%s ' "$n" "${port[$n]}"; done)"
fi
export GATEWAY_REPLICAS=2 GATEWAY_HTTP_ADDR=127.0.0.1:${port[GATEWAY]} GATEWAY2_HTTP_ADDR=127.0.0.1:${port[GATEWAY2]} AUTH_HTTP_ADDR=127.0.0.1:${port[AUTH]} \
	EDUCATION_HTTP_ADDR=127.0.0.1:${port[EDUCATION]} FINANCE_HTTP_ADDR=127.0.0.1:${port[FINANCE]} \
	NGINX_HTTP_PORT=${port[NGINX_HTTP]} NGINX_HTTPS_PORT=${port[NGINX_HTTPS]} \
	STRIPE_MOCK_ADDR=127.0.0.1:${port[STRIPE]} STRIPE_MOCK_HTTPS_ADDR=127.0.0.1:${port[STRIPE_HTTPS]}
[ -n "${KAFKA_BROKERS:-}" ] || export KAFKA_DEV_ADDR=127.0.0.1:${port[KAFKA]}
# Derived from the addresses above by run.sh; a value left in the environment would point the
# smoke run at another instance.
unset AUTH_URLS EDUCATION_URLS FINANCE_URLS GATEWAY_URLS AUTH_JWKS_URL NGINX_BIND

# Its own databases and development secrets, so a smoke run never meets (nor leaves behind)
# anyone's data: created by deps.sh under this prefix, dropped on exit.
export AZORA_DB_PREFIX="azora_smoke_$$_$RANDOM"
export AZORA_DEV_SECRETS="$AZORA_RUN_DIR/dev-secrets.env"
unset AUTH_SEAL_KEYS AUTH_SEAL_KEYS_FILE AUTH_DATABASE_URL EDUCATION_DATABASE_URL FINANCE_DATABASE_URL

drop_databases() {
	local url=${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable} db
	command -v psql >/dev/null || return 0
	for db in auth education finance; do
		psql "$url" -X -q -c "DROP DATABASE IF EXISTS ${AZORA_DB_PREFIX}_$db WITH (FORCE)" >/dev/null 2>&1 ||
			say "warning: could not drop database ${AZORA_DB_PREFIX}_$db"
	done
}

# --- start --------------------------------------------------------------------------------
stop_run() {
	[ -n "$RUN_PID" ] || return 0
	kill -TERM "$RUN_PID" 2>/dev/null || true
	local i
	for i in $(seq 300); do pid_alive "$RUN_PID" || break; sleep 0.1; done
	RUN_STATUS=0
	wait "$RUN_PID" || RUN_STATUS=$?
	RUN_PID=""
}
on_exit() {
	local rc=$?
	trap - EXIT
	if [ -n "$RUN_PID" ]; then
		stop_run
		if [ "$rc" != 0 ]; then
			say "last lines of $RUN_LOG:"
			tail -n 40 "$RUN_LOG" | sed 's/^/    /' >&2
		fi
	fi
	drop_databases
	exit "$rc"
}
trap on_exit EXIT
trap 'exit 1' INT TERM

mkdir -p "$AZORA_RUN_DIR"
say "starting scripts/run.sh (output in $RUN_LOG)"
"$AZORA_ROOT/scripts/run.sh" >"$RUN_LOG" 2>&1 </dev/null &
RUN_PID=$!
deadline=$((SECONDS + TIMEOUT))
until grep -q 'run: all services ready' "$RUN_LOG"; do
	if ! pid_alive "$RUN_PID"; then
		RUN_STATUS=0
		wait "$RUN_PID" || RUN_STATUS=$?
		RUN_PID=""
		say "run.sh exited with status $RUN_STATUS before everything was ready:"
		tail -n 40 "$RUN_LOG" | sed 's/^/    /' >&2
		exit 1
	fi
	[ "$SECONDS" -lt "$deadline" ] || die "not ready after ${TIMEOUT}s (SMOKE_TIMEOUT)"
	sleep 0.5
done
ok "run.sh reports all services ready after ${SECONDS}s"

# --- checks -------------------------------------------------------------------------------
for svc in "${SERVICES[@]}"; do
	p=${port[${svc^^}]}
	for path in /healthz /readyz /metrics; do
		code=$(http_status "http://127.0.0.1:$p$path" 5)
		if [ "$code" = 200 ]; then ok "$svc GET :$p$path → 200"; else fail "$svc GET http://127.0.0.1:$p$path → $code, want 200"; fi
	done
done

https=https://127.0.0.1:${port[NGINX_HTTPS]}
headers=$(curl -ks -m 5 -D - -o /dev/null -H 'X-Request-ID: smoke-1' -w 'http_version=%{http_version}\n' "$https/healthz" || true)
code=$(sed -n 's/^HTTP\/[0-9.]* \([0-9]*\).*/\1/p' <<<"$headers" | tail -n 1)
if [ "$code" = 200 ]; then ok "NGINX GET $https/healthz → 200"; else fail "NGINX GET $https/healthz → ${code:-no answer}, want 200"; fi
if grep -q '^http_version=2' <<<"$headers"; then ok "NGINX speaks HTTP/2"; else fail "NGINX did not answer over HTTP/2"; fi
if grep -qi '^x-request-id: smoke-1' <<<"$headers"; then ok "NGINX keeps the client's X-Request-ID"; else fail "NGINX response lacks X-Request-ID: smoke-1"; fi
if grep -qi '^strict-transport-security: max-age=' <<<"$headers"; then ok "NGINX sends HSTS"; else fail "NGINX response lacks Strict-Transport-Security"; fi
if curl -ks -m 5 --tlsv1.3 -o /dev/null "$https/healthz"; then ok "NGINX accepts TLS 1.3"; else fail "NGINX refused TLS 1.3"; fi
if curl -ks -m 5 --tls-max 1.2 -o /dev/null "$https/healthz" 2>/dev/null; then fail "NGINX accepted TLS 1.2"; else ok "NGINX refuses TLS 1.2"; fi

redirect=$(curl -s -m 5 -o /dev/null -w '%{http_code} %{redirect_url}' "http://127.0.0.1:${port[NGINX_HTTP]}/healthz?x=1" || true)
want="301 $https/healthz?x=1"
if [ "$redirect" = "$want" ]; then ok "NGINX :${port[NGINX_HTTP]} redirects: $redirect"; else fail "NGINX plain HTTP answered '$redirect', want '$want'"; fi

# The API end to end: client → NGINX → gateway → service and back.
code=$(curl -ks -m 10 -o /dev/null -w '%{http_code}' "$https/api/v1/courses" || true)
if [ "$code" = 200 ]; then ok "NGINX → gateway → education: GET /api/v1/courses → 200"; else fail "GET $https/api/v1/courses → ${code:-no answer}, want 200"; fi
code=$(curl -ks -m 10 -o /dev/null -w '%{http_code}' "$https/api/v1/auth/me" || true)
if [ "$code" = 401 ]; then ok "the gateway refuses GET /api/v1/auth/me without a token → 401"; else fail "GET $https/api/v1/auth/me without a token → ${code:-no answer}, want 401"; fi
code=$(curl -ks -m 10 -o /dev/null -w '%{http_code}' "$https/api/v1/openapi.json" || true)
if [ "$code" = 200 ]; then ok "the gateway serves /api/v1/openapi.json"; else fail "GET $https/api/v1/openapi.json → ${code:-no answer}, want 200"; fi

# --- stop, and nothing left behind -------------------------------------------------------
pids=()
for f in "$AZORA_RUN_DIR"/pids/*.pid; do
	if [ -s "$f" ]; then pids+=("$(basename "$f" .pid):$(cat "$f")"); fi
done
[ ${#pids[@]} -gt 0 ] || fail "no pid files in $AZORA_RUN_DIR/pids"
stop_run
if [ "$RUN_STATUS" = 0 ]; then ok "run.sh stopped on SIGTERM with status 0"; else fail "run.sh exited with status $RUN_STATUS on SIGTERM"; fi
for np in "${pids[@]}"; do
	if pid_alive "${np#*:}"; then fail "${np%%:*} (pid ${np#*:}) still running after run.sh stopped"; fi
done
for svc in "${SERVICES[@]}"; do
	p=${port[${svc^^}]}
	if tcp_open 127.0.0.1 "$p"; then fail "port $p ($svc) still open after run.sh stopped"; fi
done
for n in NGINX_HTTP NGINX_HTTPS KAFKA STRIPE; do
	if [ -n "${port[$n]:-}" ] && tcp_open 127.0.0.1 "${port[$n]}"; then fail "port ${port[$n]} ($n) still open after run.sh stopped"; fi
done
# A Postgres or Redis that run.sh started (deps.sh logs "starting … on 127.0.0.1:PORT") must be gone.
while read -r what p; do
	if tcp_open 127.0.0.1 "$p"; then fail "the $what run.sh started on port $p is still running"; fi
done < <(sed -n 's/^deps: \([a-z]*\): starting .* on 127\.0\.0\.1:\([0-9]*\).*/\1 \2/p' "$RUN_LOG")
[ "$FAILS" -gt 0 ] || ok "nothing started by run.sh is left running (${#pids[@]} processes checked)"

if [ "$FAILS" -gt 0 ]; then
	say "$FAILS check(s) failed; logs in $AZORA_RUN_DIR/logs and $RUN_LOG"
	exit 1
fi
say "PASS: make run starts everything, every /readyz answers 200, NGINX serves TLS 1.3 and redirects, the API answers through it, and everything stops"
