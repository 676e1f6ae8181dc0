#!/usr/bin/env bash
# nginx.sh puts NGINX in front of the gateway for local runs.
#
#   scripts/nginx.sh check    # install nginx if missing, make certs, render and `nginx -t`
#   scripts/nginx.sh start    # the same, then exec nginx in the foreground (run.sh uses this)
#
# Renders deploy/nginx/nginx.conf into $AZORA_RUN_DIR/nginx/nginx.conf from:
#   GATEWAY_URLS        comma-separated gateway replicas (default http://127.0.0.1:4000)
#   NGINX_BIND          addresses to listen on, space-separated (default 127.0.0.1)
#   NGINX_HTTP_PORT     plain port that redirects to HTTPS (default 8080)
#   NGINX_HTTPS_PORT    TLS 1.3 port (default 8443)
#   NGINX_HSTS_MAX_AGE  Strict-Transport-Security max-age in seconds (default 31536000)
#   NGINX_MAX_FAILS / NGINX_FAIL_TIMEOUT  passive health per replica (default 3 / 10s)
# nginx is installed with apt when missing and we are root on Debian/Ubuntu.
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
LOG_PREFIX="nginx:"

run_dir=${AZORA_RUN_DIR:-$AZORA_STATE}
prefix=$run_dir/nginx
template=$AZORA_ROOT/deploy/nginx/nginx.conf
conf=$prefix/nginx.conf

NGINX=$(need_tool nginx "Debian/Ubuntu: sudo apt-get install nginx; macOS: brew install nginx")

# version_ge A B: true when dotted version A >= B.
version_ge() { [ "$(printf '%s\n%s\n' "$2" "$1" | sort -V | head -n1)" = "$2" ]; }
version=$("$NGINX" -v 2>&1 | sed -n 's|.*nginx/\([0-9.]*\).*|\1|p')
[ -n "$version" ] || die "cannot read the version of $NGINX"
version_ge "$version" 1.19.5 || die "nginx $version is too old (need 1.19.5+ for TLS 1.3 and -e)"

cert_dir=$("$AZORA_ROOT/scripts/certs.sh")
http_port=${NGINX_HTTP_PORT:-8080}
https_port=${NGINX_HTTPS_PORT:-8443}

# listen_lines PORT EXTRA: one listen directive per bind address.
listen_lines() {
	local a out=""
	for a in ${NGINX_BIND:-127.0.0.1}; do
		[[ $a == *:* && $a != \[* ]] && a="[$a]"
		out+="        listen $a:$1$2;"$'\n'
	done
	printf '%s' "${out%$'\n'}"
}

upstreams=""
IFS=, read -r -a gateways <<<"${GATEWAY_URLS:-http://127.0.0.1:4000}"
for g in "${gateways[@]}"; do
	g=${g// /}
	[ -n "$g" ] || continue
	g=${g#*://}
	g=${g%%/*}
	upstreams+="        server $g max_fails=${NGINX_MAX_FAILS:-3} fail_timeout=${NGINX_FAIL_TIMEOUT:-10s};"$'\n'
done
[ -n "$upstreams" ] || die "GATEWAY_URLS has no address"

# `listen … http2` became the `http2 on;` directive in 1.25.1 (the old form now warns).
if version_ge "$version" 1.25.1; then
	https_listen=$(listen_lines "$https_port" " ssl")
	http2="        http2 on;"
else
	https_listen=$(listen_lines "$https_port" " ssl http2")
	http2=""
fi

mkdir -p "$prefix/tmp"
out=$(<"$template")
out=${out//@@PREFIX@@/$prefix}
out=${out//@@UPSTREAM_SERVERS@@/${upstreams%$'\n'}}
out=${out//@@HTTP_LISTEN@@/$(listen_lines "$http_port" "")}
out=${out//@@HTTPS_LISTEN@@/$https_listen}
out=${out//@@HTTP2@@/$http2}
out=${out//@@HTTPS_PORT@@/$https_port}
out=${out//@@CERT@@/$cert_dir/localhost.crt}
out=${out//@@KEY@@/$cert_dir/localhost.key}
out=${out//@@HSTS_MAX_AGE@@/${NGINX_HSTS_MAX_AGE:-31536000}}
[[ $out != *@@*@@* ]] || die "unrendered placeholder in $template: $(grep -o '@@[A-Z_0-9]*@@' <<<"$out" | sort -u | tr '\n' ' ')"
printf '%s\n' "$out" >"$conf"

nginx_cmd=("$NGINX" -p "$prefix" -e "$prefix/error.log" -c "$conf")
if ! test_out=$("${nginx_cmd[@]}" -t 2>&1); then
	die "nginx -t rejected $conf:"$'\n'"$test_out"
fi
say "$conf is valid (nginx $version; upstream ${GATEWAY_URLS:-http://127.0.0.1:4000})"

case ${1:-check} in
check) ;;
start)
	say "listening on http://${NGINX_BIND:-127.0.0.1}:$http_port (redirect) and https://${NGINX_BIND:-127.0.0.1}:$https_port"
	exec "${nginx_cmd[@]}" -g 'daemon off;'
	;;
*) die "usage: scripts/nginx.sh check|start" ;;
esac
