#!/usr/bin/env bash
# gen-common-passwords.sh rebuilds auth/passwords/common.txt, the list of common passwords the
# auth service refuses at registration, from the `passwords` frequency list that the zxcvbn npm
# package ships (30,000 entries ranked by frequency in the "10 million passwords" leak corpus
# compiled by xato.net; MIT licence, Dan Wheeler and Dropbox, Inc.). It lowercases the entries,
# drops duplicates (keeping the first, most frequent, spelling), writes one per line, and copies
# the package's licence beside the list. The output is committed; run this only to change the
# source version.
#
#   scripts/gen-common-passwords.sh       # needs npm and node
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
LOG_PREFIX="gen-common-passwords:"

version=4.4.2
out=$AZORA_ROOT/auth/passwords
min_entries=10000

command -v npm >/dev/null || die "npm not found: install it (Debian/Ubuntu: apt-get install npm)"
command -v node >/dev/null || die "node not found: install it (Debian/Ubuntu: apt-get install nodejs)"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

say "npm pack zxcvbn@$version"
(cd "$tmp" && npm pack --silent "zxcvbn@$version" >/dev/null)
tar -xzf "$tmp/zxcvbn-$version.tgz" -C "$tmp"
lists=$tmp/package/lib/frequency_lists.js
[ -f "$lists" ] || die "zxcvbn@$version has no lib/frequency_lists.js"

# node evaluates the module rather than us scraping its text (the list is a string literal split
# on commas when the module loads).
mkdir -p "$out"
node - "$lists" >"$tmp/common.txt" <<'JS'
const lists = require(process.argv[2]);
if (!Array.isArray(lists.passwords)) {
  console.error("frequency_lists.js exports no passwords list");
  process.exit(1);
}
const seen = new Set();
const lines = [];
for (const raw of lists.passwords) {
  const pw = String(raw).trim().toLowerCase();
  if (pw === "" || seen.has(pw)) continue;
  seen.add(pw);
  lines.push(pw);
}
process.stdout.write(lines.join("\n") + "\n");
JS

n=$(wc -l <"$tmp/common.txt")
[ "$n" -ge "$min_entries" ] || die "only $n passwords extracted, want at least $min_entries"
mv "$tmp/common.txt" "$out/common.txt"
cp "$tmp/package/LICENSE.txt" "$out/LICENSE.zxcvbn.txt"
say "wrote $n passwords to ${out#"$AZORA_ROOT"/}/common.txt"
