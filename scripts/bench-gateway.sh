#!/usr/bin/env bash
# bench-gateway.sh measures what the gateway costs in front of a service, in one run, with wrk:
#
#   direct    wrk → benchupstream (a trivial upstream answering 200 {"items":[]})
#   nginx     wrk → NGINX alone (deploy/nginx/bench.conf, upstream keep-alive pool) → benchupstream
#   gateway   wrk → gateway (JWT verified at the edge, per-user rate limit in Redis) → benchupstream
#
# Every leg sends the same request, GET /api/v1/enrollments with `Authorization: Bearer <token>`
# (a token benchupstream signs and publishes the key of), with the same wrk settings after a
# short warm-up, over plain HTTP on 127.0.0.1. It prints one table: rps, p50 and p99 per leg and,
# for the gateway, its rps as a fraction of NGINX's and the p99 it adds, against the targets
# (≥ 0.8× NGINX's rps, ≤ 2 ms added p99). A leg with any non-2xx answer fails the run.
#
#   scripts/bench-gateway.sh
#
#   BENCH_THREADS / BENCH_CONNS / BENCH_DURATION   wrk -t / -c / -d (default 2 / 64 / 10s)
#   BENCH_WARMUP          wrk -d of the warm-up before each leg (default 2s)
#   BENCH_ROUNDS          run the three legs this many times, in turn, and report each leg's
#                         median rps, p50 and p99 (default 1; 3 or 5 steady a noisy machine)
#   BENCH_GATEWAY_LOG_LEVEL  the gateway's LOG_LEVEL (default warn: its per-request access-log
#                         line, logged at info, is filtered out, as NGINX's access_log is off)
#   BENCH_STRICT=1        exit 1 when a target is missed (default: report only)
#   BENCH_KEEP=1          keep the work directory (logs, rendered nginx.conf, wrk output)
#   BENCH_GATEWAY_RESULTS=FILE  also write the figures to FILE for scripts/bench.sh, one line a
#                         leg: `leg=nginx rps=41234 p50_ms=1.02 p99_ms=3.40` (rps=FAILED, p50_ms
#                         and p99_ms absent, for a failed leg)
#
# Needs wrk and nginx (installed with apt when missing and root on Debian/Ubuntu), Go, and the
# Redis that scripts/deps.sh finds or starts (stopped again on exit if it started it).
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
LOG_PREFIX="bench-gateway:"
cd "$AZORA_ROOT"

THREADS=${BENCH_THREADS:-2}
CONNS=${BENCH_CONNS:-64}
DURATION=${BENCH_DURATION:-10s}
WARMUP=${BENCH_WARMUP:-2s}
ROUNDS=${BENCH_ROUNDS:-1}
GATEWAY_LOG_LEVEL=${BENCH_GATEWAY_LOG_LEVEL:-warn}
ROUTE=/api/v1/enrollments
TARGET_RATIO=0.8
TARGET_ADDED_P99_MS=2

[[ $THREADS =~ ^[1-9][0-9]*$ ]] || die "BENCH_THREADS must be a positive integer, not '$THREADS'"
[[ $CONNS =~ ^[1-9][0-9]*$ ]] || die "BENCH_CONNS must be a positive integer, not '$CONNS'"
[ "$CONNS" -ge "$THREADS" ] || die "BENCH_CONNS ($CONNS) must be at least BENCH_THREADS ($THREADS)"
[[ $DURATION =~ ^[1-9][0-9]*[smh]?$ ]] || die "BENCH_DURATION must look like 10s, 1m, 30, not '$DURATION'"
[[ $ROUNDS =~ ^[1-9][0-9]*$ ]] || die "BENCH_ROUNDS must be a positive integer, not '$ROUNDS'"
[[ $WARMUP =~ ^[1-9][0-9]*[smh]?$ ]] || die "BENCH_WARMUP must look like 2s, not '$WARMUP'"

# --- tools --------------------------------------------------------------------------------

WRK=$(need_tool wrk "Debian/Ubuntu: sudo apt-get install wrk; macOS: brew install wrk")
NGINX=$(need_tool nginx "Debian/Ubuntu: sudo apt-get install nginx; macOS: brew install nginx")
nginx_version=$("$NGINX" -v 2>&1 | sed -n 's|.*nginx/\([0-9.]*\).*|\1|p')
[ "$(printf '%s\n1.19.5\n' "$nginx_version" | sort -V | head -n1)" = 1.19.5 ] ||
	die "nginx ${nginx_version:-of unknown version} is too old (need 1.19.5+ for -e)"
command -v go >/dev/null || die "go not found: install Go (see go.mod for the version)"
command -v curl >/dev/null || die "curl not found (Debian/Ubuntu: apt-get install curl)"

# --- clean-up -----------------------------------------------------------------------------

WORK=$(mktemp -d "${TMPDIR:-/tmp}/azora-bench-gateway.XXXXXX")
PIDS=()
WRK_PID="" # the wrk running now, if any
AZORA_DEPS_STARTED=""

cleanup() {
	local rc=$? pid
	trap - EXIT INT TERM
	for pid in $WRK_PID "${PIDS[@]}"; do stop_process "pid $pid" "$pid"; done
	wait 2>/dev/null || true
	stop_started_deps || true
	finish_work_dir "$WORK" "$rc" "logs"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# wait_for WHAT PID SECONDS CMD...: polls CMD every 0.1 s until it succeeds; dies when PID
# exits first or time runs out, showing the tail of LOG (the variable) when set.
wait_for() {
	local what=$1 pid=$2 secs=$3 i
	shift 3
	for ((i = 0; i < secs * 10; i++)); do
		"$@" && return 0
		pid_alive "$pid" || die "$what exited; tail of $LOG:"$'\n'"$(tail -n 20 "$LOG")"
		sleep 0.1
	done
	die "$what not ready after ${secs}s; tail of $LOG:"$'\n'"$(tail -n 20 "$LOG")"
}
status_is() { [ "$(http_status "$2")" = "$1" ]; }

# --- build and dependencies ---------------------------------------------------------------

say "go build ./gateway/cmd/gateway ./scripts/benchupstream"
go build -o "$WORK/bin/" ./gateway/cmd/gateway ./scripts/benchupstream
deps_env=$(scripts/deps.sh)
eval "$deps_env"

UP_PORT=$(free_port 127.0.0.1 18100)
NGINX_PORT=$(free_port 127.0.0.1 $((UP_PORT + 1)))
GW_PORT=$(free_port 127.0.0.1 $((NGINX_PORT + 1)))
UP=http://127.0.0.1:$UP_PORT
TOKEN_FILE=$WORK/token

# --- upstream -----------------------------------------------------------------------------

LOG=$WORK/benchupstream.log
"$WORK/bin/benchupstream" -addr "127.0.0.1:$UP_PORT" -issuer "$UP" -audience azora \
	-token-file "$TOKEN_FILE" >"$LOG" 2>&1 &
UP_PID=$!
PIDS+=("$UP_PID")
wait_for benchupstream "$UP_PID" 30 test -s "$TOKEN_FILE"
wait_for benchupstream "$UP_PID" 10 status_is 200 "$UP/readyz"
TOKEN=$(<"$TOKEN_FILE")

# --- NGINX --------------------------------------------------------------------------------

prefix=$WORK/nginx
mkdir -p "$prefix/tmp"
conf=$(<deploy/nginx/bench.conf)
conf=${conf//@@PREFIX@@/$prefix}
conf=${conf//@@LISTEN@@/127.0.0.1:$NGINX_PORT}
conf=${conf//@@UPSTREAM@@/127.0.0.1:$UP_PORT}
conf=${conf//@@WORKER_CONNECTIONS@@/$((CONNS * 2 + 1024))}
conf=${conf//@@KEEPALIVE@@/$CONNS}
[[ $conf != *@@*@@* ]] || die "unrendered placeholder in deploy/nginx/bench.conf"
printf '%s\n' "$conf" >"$prefix/nginx.conf"
nginx_cmd=("$NGINX" -p "$prefix" -e "$prefix/error.log" -c "$prefix/nginx.conf")
out=$("${nginx_cmd[@]}" -t 2>&1) || die "nginx -t rejected $prefix/nginx.conf:"$'\n'"$out"
LOG=$prefix/error.log
"${nginx_cmd[@]}" -g 'daemon off;' >"$WORK/nginx.out" 2>&1 &
NGINX_PID=$!
PIDS+=("$NGINX_PID")
wait_for nginx "$NGINX_PID" 10 status_is 200 "http://127.0.0.1:$NGINX_PORT$ROUTE"

# --- gateway ------------------------------------------------------------------------------

LOG=$WORK/gateway.log
env -u REDIS_ADDRS -u OTEL_EXPORTER_OTLP_ENDPOINT \
	HTTP_ADDR="127.0.0.1:$GW_PORT" \
	AUTH_URLS="$UP" EDUCATION_URLS="$UP" FINANCE_URLS="$UP" \
	AUTH_JWKS_URL="$UP/.well-known/jwks.json" AUTH_ISSUER="$UP" AUTH_AUDIENCE=azora \
	REDIS_URL="$REDIS_URL" REDIS_KEY_PREFIX="azora-bench-$$-$RANDOM:" \
	LOG_LEVEL="$GATEWAY_LOG_LEVEL" \
	GATEWAY_RATE_USER=100000000/1s GATEWAY_TRUSTED_PROXIES="127.0.0.1,::1" GATEWAY_HEALTH_INTERVAL=2s \
	SHUTDOWN_DRAIN_DELAY=0s SHUTDOWN_TIMEOUT=5s \
	"$WORK/bin/gateway" >"$LOG" 2>&1 &
GW_PID=$!
PIDS+=("$GW_PID")
wait_for gateway "$GW_PID" 30 status_is 200 "http://127.0.0.1:$GW_PORT/readyz"

# The gateway forwards only once its health check has seen the upstream: wait (up to 15 s) for a
# 2xx on the benchmarked route, and remember why not if it never comes. A 4xx is final (an unknown
# route, a refused token); no answer or a 5xx may still turn into a 2xx.
gateway_problem=""
gateway_answer() {
	curl -s -o "$WORK/gateway-probe.body" -m 3 -w '%{http_code}' \
		-H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$GW_PORT$ROUTE" 2>/dev/null || true
}
for ((i = 0; i < 150; i++)); do
	code=$(gateway_answer)
	[[ $code == [24]?? ]] && break
	pid_alive "$GW_PID" || break
	sleep 0.1
done
if [[ $code != 2?? ]]; then
	gateway_problem="GET $ROUTE through the gateway answers $code, not 2xx: $(head -c 300 "$WORK/gateway-probe.body" 2>/dev/null)"
	say "$gateway_problem"
	say "running the direct and nginx legs anyway; the gateway leg will fail"
fi

# --- legs ---------------------------------------------------------------------------------

# wrk prints this line at the end of a run: exact counts and latencies in microseconds.
cat >"$WORK/report.lua" <<'EOF'
done = function(summary, latency, requests)
	local e = summary.errors
	io.write(string.format("AZORA_BENCH requests=%.0f duration_us=%.0f p50_us=%.0f p99_us=%.0f non2xx=%.0f connect=%.0f read=%.0f write=%.0f timeout=%.0f\n",
		summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
		e.status, e.connect, e.read, e.write, e.timeout))
end
EOF

# Per leg, the results of each round, space-separated; a leg with a failed round is dropped.
declare -A RPS_RUNS P50_RUNS P99_RUNS
declare -A LEG_FAILED
FAILED=()

# fail_leg NAME WHY: records that leg NAME failed.
fail_leg() {
	LEG_FAILED[$1]=1
	FAILED+=("$1: $2")
}

# run_wrk OUT ARGS...: runs wrk ARGS with its output in OUT. In the background, so that INT and
# TERM reach this script at once (wait is interrupted; the EXIT trap stops wrk) instead of
# after wrk's run.
run_wrk() {
	local out=$1 rc=0
	shift
	"$WRK" "$@" >"$out" 2>&1 &
	WRK_PID=$!
	wait "$WRK_PID" || rc=$?
	WRK_PID=""
	return "$rc"
}

# leg NAME URL ROUND: warm-up, then the measured run; appends to RPS/P50/P99_RUNS[NAME] or
# records a failure.
leg() {
	local name=$1 url=$2 round=$3 line
	[ -z "${LEG_FAILED[$name]:-}" ] || return 0
	local out=$WORK/wrk-$name-$round.txt
	local wrk_args=(-t"$THREADS" -c"$CONNS" --latency -s "$WORK/report.lua" -H "Authorization: Bearer $TOKEN")
	say "round $round/$ROUNDS, $name: warm-up ${WARMUP}, then wrk -t$THREADS -c$CONNS -d$DURATION $url"
	run_wrk "$WORK/wrk-$name-$round-warmup.txt" "${wrk_args[@]}" -d"$WARMUP" "$url" || true
	if ! run_wrk "$out" "${wrk_args[@]}" -d"$DURATION" "$url"; then
		fail_leg "$name" "wrk failed: $(tail -n 3 "$out")"
		return
	fi
	line=$(grep '^AZORA_BENCH ' "$out" | tail -n 1)
	if [ -z "$line" ]; then
		fail_leg "$name" "no result line in wrk's output ($out)"
		return
	fi
	local -A m
	local kv kvs
	read -r -a kvs <<<"${line#AZORA_BENCH }"
	for kv in "${kvs[@]}"; do m[${kv%%=*}]=${kv#*=}; done
	if [ "${m[requests]}" = 0 ]; then
		fail_leg "$name" "no request completed"
		return
	fi
	if [ "${m[non2xx]}" != 0 ]; then
		fail_leg "$name" "${m[non2xx]} of ${m[requests]} answers were not 2xx (wrk's Non-2xx or 3xx count; see $out)"
		return
	fi
	local errors=$((m[connect] + m[read] + m[write] + m[timeout]))
	[ "$errors" = 0 ] || say "WARNING: $name: socket errors: connect ${m[connect]}, read ${m[read]}, write ${m[write]}, timeout ${m[timeout]}"
	RPS_RUNS[$name]+="$(awk -v r="${m[requests]}" -v d="${m[duration_us]}" 'BEGIN { printf "%.0f", r * 1e6 / d }') "
	P50_RUNS[$name]+="$(awk -v u="${m[p50_us]}" 'BEGIN { printf "%.2f", u / 1000 }') "
	P99_RUNS[$name]+="$(awk -v u="${m[p99_us]}" 'BEGIN { printf "%.2f", u / 1000 }') "
}

[ -z "$gateway_problem" ] || fail_leg gateway "$gateway_problem"
# Rounds alternate the legs, so a slow spell of the machine does not land on one leg only.
for ((round = 1; round <= ROUNDS; round++)); do
	leg direct "$UP$ROUTE" "$round"
	leg nginx "http://127.0.0.1:$NGINX_PORT$ROUTE" "$round"
	leg gateway "http://127.0.0.1:$GW_PORT$ROUTE" "$round"
done

# median FORMAT VALUES: the median of the space-separated VALUES, printed with FORMAT.
median() {
	tr ' ' '\n' <<<"$2" | sed '/^$/d' | sort -g |
		awk -v f="$1" '{ a[NR] = $1 } END { printf f "\n", (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'
}
declare -A RPS P50 P99
for name in direct nginx gateway; do
	[ -z "${LEG_FAILED[$name]:-}" ] || continue
	RPS[$name]=$(median %.0f "${RPS_RUNS[$name]}")
	P50[$name]=$(median %.2f "${P50_RUNS[$name]}")
	P99[$name]=$(median %.2f "${P99_RUNS[$name]}")
done

# --- report -------------------------------------------------------------------------------

echo
rounds="one round"
[ "$ROUNDS" = 1 ] || rounds="median of $ROUNDS rounds"
echo "gateway benchmark ($rounds): wrk -t$THREADS -c$CONNS -d$DURATION --latency (after ${WARMUP} warm-up), GET $ROUTE with a bearer token,"
echo "plain HTTP on 127.0.0.1; wrk, NGINX ($nginx_version, worker_processes auto), the gateway and the upstream share $(nproc 2>/dev/null || echo '?') CPUs."
case $GATEWAY_LOG_LEVEL in
warn | error) gw_log="its info-level access log is filtered out, like NGINX's" ;;
*) gw_log="its access log is ON, NGINX's is off" ;;
esac
echo "access logs: NGINX off; gateway LOG_LEVEL=$GATEWAY_LOG_LEVEL ($gw_log)."
echo "gateway: JWT verified at the edge (RS256, revocation list in Redis), per-user rate limit in Redis (GATEWAY_RATE_USER=100000000/1s, never reached)."
echo
printf '%-8s %10s %9s %9s   %s\n' leg rps "p50 ms" "p99 ms" "vs nginx"
verdict=""
for name in direct nginx gateway; do
	[ -n "${RPS[$name]:-}" ] || { printf '%-8s %10s %9s %9s\n' "$name" FAILED - -; continue; }
	extra=""
	if [ "$name" = gateway ] && [ -n "${RPS[nginx]:-}" ]; then
		read -r ratio added ratio_ok p99_ok < <(awk -v g="${RPS[gateway]}" -v n="${RPS[nginx]}" \
			-v gp="${P99[gateway]}" -v np="${P99[nginx]}" -v tr="$TARGET_RATIO" -v ta="$TARGET_ADDED_P99_MS" \
			'BEGIN { r = g / n; a = gp - np; printf "%.2f %+.2f %s %s\n", r, a, (r >= tr ? "met" : "NOT-MET"), (a <= ta ? "met" : "NOT-MET") }')
		extra="${ratio}x rps, ${added} ms p99"
		verdict="targets: rps >= ${TARGET_RATIO}x NGINX: ${ratio_ok/-/ } (${ratio}x); added p99 <= ${TARGET_ADDED_P99_MS} ms: ${p99_ok/-/ } (${added} ms)"
	fi
	printf '%-8s %10s %9s %9s   %s\n' "$name" "${RPS[$name]}" "${P50[$name]}" "${P99[$name]}" "$extra"
done
echo
[ -z "$verdict" ] || echo "$verdict"
if [ -n "${BENCH_GATEWAY_RESULTS:-}" ]; then
	for name in direct nginx gateway; do
		if [ -n "${RPS[$name]:-}" ]; then
			echo "leg=$name rps=${RPS[$name]} p50_ms=${P50[$name]} p99_ms=${P99[$name]}"
		else
			echo "leg=$name rps=FAILED"
		fi
	done >"$BENCH_GATEWAY_RESULTS"
fi
if [ ${#FAILED[@]} -gt 0 ]; then
	for f in "${FAILED[@]}"; do say "FAILED: $f"; done
	exit 1
fi
if [ "${BENCH_STRICT:-}" = 1 ] && [[ $verdict == *NOT* ]]; then
	exit 1
fi
