#!/usr/bin/env bash
# bench-transfers.sh prints finance's transfers/s over HTTP (Idempotency-Key, double entry and
# the outbox included; 16 clients, 100 wallets, 10 s) and, in the same run against the same
# Postgres server, pgbench's tpcb-like tps (16 clients, 10 s), and their ratio. It runs
# BenchmarkTransfersVsPgbench, which starts the real finance service on a throwaway database.
#
# Both rates are CPU-bound on a small machine, so anything else running skews them (and each
# phase differently): BENCH_RUNS=N (default 1) runs it N times and prints each run and the
# median of each figure.
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
LOG_PREFIX="bench-transfers:"
cd "$AZORA_ROOT"
command -v pgbench >/dev/null || { { can_apt && apt_install postgresql-contrib; } || die "pgbench not found (Debian: apt-get install postgresql-contrib)"; }
deps_env=$(scripts/deps.sh)
eval "$deps_env"
export TEST_DATABASE_URL="${TEST_DATABASE_URL:-$DATABASE_URL}" TEST_REDIS_URL="${TEST_REDIS_URL:-$REDIS_URL}"
runs=${BENCH_RUNS:-1}
[[ $runs =~ ^[1-9][0-9]*$ ]] || die "BENCH_RUNS must be a positive integer, got '$runs'"
out=$(go test -run '^$' -bench BenchmarkTransfersVsPgbench -benchtime 1x -count "$runs" ./finance/cmd/finance/ 2>&1) || { echo "$out" >&2; exit 1; }
lines=$(grep '^BenchmarkTransfersVsPgbench' <<<"$out") || { echo "$out" >&2; die "no benchmark result"; }
# metric M prints metric M of every run, one a line.
metric() { awk -v m="$1" '{for (i = 2; i <= NF; i++) if ($i == m) print $(i-1)}' <<<"$lines"; }
median() { sort -g | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
if [ "$runs" -gt 1 ]; then
	paste <(metric transfers/s) <(metric pgbench_tps) <(metric ratio) |
		awk '{printf "run %d: %s transfers/s, %s pgbench tps, ratio %s\n", NR, $1, $2, $3}'
	printf 'median of %d runs:\n' "$runs"
fi
printf 'transfers/s over HTTP:  %s\npgbench tpcb-like tps:  %s\nratio:                  %s\n' \
	"$(metric transfers/s | median)" "$(metric pgbench_tps | median)" "$(metric ratio | median)"
