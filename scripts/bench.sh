#!/usr/bin/env bash
# bench.sh runs every benchmark of the platform, one after the other, and prints one table of
# what they measured in this run:
#
#   gateway     scripts/bench-gateway.sh: wrk against a trivial upstream directly, through NGINX
#               alone and through the gateway (JWT, rate limit in Redis): rps and p99 per leg
#   transfers   scripts/bench-transfers.sh: finance's transfers/s over HTTP (Idempotency-Key,
#               double entry, outbox; 16 clients, 10 s) and pgbench's tpcb-like tps on the same
#               Postgres (16 clients, 10 s), and their ratio
#   logins      BenchmarkLogin and BenchmarkLoginParallel (auth/cmd/auth): password logins/s
#               over HTTP at auth's production argon2id cost (t=2, m=19 MiB, p=1), one client
#               and 4 clients per CPU
#   events      BenchmarkEventPath (shared/events): an event committed into the outbox, published
#               by the relay to Kafka (kfake), applied by a consumer in its inbox transaction:
#               p50 and p99 from the producer's commit to the consumer's, at 100 and 1000
#               events/s offered
#   rss         BenchmarkServiceRSS (scripts/benchplatform): the whole platform as processes,
#               each service's RSS idle and its peak under a mixed load through NGINX
#               (catalogue reads, logins, wallet reads, transfers)
#
# The pieces run in sequence, never at once: each is CPU-bound, and on a small machine any of
# them running beside another would measure the other. Anything else running on the machine
# skews the figures too.
#
#   scripts/bench.sh
#
#   BENCH_DURATION       wrk's -d per gateway leg, and the length of the mixed load of the RSS
#                        run (default 10s; 10s, 1m or plain seconds)
#   BENCH_LOGIN_TIME     go test -benchtime of each login benchmark (default 5s)
#   BENCH_LOAD_CLIENTS   concurrent clients of the RSS run's mixed load (default 16)
#   BENCH_ONLY           run only these pieces, e.g. "gateway rss" (default: all five)
#   BENCH_KEEP=1         keep the work directory with every piece's full output
#   BENCH_THREADS, BENCH_CONNS, BENCH_WARMUP, BENCH_ROUNDS, BENCH_GATEWAY_LOG_LEVEL
#                        passed to scripts/bench-gateway.sh (see there)
#   BENCH_RUNS           passed to scripts/bench-transfers.sh: runs of which to take the median
#
# Needs Go, and Postgres and Redis as scripts/deps.sh finds or starts them (stopped again on exit
# if it started them); wrk, nginx, pgbench and redis-server are installed with apt when missing
# and running as root on Debian/Ubuntu. The transfers and events pieces have fixed lengths (set
# in their benchmarks). A full run takes about 4 minutes on 2 CPUs, the first one longer (it
# compiles the services, with and without the test harness). The exit status is 1 when a piece
# failed; its rows then say FAILED and the work directory is kept.
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
LOG_PREFIX="bench:"
cd "$AZORA_ROOT"

export BENCH_DURATION=${BENCH_DURATION:-10s}
LOGIN_TIME=${BENCH_LOGIN_TIME:-5s}
PIECES=(gateway transfers logins events rss)
ONLY=${BENCH_ONLY:-${PIECES[*]}}
GO_TIMEOUT=30m

[[ $BENCH_DURATION =~ ^[1-9][0-9]*[smh]?$ ]] || die "BENCH_DURATION must look like 10s, 1m, 30, not '$BENCH_DURATION'"
[[ $LOGIN_TIME =~ ^[1-9][0-9]*(s|m|x)$ ]] || die "BENCH_LOGIN_TIME must be a go -benchtime such as 5s, 1m or 100x, not '$LOGIN_TIME'"
if [ -n "${BENCH_LOAD_CLIENTS:-}" ]; then
	[[ $BENCH_LOAD_CLIENTS =~ ^[1-9][0-9]*$ ]] || die "BENCH_LOAD_CLIENTS must be a positive integer, not '$BENCH_LOAD_CLIENTS'"
fi
read -r -a SELECTED <<<"${ONLY//,/ }"
for p in "${SELECTED[@]}"; do
	[[ " ${PIECES[*]} " == *" $p "* ]] || die "BENCH_ONLY: unknown piece '$p' (pieces: ${PIECES[*]})"
done
selected() { [[ " ${SELECTED[*]} " == *" $1 "* ]]; }

# --- tools and dependencies -----------------------------------------------------------------

command -v go >/dev/null || die "go not found: install Go (see go.mod for the version)"
# need CMD PACKAGE: installs the Debian PACKAGE when CMD is missing (as root on Debian/Ubuntu).
need() {
	command -v "$1" >/dev/null || [ -x "/usr/sbin/$1" ] && return
	{ can_apt && apt_install "$2"; } || die "$1 not found: install it (Debian/Ubuntu: apt-get install $2)"
}
# The RSS run starts a Redis and an NGINX of its own; the other pieces install what they need.
if selected rss; then
	need redis-server redis-server
	need nginx nginx
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/azora-bench.XXXXXX")
AZORA_DEPS_STARTED=""
FAILED=()
cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	stop_started_deps || true
	finish_work_dir "$WORK" "$rc" "output of every piece" "$([ ${#FAILED[@]} -gt 0 ] && echo 1)"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Found or started once here; the pieces find the same servers through DATABASE_URL/REDIS_URL.
deps_env=$(scripts/deps.sh)
eval "$deps_env"
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo "?")
export TEST_DATABASE_URL="${TEST_DATABASE_URL:-$DATABASE_URL}" TEST_REDIS_URL="${TEST_REDIS_URL:-$REDIS_URL}"

# --- running the pieces ---------------------------------------------------------------------

# piece NAME CMD...: runs CMD with its output in $WORK/NAME.log; on failure records NAME as
# failed and shows the end of the log. Never stops the run: the other pieces still measure.
piece() {
	local name=$1 rc=0 start=$SECONDS
	shift
	say "$name: $*"
	"$@" >"$WORK/$name.log" 2>&1 || rc=$?
	if [ "$rc" != 0 ]; then
		FAILED+=("$name")
		say "$name FAILED (exit $rc); the end of $WORK/$name.log:"
		tail -n 25 "$WORK/$name.log" >&2
	else
		say "$name: done in $((SECONDS - start)) s"
	fi
}

gobench() { go test -count 1 -timeout "$GO_TIMEOUT" -run '^$' "$@"; }

selected gateway && piece gateway env BENCH_GATEWAY_RESULTS="$WORK/gateway.results" scripts/bench-gateway.sh
selected transfers && piece transfers scripts/bench-transfers.sh
selected logins && piece logins gobench -bench '^BenchmarkLogin(Parallel)?$' -benchtime "$LOGIN_TIME" ./auth/cmd/auth/
selected events && piece events gobench -bench '^BenchmarkEventPath$' -benchtime 1x ./shared/events/
selected rss && piece rss gobench -bench '^BenchmarkServiceRSS$' -benchtime 1x ./scripts/benchplatform/

# --- reading the results --------------------------------------------------------------------

# metric PIECE BENCH UNIT: the figure reported with UNIT on the result line of benchmark BENCH
# (a Go benchmark name, without its -GOMAXPROCS suffix) in PIECE's output; empty when absent.
metric() {
	[ -f "$WORK/$1.log" ] || return 0
	awk -v b="$2" -v u="$3" '
		{ name = $1; sub(/-[0-9]+$/, "", name) }
		name == b { for (i = 3; i <= NF; i++) if ($i == u) { print $(i - 1); exit } }' "$WORK/$1.log"
}
# gw LEG KEY: a figure of bench-gateway.sh's results file.
gw() {
	[ -f "$WORK/gateway.results" ] || return 0
	awk -v l="leg=$1" -v k="$2" '$1 == l { for (i = 2; i <= NF; i++) if (index($i, k "=") == 1) print substr($i, length(k) + 2) }' "$WORK/gateway.results"
}
# transfers LABEL: the figure after "LABEL:" in bench-transfers.sh's output (its median line).
transfers() {
	[ -f "$WORK/transfers.log" ] || return 0
	sed -n "s|^$1: *||p" "$WORK/transfers.log" | tail -n 1
}
# num X [FORMAT]: X (printed with FORMAT when given) when it is a number, else empty (FAILED,
# missing).
num() {
	[[ ${1:-} =~ ^[0-9]+(\.[0-9]+)?$ ]] || return 0
	# shellcheck disable=SC2059 # the format is one of this script's own literals
	if [ -n "${2:-}" ]; then LC_ALL=C printf "$2\n" "$1"; else echo "$1"; fi
}
# calc FORMAT EXPR VARS...: awk arithmetic on numbers, e.g. calc '%.2f' 'a / b' a=1 b=2; prints
# — instead when a VAR has no value (its figure is missing).
calc() {
	local fmt=$1 expr=$2 v
	shift 2
	for v in "$@"; do
		[ -n "${v#*=}" ] || { echo —; return; }
	done
	awk "$(printf 'BEGIN { %s printf "%s", (%s) }' "$(printf '%s; ' "$@")" "$fmt" "$expr")"
}

ROWS=() # one tab-separated row each: measure, figure, compared with, ratio/target
row() { ROWS+=("$1"$'\t'"$2"$'\t'"$3"$'\t'"$4"); }
# figure PIECE VALUE UNIT: "VALUE UNIT", or why there is none.
figure() {
	if [ -n "$2" ]; then
		echo "$2${3:+ $3}"
	elif ! selected "$1"; then
		echo "not run"
	else
		echo "FAILED"
	fi
}

# gateway, NGINX, direct
d_rps=$(num "$(gw direct rps)") n_rps=$(num "$(gw nginx rps)") g_rps=$(num "$(gw gateway rps)")
d_p99=$(num "$(gw direct p99_ms)") n_p99=$(num "$(gw nginx p99_ms)") g_p99=$(num "$(gw gateway p99_ms)")
gw_ratio="" gw_added=""
if [ -n "$g_rps" ] && [ -n "$n_rps" ]; then
	gw_ratio=$(calc '%.2f' 'g / n' "g=$g_rps" "n=$n_rps")
	gw_ratio="${gw_ratio}× NGINX (target ≥ 0.8×: $(calc '%s' 'r >= 0.8 ? "met" : "NOT met"' "r=$gw_ratio"))"
fi
if [ -n "$g_p99" ] && [ -n "$n_p99" ]; then
	gw_added=$(calc '%+.2f' 'g - n' "g=$g_p99" "n=$n_p99")
	gw_added="$gw_added ms over NGINX (target ≤ +2 ms: $(calc '%s' 'a <= 2 ? "met" : "NOT met"' "a=$gw_added"))"
fi
row "rps, direct (wrk → upstream)" "$(figure gateway "$d_rps" rps)" "—" "—"
row "rps, NGINX → upstream" "$(figure gateway "$n_rps" rps)" "direct ${d_rps:-?} rps" \
	"$(calc '%.2f×' 'n / d' "n=$n_rps" "d=$d_rps")"
row "rps, gateway → upstream (JWT + rate limit)" "$(figure gateway "$g_rps" rps)" "NGINX ${n_rps:-?} rps" "${gw_ratio:-—}"
row "p99, direct" "$(figure gateway "$d_p99" ms)" "—" "—"
row "p99, NGINX → upstream" "$(figure gateway "$n_p99" ms)" "direct ${d_p99:-?} ms" \
	"$(calc '%+.2f ms' 'n - d' "n=$n_p99" "d=$d_p99")"
row "p99, gateway → upstream" "$(figure gateway "$g_p99" ms)" "NGINX ${n_p99:-?} ms" "${gw_added:-—}"

# transfers vs pgbench
t_rate=$(num "$(transfers 'transfers/s over HTTP')" %.1f)
t_tps=$(num "$(transfers 'pgbench tpcb-like tps')" %.1f)
t_ratio=$(num "$(transfers 'ratio')" %.2f)
row "transfers/s over HTTP (16 clients, Idempotency-Key)" "$(figure transfers "$t_rate" transfers/s)" \
	"pgbench tpcb-like ${t_tps:-?} tps (16 clients)" "${t_ratio:+$t_ratio× pgbench}"

# logins
l_one=$(num "$(metric logins BenchmarkLogin logins/s)" %.1f)
l_par=$(num "$(metric logins BenchmarkLoginParallel logins/s)" %.1f)
l_clients=$(num "$(metric logins BenchmarkLoginParallel clients)" %.0f)
row "logins/s, 1 client (argon2id t=2 m=19 MiB p=1, production)" "$(figure logins "$l_one" logins/s)" "—" \
	"$(calc '%.0f ms a login' '1000 / l' "l=$l_one")"
row "logins/s, ${l_clients:-4 per CPU} concurrent clients (same cost)" "$(figure logins "$l_par" logins/s)" "1 client ${l_one:-?}/s" \
	"$(calc '%.2f×' 'p / o' "p=$l_par" "o=$l_one")"

# events, at a light load and near the path's capacity
for rate in 100 1000; do
	ev_bench=BenchmarkEventPath/rate=$rate
	e_p50=$(num "$(metric events "$ev_bench" p50_ms)" %.1f)
	e_p99=$(num "$(metric events "$ev_bench" p99_ms)" %.1f)
	e_rate=$(num "$(metric events "$ev_bench" events/s)" %.0f)
	e_offered=$(num "$(metric events "$ev_bench" offered/s)" %.0f)
	row "event latency p50 at $rate/s, outbox commit → consumer applied" "$(figure events "$e_p50" ms)" \
		"${e_rate:+$e_rate events/s applied of $e_offered offered}" "—"
	row "event latency p99 at $rate/s, outbox commit → consumer applied" "$(figure events "$e_p99" ms)" \
		"${e_rate:+$e_rate events/s applied of $e_offered offered}" "$(calc '%.1f× p50' 'a / b' "a=$e_p99" "b=$e_p50")"
done

# RSS
r_req=$(num "$(metric rss BenchmarkServiceRSS req/s)" %.0f)
r_clients=$(num "$(metric rss BenchmarkServiceRSS clients)" %.0f)
r_t=$(num "$(metric rss BenchmarkServiceRSS argon2_t)" %.0f)
r_kib=$(num "$(metric rss BenchmarkServiceRSS argon2_KiB)" %.0f)
for svc in auth education finance gateway; do
	idle=$(num "$(metric rss BenchmarkServiceRSS "${svc}_idle_MiB")" %.1f)
	peak=$(num "$(metric rss BenchmarkServiceRSS "${svc}_peak_MiB")" %.1f)
	label="RSS $svc, peak under load"
	[ "$svc" != gateway ] || label="RSS gateway, peak under load (larger of 2 replicas)"
	[ "$svc" != auth ] || label="RSS auth, peak under load (argon2id t=${r_t:-?} m=${r_kib:-?} KiB)"
	row "$label" "$(figure rss "$peak" MiB)" "idle ${idle:-?} MiB" \
		"$(calc '%.2f× idle' 'p / i' "p=$peak" "i=$idle")"
done
row "mixed load through NGINX during the RSS run" "$(figure rss "$r_req" req/s)" \
	"${r_clients:-?} clients, ${BENCH_DURATION}, every request 2xx" "—"

# --- the table ------------------------------------------------------------------------------

cpu=$(sed -n 's/^model name[[:space:]]*:[[:space:]]*//p' /proc/cpuinfo 2>/dev/null | head -n 1)
[ -n "$cpu" ] || cpu=$(uname -m)
commit=$(git rev-parse --short HEAD 2>/dev/null || echo "?")
[ -z "$(git status --porcelain --untracked-files=no 2>/dev/null)" ] || commit="$commit+changes"
echo
echo "azora benchmarks — $(date -u '+%Y-%m-%d %H:%M UTC') — nproc $(nproc) — CPU: $cpu — commit $commit"
echo
printf '%s\n' "measure"$'\t'"figure"$'\t'"compared with"$'\t'"ratio / target" "${ROWS[@]}" |
	LC_ALL=C awk -F '\t' '
		# Widths count characters, not bytes: the table holds → × ≥ ≤ and —.
		function len(s) { return length(s) - gsub(/[\200-\277]/, "", s) }
		{ for (i = 1; i <= NF; i++) { cell[NR, i] = $i; if (len($i) > w[i]) w[i] = len($i) } }
		END {
			for (r = 1; r <= NR; r++) {
				line = "|"
				for (i = 1; i <= 4; i++) line = line " " cell[r, i] sprintf("%" (w[i] - len(cell[r, i]) + 2) "s", " |")
				print line
				if (r == 1) {
					line = "|"
					for (i = 1; i <= 4; i++) { dash = ""; for (k = 0; k < w[i] + 2; k++) dash = dash "-"; line = line dash "|" }
					print line
				}
			}
		}'
echo
echo "load average (1, 5, 15 min) before the run: $LOAD_BEFORE; after: $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo "?")."
echo "gateway legs: wrk -t${BENCH_THREADS:-2} -c${BENCH_CONNS:-64} -d$BENCH_DURATION, plain HTTP on 127.0.0.1; everything shares the machine's $(nproc) CPUs with the load generator."
if [ ${#FAILED[@]} -gt 0 ]; then
	say "FAILED: ${FAILED[*]} (output in $WORK)"
	exit 1
fi
