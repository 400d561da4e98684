#!/bin/sh
# Regenerates internal/lint/speclint/testdata/real/*/spectral.json: the
# findings of Spectral 6 with the OWASP ruleset on each real spec, which
# the speclint tests compare rampart lint against.
#
# Usage: bench/lint/spectral.sh [BIG_SPEC]
#   With BIG_SPEC (e.g. written by TestWriteLargeSpec, see run.sh)
#   it also times Spectral on that file.
#
# Spectral is installed into a temporary directory with npm by
# install-spectral.sh, which pins the versions; nothing is installed
# globally. To time rampart lint against Spectral on the generated 5 MB
# spec, use bench/lint/run.sh.
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"
. "$root/bench/lint/install-spectral.sh"
npx spectral --version
for dir in "$root"/internal/lint/speclint/testdata/real/*/; do
	spec=$(ls "$dir"openapi.yaml "$dir"openapi.json 2>/dev/null | head -n 1)
	# Spectral exits 1 when it finds something; that is expected.
	npx spectral lint --ruleset .spectral.yaml --format json --quiet "$spec" > "$dir/spectral.raw.json" || true
	# Paths in the output are made relative to the repository root, so the
	# stored files do not depend on where they were generated.
	node -e '
		const fs = require("fs"); const root = process.argv[1] + "/";
		const r = JSON.parse(fs.readFileSync(process.argv[2], "utf8"));
		for (const d of r) d.source = d.source.startsWith(root) ? d.source.slice(root.length) : d.source;
		fs.writeFileSync(process.argv[3], JSON.stringify(r, null, 1) + "\n");
	' "$root" "$dir/spectral.raw.json" "$dir/spectral.json"
	rm "$dir/spectral.raw.json"
	echo "$spec: $(node -e 'console.log(JSON.parse(require("fs").readFileSync(process.argv[1])).length)' "$dir/spectral.json") findings"
done
if [ $# -gt 0 ]; then
	echo "timing Spectral on $1 ($(wc -c < "$1") bytes)"
	time npx spectral lint --ruleset .spectral.yaml --format json --quiet "$1" > "$tmp/big.json" || true
	echo "$(node -e 'console.log(JSON.parse(require("fs").readFileSync(process.argv[1])).length)' "$tmp/big.json") findings"
fi
