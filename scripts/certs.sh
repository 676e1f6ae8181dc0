#!/usr/bin/env bash
# certs.sh makes the self-signed certificate NGINX serves locally, valid for localhost,
# 127.0.0.1 and ::1 (plus any names in CERT_EXTRA_SANS, e.g. "DNS:azora.test,IP:10.0.0.5").
# It reuses the pair in .run/certs while it is valid for at least another day and covers the
# requested names, so browsers that were told to trust it keep trusting it.
#
#   scripts/certs.sh            # prints the directory holding localhost.crt and localhost.key
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
LOG_PREFIX="certs:"

dir=${CERT_DIR:-$AZORA_STATE/certs}
crt=$dir/localhost.crt
key=$dir/localhost.key
sans="DNS:localhost,IP:127.0.0.1,IP:0:0:0:0:0:0:0:1${CERT_EXTRA_SANS:+,$CERT_EXTRA_SANS}"

command -v openssl >/dev/null || {
	{ can_apt && apt_install openssl; } || die "openssl not found: install it (Debian/Ubuntu: apt-get install openssl)"
}

covers_sans() {
	local have want
	have=$(openssl x509 -in "$crt" -noout -ext subjectAltName 2>/dev/null | tail -n +2 | tr -d ' ')
	# openssl prints "IP Address:1.2.3.4"; compare against the same spelling.
	for want in ${sans//,/ }; do
		want=${want/IP:/IPAddress:}
		[[ ",$have," == *",$want,"* ]] || return 1
	done
}

if [ -s "$crt" ] && [ -s "$key" ] && openssl x509 -in "$crt" -noout -checkend 86400 >/dev/null 2>&1 && covers_sans; then
	say "reusing $crt"
else
	mkdir -p "$dir"
	umask 077
	# ECDSA P-256: small and fast, and every TLS 1.3 client supports it.
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 825 \
		-subj "/CN=localhost/O=Azora development" \
		-addext "subjectAltName=$sans" \
		-addext "basicConstraints=critical,CA:FALSE" \
		-addext "keyUsage=critical,digitalSignature" \
		-addext "extendedKeyUsage=serverAuth" \
		-keyout "$key" -out "$crt" >/dev/null 2>&1 || die "openssl could not create $crt"
	chmod 644 "$crt"
	say "created $crt (self-signed; SAN $sans)"
fi
echo "$dir"
