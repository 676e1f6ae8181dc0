#!/usr/bin/env bash
# bench-transfers.sh prints finance's transfers/s over HTTP (Idempotency-Key, double entry and
# the outbox included; 16 clients, 100 wallets, 10 s) and, in the same run against the same
# Postgres server, pgbench's tpcb-like tps (16 clients, 10 s), and their ratio. It runs
# BenchmarkTransfersVsPgbench, which starts the real finance service on a throwaway database.
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
LOG_PREFIX="bench-transfers:"
cd "$AZORA_ROOT"
command -v pgbench >/dev/null || { { can_apt && apt_install postgresql-contrib; } || die "pgbench not found (Debian: apt-get install postgresql-contrib)"; }
deps_env=$(scripts/deps.sh)
eval "$deps_env"
export TEST_DATABASE_URL="${TEST_DATABASE_URL:-$DATABASE_URL}" TEST_REDIS_URL="${TEST_REDIS_URL:-$REDIS_URL}"
out=$(go test -run '^$' -bench BenchmarkTransfersVsPgbench -benchtime 1x ./finance/cmd/finance/ 2>&1) || { echo "$out" >&2; exit 1; }
line=$(grep '^BenchmarkTransfersVsPgbench' <<<"$out")
metric() { awk -v m="$1" '{for (i = 2; i <= NF; i++) if ($i == m) print $(i-1)}' <<<"$line"; }
printf 'transfers/s over HTTP:  %s\npgbench tpcb-like tps:  %s\nratio:                  %s\n' \
	"$(metric transfers/s)" "$(metric pgbench_tps)" "$(metric ratio)"
