#!/bin/bash
# Times rampart lint and Spectral 6 with the OWASP ruleset on the same
# generated 5 MB spec (11,250 operations), in the same run, and prints the
# finding counts of both. Figures go in docs/lint.md ("Speed").
#
# Usage: bench/lint/run.sh [RAMPART_RUNS [SPECTRAL_RUNS]]   (defaults 3, 1)
#
# rampart: the whole command `rampart lint --format json --fail-on critical`
# (process start, loading, linting, output), each run and the median.
# Spectral: up to 10 minutes per run (timeout); if it runs out of memory
# or of call stack it is retried once with node --max-old-space-size=8192
# --stack-size=30000.
# Max RSS comes from /usr/bin/time -v when it is there.
# Nothing in the repository is written; stored Spectral outputs are
# spectral.sh's job.
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
rruns=${1:-3}
sruns=${2:-1}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
big=$tmp/big.yaml

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), load $(cut -d' ' -f1-3 /proc/loadavg)"
(cd "$root" && go build -o "$tmp/rampart" ./cmd/rampart)
(cd "$root" && go test ./internal/lint/speclint -count=1 -run '^TestWriteLargeSpec$' -large-spec-out "$big" >/dev/null)
echo "spec: $(wc -c < "$big") bytes, $(grep -c 'operationId:' "$big") operations"

have_time=0
[ -x /usr/bin/time ] && /usr/bin/time -v true 2>/dev/null && have_time=1

# timed OUT ERR CMD...: runs CMD with stdout to OUT, prints "SECONDS RSS_KB RC".
timed() {
	local out=$1 err=$2; shift 2
	local rc=0 start end
	if [ $have_time = 1 ]; then
		/usr/bin/time -v -o "$tmp/time.txt" "$@" > "$out" 2> "$err" || rc=$?
		local wall rss
		wall=$(sed -n 's/.*Elapsed (wall clock) time (h:mm:ss or m:ss): //p' "$tmp/time.txt")
		rss=$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$tmp/time.txt")
		# wall is m:ss.ss or h:mm:ss
		secs=$(echo "$wall" | awk -F: '{s=0; for (i=1;i<=NF;i++) s=s*60+$i; printf "%.2f", s}')
		echo "$secs $rss $rc"
	else
		start=$(date +%s.%N)
		"$@" > "$out" 2> "$err" || rc=$?
		end=$(date +%s.%N)
		echo "$(echo "$end - $start" | bc) - $rc"
	fi
}

median() { sort -n | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else printf "%.2f\n", (a[NR/2]+a[NR/2+1])/2}'; }

# count FILE: number of findings in a JSON report (an array, or an object
# with a findings array).
count() {
	node -e '
		const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
		console.log(Array.isArray(r) ? r.length : (r.findings || []).length);
	' "$1"
}

echo "== rampart lint --format json --fail-on critical ($rruns runs)"
: > "$tmp/rtimes"
for i in $(seq "$rruns"); do
	read -r secs rss rc < <(timed "$tmp/rampart.json" "$tmp/rampart.err" "$tmp/rampart" lint --format json --fail-on critical "$big")
	echo "run $i: ${secs}s, max RSS ${rss} kB, exit $rc"
	echo "$secs" >> "$tmp/rtimes"
done
rmed=$(median < "$tmp/rtimes")
echo "rampart median: ${rmed}s; findings: $(count "$tmp/rampart.json")"

echo "== Spectral with the OWASP ruleset ($sruns runs, 600 s timeout each)"
(cd "$tmp" && . "$root/bench/lint/install-spectral.sh")
echo "spectral $(cd "$tmp" && npx spectral --version)"
: > "$tmp/stimes"
for i in $(seq "$sruns"); do
	# First as installed; on running out of memory or of call stack
	# (Spectral recurses on the self-referencing schemas), once more with a
	# bigger heap and stack (ulimit -s unlimited so --stack-size is safe).
	for opts in "" "--max-old-space-size=8192 --stack-size=30000"; do
		read -r secs rss rc < <(cd "$tmp" && ulimit -s unlimited && timed "$tmp/spectral.json" "$tmp/spectral.err" \
			timeout 600 node $opts node_modules/@stoplight/spectral-cli/dist/index.js lint --ruleset .spectral.yaml --format json --quiet "$big")
		note=""
		[ "$rc" = 124 ] && note=" (timed out after 600 s)"
		grep -q 'heap out of memory' "$tmp/spectral.err" && note=" (out of memory)"
		grep -q 'Maximum call stack size exceeded' "$tmp/spectral.err" && note=" (call stack exceeded)"
		echo "run $i${opts:+ (node $opts)}: ${secs}s, max RSS ${rss} kB, exit $rc$note"
		if [ -z "$opts" ] && [ -n "$note" ] && [ "$rc" != 124 ]; then echo "retrying with a bigger heap and stack"; continue; fi
		break
	done
	# Spectral exits 1 when it finds something; only a finished run counts.
	if [ "$rc" = 0 ] || [ "$rc" = 1 ]; then echo "$secs" >> "$tmp/stimes"; fi
done
if [ -s "$tmp/stimes" ]; then
	smed=$(median < "$tmp/stimes")
	echo "spectral median: ${smed}s; findings: $(count "$tmp/spectral.json")"
	echo "ratio spectral/rampart: $(awk -v s="$smed" -v r="$rmed" 'BEGIN {printf "%.1f", s/r}')x"
else
	echo "spectral: no run finished"; tail -n 5 "$tmp/spectral.err"
fi
