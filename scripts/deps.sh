#!/usr/bin/env bash
# deps.sh finds or starts the PostgreSQL and Redis that Azora needs, and creates the three
# service databases. Progress goes to stderr, one line per step; stdout carries only `export`
# lines, so the usual call is
#
#   eval "$(scripts/deps.sh)"     # sets DATABASE_URL, REDIS_URL, AZORA_DEPS_STARTED
#   scripts/deps.sh stop [pg] [redis]   # stops servers deps.sh started under .run/deps
#   scripts/deps.sh tools               # the programs `make test` runs beside Go (below)
#
# For each server, in order:
#   1. DATABASE_URL / REDIS_URL when set: used if they answer, otherwise an error (an explicit
#      address is never silently replaced by another server);
#   2. the default 127.0.0.1:5432 / 127.0.0.1:6379 when they answer;
#   3. a server this script started earlier under .run/deps, if still running;
#   4. a new server from the installed binaries, data under .run/deps, on the default port when
#      free (else the next free one);
#   5. as root on Debian/Ubuntu, `apt-get install postgresql` / `redis-server`, then step 4;
#   6. otherwise: what to install, and exit status 1.
# AZORA_DEPS_STARTED lists the servers this call started (pg, redis) so the caller can stop
# exactly those and nothing it merely found.
#
# The Postgres started here is a throwaway developer server: trust auth on 127.0.0.1 only, and
# fsync off for speed (a machine crash may corrupt it; `make clean` wipes it).
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
LOG_PREFIX="deps:"

DEFAULT_DATABASE_URL="postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
DEFAULT_REDIS_URL="redis://127.0.0.1:6379/0"
DATABASES=("${AZORA_DB_PREFIX}_auth" "${AZORA_DB_PREFIX}_education" "${AZORA_DB_PREFIX}_finance")
DEPS_DIR=$AZORA_STATE/deps
REDIS_DIR=$DEPS_DIR/redis

# --- PostgreSQL ---------------------------------------------------------------------------

pg_answers() {
	if command -v pg_isready >/dev/null; then
		pg_isready -q -t 3 -d "$1"
	else
		# shellcheck disable=SC2046
		tcp_open $(url_hostport "$1" 5432)
	fi
}

# pg_bin_dir prints the directory holding initdb/pg_ctl/postgres, newest version first.
pg_bin_dir() {
	local d
	if d=$(command -v initdb 2>/dev/null) && [ -x "$(dirname "$d")/pg_ctl" ]; then
		dirname "$(readlink -f "$d")"
		return
	fi
	# shellcheck disable=SC2012 # plain paths; ls sorts them for sort -V
	for d in $(ls -d /usr/lib/postgresql/*/bin /usr/pgsql-*/bin 2>/dev/null | sort -V -r); do
		[ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ] && { echo "$d"; return; }
	done
	return 1
}

# pg_data_dir prints where the local server keeps its data. Postgres refuses to run as root, so
# as root it runs as the `postgres` user, which must be able to reach the directory; when the
# checkout is private to root it falls back to a directory under postgres's home.
pg_data_dir() {
	if ! is_root; then
		echo "$DEPS_DIR/pg"
		return
	fi
	id postgres >/dev/null 2>&1 || die "running as root, but there is no 'postgres' user to run a local Postgres as (install the postgresql package, or set DATABASE_URL)"
	mkdir -p "$DEPS_DIR"
	if runuser -u postgres -- test -x "$DEPS_DIR"; then
		echo "$DEPS_DIR/pg"
	else
		echo "$(getent passwd postgres | cut -d: -f6)/azora-$(echo "$AZORA_ROOT" | cksum | cut -d' ' -f1)"
	fi
}

# as_pg runs a Postgres tool as the user the server runs as; from / because the current
# directory may be unreadable to that user.
as_pg() {
	if is_root; then (cd / && runuser -u postgres -- "$@"); else "$@"; fi
}

pg_start_local() {
	local bin data port
	if ! bin=$(pg_bin_dir); then
		if can_apt; then
			apt_install postgresql postgresql-client || die "apt-get install postgresql failed"
			bin=$(pg_bin_dir) || die "postgresql installed, but initdb/pg_ctl not found"
		else
			die "no PostgreSQL found: start one and set DATABASE_URL, or install PostgreSQL 15+ server binaries (Debian/Ubuntu: apt-get install postgresql; macOS: brew install postgresql@16)"
		fi
	fi
	data=$(pg_data_dir)
	if [ -s "$data/postmaster.pid" ] && as_pg "$bin/pg_ctl" status -D "$data" >/dev/null 2>&1; then
		port=$(sed -n 4p "$data/postmaster.pid")
		say "postgres: reusing the local server already running from $data on port $port"
		PG_URL="postgres://postgres@127.0.0.1:$port/postgres?sslmode=disable"
		return
	fi
	mkdir -p "$data"
	touch "$data.log"
	if is_root; then chown postgres: "$data" "$data.log"; fi
	chmod 700 "$data"
	if [ ! -s "$data/PG_VERSION" ]; then
		say "postgres: initdb $data ($("$bin/postgres" --version))"
		as_pg "$bin/initdb" -D "$data" -U postgres --auth=trust -E UTF8 --locale=C >"$data.initdb.log" 2>&1 ||
			die "initdb failed; see $data.initdb.log"
	fi
	port=5432
	tcp_open 127.0.0.1 5432 && port=$(free_port 127.0.0.1 5433)
	say "postgres: starting $bin/postgres on 127.0.0.1:$port (log $data.log)"
	as_pg "$bin/pg_ctl" start -D "$data" -l "$data.log" -w -t 60 -o \
		"-p $port -c listen_addresses=127.0.0.1 -c unix_socket_directories='' -c max_connections=200 -c fsync=off -c synchronous_commit=off" \
		>/dev/null || die "postgres did not start; tail of $data.log:$(printf '\n'; tail -n 20 "$data.log")"
	PG_URL="postgres://postgres@127.0.0.1:$port/postgres?sslmode=disable"
	STARTED+=(pg)
}

pg_stop_local() {
	local bin data
	bin=$(pg_bin_dir) || return 0
	data=$(pg_data_dir)
	if [ -s "$data/postmaster.pid" ] && as_pg "$bin/pg_ctl" status -D "$data" >/dev/null 2>&1; then
		say "postgres: stopping the local server in $data"
		as_pg "$bin/pg_ctl" stop -D "$data" -m fast -w >/dev/null
	fi
}

pg_ensure_databases() {
	if ! command -v psql >/dev/null; then
		{ can_apt && apt_install postgresql-client; } || die "psql not found: install the PostgreSQL client (Debian/Ubuntu: apt-get install postgresql-client)"
	fi
	local db
	for db in "${DATABASES[@]}"; do
		if [ -z "$(psql "$PG_URL" -X -Atq -v ON_ERROR_STOP=1 -c "SELECT 1 FROM pg_database WHERE datname = '$db'")" ]; then
			psql "$PG_URL" -X -q -v ON_ERROR_STOP=1 -c "CREATE DATABASE $db" >/dev/null ||
				die "could not create database $db"
			say "postgres: created database $db"
		fi
	done
}

find_postgres() {
	if [ -n "${DATABASE_URL:-}" ]; then
		PG_URL=$DATABASE_URL
		pg_answers "$PG_URL" || die "DATABASE_URL points at $(url_hostport "$PG_URL" 5432 | tr ' ' :), which does not answer; start that server or unset DATABASE_URL to use a local one"
		say "postgres: using DATABASE_URL ($(url_hostport "$PG_URL" 5432 | tr ' ' :))"
	elif pg_answers "$DEFAULT_DATABASE_URL"; then
		PG_URL=$DEFAULT_DATABASE_URL
		say "postgres: found a server at $(url_hostport "$PG_URL" 5432 | tr ' ' :)"
	else
		say "postgres: nothing answers at $(url_hostport "$DEFAULT_DATABASE_URL" 5432 | tr ' ' :)"
		pg_start_local
	fi
	pg_ensure_databases
}

# --- Redis --------------------------------------------------------------------------------

redis_answers() {
	if command -v redis-cli >/dev/null; then
		[ "$(redis-cli -u "$1" ping 2>/dev/null)" = PONG ]
	else
		local host port line
		read -r host port < <(url_hostport "$1" 6379)
		line=$({ exec 3<>"/dev/tcp/$host/$port" && printf 'PING\r\n' >&3 && read -r -t 3 l <&3 && echo "$l"; } 2>/dev/null) || return 1
		# -NOAUTH still proves a Redis answers; the client authenticates with the URL's password.
		[[ $line == +PONG* || $line == -NOAUTH* ]]
	fi
}

redis_start_local() {
	local bin port
	if ! bin=$(command -v redis-server); then
		if can_apt; then
			apt_install redis-server || die "apt-get install redis-server failed"
			bin=$(command -v redis-server) || die "redis-server installed but not on PATH"
		else
			die "no Redis found: start one and set REDIS_URL, or install Redis 7 (Debian/Ubuntu: apt-get install redis-server; macOS: brew install redis)"
		fi
	fi
	if pid_alive "$(cat "$REDIS_DIR/redis.pid" 2>/dev/null)" && [ -s "$REDIS_DIR/port" ]; then
		port=$(cat "$REDIS_DIR/port")
		say "redis: reusing the local server already running from $REDIS_DIR on port $port"
		REDIS_ADDR_URL="redis://127.0.0.1:$port/0"
		return
	fi
	mkdir -p "$REDIS_DIR"
	port=6379
	tcp_open 127.0.0.1 6379 && port=$(free_port 127.0.0.1 6380)
	say "redis: starting $bin on 127.0.0.1:$port (log $REDIS_DIR/redis.log)"
	"$bin" --daemonize yes --bind 127.0.0.1 --port "$port" --save "" --appendonly no \
		--dir "$REDIS_DIR" --pidfile "$REDIS_DIR/redis.pid" --logfile "$REDIS_DIR/redis.log" >&2 ||
		die "redis-server did not start; see $REDIS_DIR/redis.log"
	echo "$port" >"$REDIS_DIR/port"
	REDIS_ADDR_URL="redis://127.0.0.1:$port/0"
	local i
	for i in $(seq 50); do
		redis_answers "$REDIS_ADDR_URL" && break
		[ "$i" = 50 ] && die "redis did not answer on port $port; see $REDIS_DIR/redis.log"
		sleep 0.1
	done
	STARTED+=(redis)
}

redis_stop_local() {
	local pid
	pid=$(cat "$REDIS_DIR/redis.pid" 2>/dev/null) || return 0
	if pid_alive "$pid"; then
		say "redis: stopping the local server (pid $pid)"
		kill "$pid"
		local i
		for i in $(seq 50); do pid_alive "$pid" || break; sleep 0.1; done
	fi
	rm -f "$REDIS_DIR/redis.pid" "$REDIS_DIR/port"
}

find_redis() {
	if [ -n "${REDIS_URL:-}" ]; then
		REDIS_ADDR_URL=$REDIS_URL
		redis_answers "$REDIS_ADDR_URL" || die "REDIS_URL points at $(url_hostport "$REDIS_URL" 6379 | tr ' ' :), which does not answer; start that server or unset REDIS_URL to use a local one"
		say "redis: using REDIS_URL ($(url_hostport "$REDIS_URL" 6379 | tr ' ' :))"
	elif redis_answers "$DEFAULT_REDIS_URL"; then
		REDIS_ADDR_URL=$DEFAULT_REDIS_URL
		say "redis: found a server at $(url_hostport "$REDIS_ADDR_URL" 6379 | tr ' ' :)"
	else
		say "redis: nothing answers at $(url_hostport "$DEFAULT_REDIS_URL" 6379 | tr ' ' :)"
		redis_start_local
	fi
}

# --- the tests' tools ----------------------------------------------------------------------

# TEST_TOOLS pairs each program the tests run (besides Go, Postgres and Redis, found above) with
# the Debian/Ubuntu package that provides it: gcc for cgo (-race, the Kafka client); nginx,
# openssl and curl for the TLS edge of the end-to-end tests and the smoke test; redis-server for
# the end-to-end platform's own Redis, which the fault runs stop and start; oathtool for TOTP
# codes; pdftotext for the certificate PDFs. stripe-mock is not here: the tests install it with
# `go install` themselves.
TEST_TOOLS=(gcc:gcc nginx:nginx openssl:openssl curl:curl redis-server:redis-server
	oathtool:oathtool pdftotext:poppler-utils)

# tools_check installs the missing TEST_TOOLS with one apt-get as root on Debian/Ubuntu, and
# otherwise names them and fails.
tools_check() {
	local entry cmd missing=() packages=()
	for entry in "${TEST_TOOLS[@]}"; do
		cmd=${entry%%:*}
		find_tool "$cmd" >/dev/null && continue
		missing+=("$cmd")
		packages+=("${entry#*:}")
	done
	if [ ${#missing[@]} = 0 ]; then
		say "tools: ${TEST_TOOLS[*]%%:*} found"
		return
	fi
	say "tools: missing ${missing[*]}"
	if can_apt && apt_install "${packages[@]}"; then
		for cmd in "${missing[@]}"; do
			find_tool "$cmd" >/dev/null || die "tools: $cmd still missing after apt-get install"
		done
		return
	fi
	die "the tests need ${missing[*]}: install them (Debian/Ubuntu: apt-get install ${packages[*]}; macOS: brew install ${packages[*]/poppler-utils/poppler}), or run as root on Debian/Ubuntu to have them installed"
}

# --- main ---------------------------------------------------------------------------------

if [ "${1:-}" = tools ]; then
	[ $# = 1 ] || die "usage: scripts/deps.sh tools"
	tools_check
	exit 0
fi

if [ "${1:-}" = stop ]; then
	shift
	[ $# -gt 0 ] || set -- pg redis
	for what in "$@"; do
		case $what in
		pg) pg_stop_local ;;
		redis) redis_stop_local ;;
		*) die "deps.sh stop: unknown server '$what' (want pg or redis)" ;;
		esac
	done
	exit 0
fi
[ $# = 0 ] || die "usage: eval \"\$(scripts/deps.sh)\"  |  scripts/deps.sh stop [pg] [redis]  |  scripts/deps.sh tools"

STARTED=()
# A failure half-way (say Redis after Postgres was started) stops what this call started.
trap 'rc=$?; if [ "$rc" != 0 ] && [ ${#STARTED[@]} -gt 0 ]; then "$0" stop "${STARTED[@]}"; fi' EXIT
find_postgres
find_redis
printf 'export DATABASE_URL=%q\n' "$PG_URL"
printf 'export REDIS_URL=%q\n' "$REDIS_ADDR_URL"
printf 'export AZORA_DEPS_STARTED=%q\n' "${STARTED[*]:-}"
