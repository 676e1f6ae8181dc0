# shellcheck shell=bash
# Helpers shared by the scripts in this directory. Source it; it defines functions and a few
# path variables and changes nothing else. Messages go to stderr so that scripts whose stdout is
# meant for `eval` (deps.sh) stay clean.

AZORA_ROOT=${AZORA_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
# State that outlives one `make run` (Postgres data, Redis, certificates) lives under .run/ of
# the checkout; run.sh keeps its logs and pids under AZORA_RUN_DIR (default the same .run/).
AZORA_STATE=${AZORA_STATE:-$AZORA_ROOT/.run}

# The service databases are ${AZORA_DB_PREFIX}_auth, _education and _finance. smoke.sh sets a
# throwaway prefix so its run never meets a developer's data.
AZORA_DB_PREFIX=${AZORA_DB_PREFIX:-azora}
# Development secrets belong with the data they seal, which lives on the Postgres server and
# outlives a checkout's .run/ (make clean, a fresh clone): so they are kept per user, not per
# checkout. AZORA_DEV_SECRETS moves them.
AZORA_DEV_SECRETS=${AZORA_DEV_SECRETS:-${XDG_STATE_HOME:-$HOME/.local/state}/azora/dev-secrets.env}

say() { printf '%s %s\n' "${LOG_PREFIX:-azora:}" "$*" >&2; }
die() { say "ERROR: $*"; exit 1; }

is_root() { [ "$(id -u)" = 0 ]; }

# can_apt: true when this is a Debian/Ubuntu machine and we are root, the one case where the
# scripts install missing packages themselves.
can_apt() { is_root && command -v apt-get >/dev/null 2>&1; }

# apt_install installs packages without letting their maintainer scripts start system services:
# the scripts start what they need themselves, on their own ports and state directories.
apt_install() {
	can_apt || return 1
	local guard=/usr/sbin/policy-rc.d made=""
	if [ ! -e "$guard" ]; then
		printf '#!/bin/sh\nexit 101\n' >"$guard" && chmod +x "$guard" && made=1
	fi
	local rc=0
	# One `apt-get update` per day is enough; a fresh image usually has empty lists.
	if [ -z "$(find /var/lib/apt/lists -maxdepth 1 -name '*Packages*' -mmin -1440 2>/dev/null | head -1)" ]; then
		say "apt-get update"
		DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2 || rc=$?
	fi
	if [ "$rc" = 0 ]; then
		say "apt-get install -y $*"
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >&2 || rc=$?
	fi
	[ -z "$made" ] || rm -f "$guard"
	return "$rc"
}

# find_tool NAME: prints the path of the program NAME, looking beyond PATH in the sbin and
# other directories where nginx and friends live (a non-root PATH often lacks /usr/sbin).
find_tool() {
	command -v "$1" 2>/dev/null && return
	local d
	for d in /usr/sbin /usr/local/sbin /usr/local/bin /usr/local/nginx/sbin /opt/homebrew/bin; do
		[ -x "$d/$1" ] && { echo "$d/$1"; return; }
	done
	return 1
}

# need_tool NAME HOW: prints the path of the program NAME, installing the Debian package NAME when
# it is missing and we are root on Debian/Ubuntu, else dies telling HOW to install it.
need_tool() {
	local path
	if path=$(find_tool "$1"); then echo "$path"; return; fi
	can_apt || die "$1 not found: install it ($2), or run as root on Debian/Ubuntu to have it installed"
	apt_install "$1" || die "apt-get install $1 failed"
	find_tool "$1" || die "$1 installed but not found"
}

# stop_process NAME PID: SIGTERM, up to 10 s to exit, then SIGKILL; reaps PID when it is a child.
stop_process() {
	local name=$1 pid=$2
	if pid_alive "$pid"; then
		kill -TERM "$pid" 2>/dev/null || true
		for _ in $(seq 100); do
			pid_alive "$pid" || break
			sleep 0.1
		done
		if pid_alive "$pid"; then
			say "$name (pid $pid) ignored SIGTERM for 10s; killing it"
			kill -KILL "$pid" 2>/dev/null || true
		fi
	fi
	wait "$pid" 2>/dev/null || true
}

# stop_started_deps: stops the servers `eval "$(scripts/deps.sh)"` started for this script (the
# list in AZORA_DEPS_STARTED), and nothing it merely found.
stop_started_deps() {
	[ -n "${AZORA_DEPS_STARTED:-}" ] || return 0
	# shellcheck disable=SC2086 # a list of words: pg redis
	"$AZORA_ROOT/scripts/deps.sh" stop $AZORA_DEPS_STARTED
}

# finish_work_dir DIR RC WHAT [KEEP]: a benchmark's last word on its work directory. It is
# kept (and said so, naming WHAT it holds) when the script failed (RC != 0), when BENCH_KEEP=1,
# or when KEEP is 1; otherwise it is removed.
finish_work_dir() {
	if [ "$2" != 0 ] || [ "${BENCH_KEEP:-}" = 1 ] || [ "${4:-}" = 1 ]; then
		say "$3 kept in $1"
	else
		rm -rf "$1"
	fi
}

# tcp_open HOST PORT: true when something accepts TCP connections there.
tcp_open() {
	(exec 3<>"/dev/tcp/$1/$2") 2>/dev/null
}

# free_port HOST START: prints the first port from START up that nothing listens on.
free_port() {
	local host=$1 p=$2
	while tcp_open "$host" "$p"; do
		p=$((p + 1))
		[ "$p" -lt 65535 ] || return 1
	done
	echo "$p"
}

# url_hostport URL DEFAULT_PORT: prints "host port" of a URL like scheme://user:pw@host:port/x.
url_hostport() {
	local rest=${1#*://}
	rest=${rest%%/*}
	rest=${rest%%\?*}
	rest=${rest##*@}
	local host port
	if [[ $rest == \[*\]* ]]; then # [ipv6]:port
		host=${rest%%]*}
		host=${host#[}
		port=${rest##*]}
		port=${port#:}
	elif [[ $rest == *:* ]]; then
		host=${rest%%:*}
		port=${rest##*:}
	else
		host=$rest
	fi
	echo "${host:-127.0.0.1} ${port:-$2}"
}

# addr_port ADDR: the port of a listen address such as ":4000" or "127.0.0.1:4000".
addr_port() { echo "${1##*:}"; }

# addr_host ADDR: a host to dial for a listen address (":4000" means 127.0.0.1).
addr_host() {
	local h=${1%:*}
	h=${h#[}
	h=${h%]}
	case $h in "" | 0.0.0.0 | "::") h=127.0.0.1 ;; esac
	echo "$h"
}

# http_status URL: prints the HTTP status code, 000 when nothing answers.
http_status() {
	curl -ks -o /dev/null -m "${2:-3}" -w '%{http_code}' "$1" 2>/dev/null || true
}

# pid_alive PID: true while that process exists and is not a zombie.
pid_alive() {
	[ -n "${1:-}" ] && kill -0 "$1" 2>/dev/null || return 1
	local st
	st=$(ps -o stat= -p "$1" 2>/dev/null) || return 1
	[[ $st != Z* ]]
}
