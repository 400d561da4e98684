#!/usr/bin/env bash
# bench/run.sh: loopback benchmark of Rampart against an upstream hit
# directly, a bare Go proxy, a bare fasthttp proxy, nginx, HAProxy and Caddy.
#
#   bash bench/run.sh                     # defaults: ROUNDS=3 DURATION=5 ...
#   ROUNDS=5 DURATION=10 bash bench/run.sh
#
# Every server listens on 127.0.0.1 on a free port; nothing else is
# contacted (apart from apt-get when a tool is missing). All processes are
# stopped on exit. See bench/README.md for what the rows and numbers mean.
set -euo pipefail

ROUNDS=${ROUNDS:-3}           # interleaved rounds; medians are taken over them
DURATION=${DURATION:-5}       # seconds of each measurement
WARMUP=${WARMUP:-2}           # seconds of warm-up before each measurement
CONNS=${CONNS:-64}            # wrk connections
THREADS=${THREADS:-1}         # wrk threads
PROXY_CPU=${PROXY_CPU:-0}     # core for the proxy under test
LOAD_CPU=${LOAD_CPU:-1}       # core for wrk and the upstream
REQ_PATH=${REQ_PATH:-/api/items/42}
WRK_TIMEOUT=${WRK_TIMEOUT:-10}  # seconds before wrk counts a request as timed out (the WAF POST rows are slow)
SETTLE=${SETTLE:-1}           # seconds between a warm-up and its measurement, for the requests in flight to finish
# Rows to run, in this order within each round. Optional extras: goproxy-pool
# (listed by default), rampart-jwt-nocache.
ROWS=${ROWS:-"direct goproxy goproxy-pool fastproxy nginx haproxy caddy rampart rampart-log rampart-jwt rampart-limits rampart-limits-redis rampart-audit rampart-protect goproxy-pii rampart-contract rampart-waf rampart-contract-waf goproxy-post rampart-post rampart-contract-post rampart-waf-post rampart-contract-waf-post"}
KEEP_TMP=${KEEP_TMP:-0}       # 1 keeps the temp dir (configs, logs, wrk output)

BENCH=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(dirname "$BENCH")

# Loopback only: never let a client pick up an environment proxy.
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY no_proxy NO_PROXY

log() { printf '[bench %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

for v in ROUNDS DURATION WARMUP CONNS THREADS PROXY_CPU LOAD_CPU WRK_TIMEOUT SETTLE; do
	[[ ${!v} =~ ^[0-9]+$ ]] || die "$v must be a whole number, got '${!v}'"
done
((ROUNDS >= 1 && DURATION >= 1 && WRK_TIMEOUT >= 1)) || die "ROUNDS, DURATION and WRK_TIMEOUT must be at least 1"

# ---------------------------------------------------------------- tools
install_missing() {
	local -a pkgs=()
	command -v wrk >/dev/null || pkgs+=(wrk)
	command -v haproxy >/dev/null || pkgs+=(haproxy)
	command -v caddy >/dev/null || pkgs+=(caddy)
	command -v curl >/dev/null || pkgs+=(curl)
	command -v taskset >/dev/null || pkgs+=(util-linux)
	local need_nginx=0
	command -v nginx >/dev/null || need_nginx=1
	((${#pkgs[@]} + need_nginx > 0)) || return 0
	local sudo=""
	((EUID == 0)) || sudo=sudo
	log "installing missing packages: ${pkgs[*]} $( ((need_nginx)) && echo nginx-light)"
	$sudo apt-get update -qq
	if ((need_nginx)); then
		# nginx-light is Debian 12's minimal build; newer releases only ship nginx.
		if apt-cache show nginx-light >/dev/null 2>&1; then pkgs+=(nginx-light); else pkgs+=(nginx); fi
	fi
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${pkgs[@]}" >&2
	# The Debian packages start system services; the benchmark runs its own.
	if command -v systemctl >/dev/null && [[ -d /run/systemd/system ]]; then
		$sudo systemctl stop nginx haproxy caddy >/dev/null 2>&1 || true
	fi
}
install_missing
export PATH=$PATH:/usr/sbin:/sbin
for c in wrk nginx haproxy caddy curl taskset go; do
	command -v "$c" >/dev/null || die "$c not found"
done
NCPU=$(nproc --all)
((PROXY_CPU < NCPU && LOAD_CPU < NCPU)) || die "PROXY_CPU/LOAD_CPU must be below $NCPU"

TMP=$(mktemp -d "${TMPDIR:-/tmp}/rampart-bench.XXXXXX")
declare -a PIDS=()
declare -A PID_OF=() PORT_OF=()

cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	local p
	for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
	for _ in $(seq 50); do
		local alive=0
		for p in "${PIDS[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
		((alive)) || break
		sleep 0.1
	done
	for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	if ((KEEP_TMP)); then log "kept $TMP"; else rm -rf "$TMP"; fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---------------------------------------------------------------- build
log "building bench tools (bench/tools) and rampart into $TMP"
(cd "$BENCH/tools" && go build -o "$TMP/" ./upstream ./goproxy ./fastproxy ./freeport ./mkjwt) ||
	die "building bench/tools failed"
(cd "$REPO" && go build -o "$TMP/rampart" ./cmd/rampart) || die "building ./cmd/rampart failed"

mapfile -t PORTS < <("$TMP/freeport" -n 24)
((${#PORTS[@]} == 24)) || die "could not get free ports"
UP_PORT=${PORTS[0]}
PORT_OF[direct]=$UP_PORT
PORT_OF[goproxy]=${PORTS[1]}
PORT_OF[fastproxy]=${PORTS[2]}
PORT_OF[nginx]=${PORTS[3]}
PORT_OF[haproxy]=${PORTS[4]}
PORT_OF[caddy]=${PORTS[5]}
PORT_OF[rampart]=${PORTS[6]}
PORT_OF[rampart-log]=${PORTS[7]}
PORT_OF[goproxy-pool]=${PORTS[8]}
PORT_OF[rampart-jwt]=${PORTS[9]}
PORT_OF[rampart-jwt-nocache]=${PORTS[10]}
PORT_OF[rampart-limits]=${PORTS[11]}
PORT_OF[rampart-limits-redis]=${PORTS[12]}
PORT_OF[rampart-audit]=${PORTS[13]}
PORT_OF[rampart-protect]=${PORTS[14]}
PORT_OF[goproxy-pii]=${PORTS[15]}
PORT_OF[rampart-contract]=${PORTS[16]}
PORT_OF[rampart-waf]=${PORTS[17]}
PORT_OF[rampart-contract-waf]=${PORTS[18]}
PORT_OF[goproxy-post]=${PORTS[19]}
PORT_OF[rampart-post]=${PORTS[20]}
PORT_OF[rampart-contract-post]=${PORTS[21]}
PORT_OF[rampart-waf-post]=${PORTS[22]}
PORT_OF[rampart-contract-waf-post]=${PORTS[23]}

declare -A LABEL=(
	[direct]="upstream direct (no proxy)"
	[goproxy]="bare Go httputil.ReverseProxy"
	[fastproxy]="bare fasthttp HostClient proxy"
	[nginx]="nginx"
	[haproxy]="HAProxy"
	[caddy]="Caddy"
	[rampart]="Rampart, access log off"
	[rampart-log]="Rampart, access log on (file)"
	[goproxy-pool]="bare Go httputil.ReverseProxy + BufferPool"
	[rampart-jwt]="Rampart, JWT auth (ES256) on, access log off"
	[rampart-jwt-nocache]="Rampart, JWT auth (ES256), token cache off (optional)"
	[rampart-limits]="Rampart, JWT + firewall + rate limit + quota (memory)"
	[rampart-limits-redis]="Rampart, JWT + firewall + rate limit + quota (Redis)"
	[rampart-audit]="Rampart, row 12 + tamper-evident audit log + anomaly detection"
	[rampart-protect]="Rampart, row 10 + protect (DLP mask + field \$.ssn), 1 KiB body"
	[goproxy-pii]="bare Go httputil.ReverseProxy, the 1 KiB body of row 15"
	[rampart-contract]="Rampart, row 7 + OpenAPI contract (request: block)"
	[rampart-waf]="Rampart, row 7 + WAF (CRS paranoia 1, json-api profile)"
	[rampart-contract-waf]="Rampart, row 7 + contract + WAF"
	[goproxy-post]="bare Go httputil.ReverseProxy, POST of a 1 KiB JSON body"
	[rampart-post]="Rampart, row 7, POST of a 1 KiB JSON body"
	[rampart-contract-post]="Rampart, row 21 + OpenAPI contract"
	[rampart-waf-post]="Rampart, row 21 + WAF"
	[rampart-contract-waf-post]="Rampart, row 21 + contract + WAF"
)
ALL_ROWS=(direct goproxy fastproxy nginx haproxy caddy rampart rampart-log goproxy-pool rampart-jwt rampart-jwt-nocache rampart-limits rampart-limits-redis rampart-audit rampart-protect goproxy-pii
	rampart-contract rampart-waf rampart-contract-waf goproxy-post rampart-post rampart-contract-post rampart-waf-post rampart-contract-waf-post)
# BASE_OF[row]: the row that row's ratio is taken against (the bare Go proxy
# doing the same work: GET, or the POST of the same body).
declare -A BASE_OF=()
for r in "${ALL_ROWS[@]}"; do
	BASE_OF[$r]=goproxy
	[[ $r != *-post ]] || BASE_OF[$r]=goproxy-post
done
declare -a SEL=()
for r in $ROWS; do
	[[ -n ${LABEL[$r]+x} ]] || die "unknown row '$r' in ROWS (known: ${ALL_ROWS[*]})"
	SEL+=("$r")
done

# ---------------------------------------------------------------- configs
mkdir -p "$TMP/nginx/logs" "$TMP/caddy/home" "$TMP/rampart-data"

cat >"$TMP/nginx/nginx.conf" <<EOF
daemon off;
worker_processes 1;
pid $TMP/nginx/nginx.pid;
error_log $TMP/nginx/logs/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    keepalive_requests 1000000;
    client_body_temp_path $TMP/nginx/client_temp;
    proxy_temp_path $TMP/nginx/proxy_temp;
    fastcgi_temp_path $TMP/nginx/fastcgi_temp;
    uwsgi_temp_path $TMP/nginx/uwsgi_temp;
    scgi_temp_path $TMP/nginx/scgi_temp;
    upstream up {
        server 127.0.0.1:$UP_PORT;
        keepalive 256;
        keepalive_requests 1000000;
    }
    server {
        listen 127.0.0.1:${PORT_OF[nginx]};
        location / {
            proxy_pass http://up;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }
    }
}
EOF

cat >"$TMP/haproxy.cfg" <<EOF
global
    nbthread 1
    maxconn 4096
defaults
    mode http
    timeout connect 5s
    timeout client 60s
    timeout server 60s
    http-reuse always
frontend fe
    bind 127.0.0.1:${PORT_OF[haproxy]}
    default_backend be
backend be
    server up1 127.0.0.1:$UP_PORT
EOF

# "bind" keeps Caddy on loopback: the site address alone only matches Host.
cat >"$TMP/Caddyfile" <<EOF
{
	admin off
	auto_https off
	storage file_system $TMP/caddy/storage
}
http://127.0.0.1:${PORT_OF[caddy]} {
	bind 127.0.0.1
	reverse_proxy 127.0.0.1:$UP_PORT {
		transport http {
			keepalive_idle_conns 256
			keepalive_idle_conns_per_host 256
		}
	}
}
EOF

# The JWT rows: a fresh ES256 key, its public JWKS in a file for Rampart, and
# one token (iss https://bench.local, aud bench, sub bench-user, exp +24h)
# that curl and wrk send on every request to those rows.
JWKS="$TMP/bench-jwks.json"
TOKEN=$("$TMP/mkjwt" -jwks "$JWKS") || die "mkjwt failed"
[[ $TOKEN == *.*.* ]] || die "mkjwt printed no token"

# auth_args ROW: sets AUTH to the curl/wrk arguments that authenticate a
# request to ROW (none for rows without authentication).
declare -a AUTH=()
auth_args() {
	AUTH=()
	[[ $1 != rampart-jwt* && $1 != rampart-limits* && $1 != rampart-audit && $1 != rampart-protect ]] || AUTH=(-H "Authorization: Bearer $TOKEN")
}

# body_args ROW: sets CURL_BODY and WRK_BODY to the arguments that make
# curl's and wrk's request to ROW the POST of POST_BODY (none for GET rows).
declare -a CURL_BODY=() WRK_BODY=()
body_args() {
	CURL_BODY=() WRK_BODY=()
	[[ $1 == *-post ]] || return 0
	CURL_BODY=(-X POST -H "Content-Type: application/json" --data-binary "@$TMP/post-body.json")
	WRK_BODY=(-s "$TMP/post.lua")
}

# jwt_yaml CACHE_SIZE: the authn section of the JWT rows ("" = default cache).
jwt_yaml() {
	cat <<EOF
authn:
  jwt:
    - name: bench
      issuer: https://bench.local
      audiences: [bench]
      keys_file: $JWKS
      algorithms: [ES256]
EOF
	[[ -z $1 ]] || echo "      cache_size: $1"
}

# limits_yaml BACKEND: a firewall deny list and limits that count every
# request (a per-subject rate and a daily quota, far above what the run
# sends, so that none is refused) on the given back end.
limits_yaml() {
	cat <<EOF
firewall:
  deny: [10.0.0.0/8, 192.0.2.0/24, 2001:db8::/32]
limits:
  backend: $1
  plans:
    - name: bench
      rates: [{name: burst, requests: 1000000, per: 1s}]
      quotas: [{name: daily, period: day, requests: 1000000000000}]
EOF
	[[ $1 != redis ]] || echo "redis: {url: \"${BENCH_REDIS:-redis://127.0.0.1:6379/14}\"}"
}

rampart_config() { # FILE PORT ACCESS_LOG_YAML [AUTHN_YAML [ROUTE_YAML [UPSTREAM_PATH [METHOD]]]]
	# The route is public, or requires the "bench" JWT authenticator (and
	# allows any identity it establishes) when an authn section is given.
	# ROUTE_YAML is more of the route (indented 4); UPSTREAM_PATH a path
	# prefix on the upstream URL; METHOD the route's one method (GET).
	local route_auth="public: true"
	[[ -z ${4:-} ]] || route_auth=$'auth: [bench]\n    authz: {authenticated: true}'
	cat >"$1" <<EOF
version: 1
data_dir: $TMP/rampart-data
listeners:
  - address: 127.0.0.1:$2
    plaintext: true
admin:
  disabled: true
access_log:
  $3
${4:-}
upstreams:
  up:
    url: http://127.0.0.1:$UP_PORT${6:-}
routes:
  - name: bench
    path: /{rest...}
    methods: [${7:-GET}]
    upstream: up
    $route_auth
${5:-}
EOF
	log "rampart config validate -c $1:"
	"$TMP/rampart" config validate -c "$1" >&2 || die "rampart config validate failed for $1"
}
rampart_config "$TMP/rampart.yaml" "${PORT_OF[rampart]}" "disabled: true"
rampart_config "$TMP/rampart-log.yaml" "${PORT_OF[rampart-log]}" "output: $TMP/access.log"
rampart_config "$TMP/rampart-jwt.yaml" "${PORT_OF[rampart-jwt]}" "disabled: true" "$(jwt_yaml "")"
rampart_config "$TMP/rampart-jwt-nocache.yaml" "${PORT_OF[rampart-jwt-nocache]}" "disabled: true" "$(jwt_yaml -1)"
rampart_config "$TMP/rampart-limits.yaml" "${PORT_OF[rampart-limits]}" "disabled: true" "$(jwt_yaml "")
$(limits_yaml memory)"
rampart_config "$TMP/rampart-audit.yaml" "${PORT_OF[rampart-audit]}" "disabled: true" "$(jwt_yaml "")
$(limits_yaml memory)
audit:
  enabled: true
  dir: $TMP/audit
  anomalies: {auth_failures: {max: 100}, enumeration: {max_distinct: 50}, rate_spike: {factor: 1000}}"
# The protect row: row 10 with the route's responses buffered, scanned by DLP
# (cards etc. masked) and walked for $.ssn (masked: a plaintext value has no
# owner), on the upstream's ~1 KiB /_bench/pii/ body. The keyring's KEK file
# is made in data_dir on first start.
rampart_config "$TMP/rampart-protect.yaml" "${PORT_OF[rampart-protect]}" "disabled: true" "$(jwt_yaml "")" \
	"    protect: {dlp: {action: mask}, fields: [{path: \$.ssn, reveal: {owner: true}}]}" /_bench/pii
rampart_config "$TMP/rampart-limits-redis.yaml" "${PORT_OF[rampart-limits-redis]}" "disabled: true" "$(jwt_yaml "")
$(limits_yaml redis)"

# The input-validation rows (17-24): row 7's public route with the
# upstream's contract (bench/testdata/items.openapi.yaml: an integer id,
# a closed ~1 KiB item schema for POST) enforced on requests, the WAF (Core
# Rule Set at paranoia 1, anomaly threshold 5, the json-api profile, block
# mode), or both; GET as in row 7, or a POST of POST_BODY.
SPEC="$BENCH/testdata/items.openapi.yaml"
CONTRACT_YAML="    openapi: {spec: $SPEC, request: block}"
WAF_YAML="    waf: {paranoia: 1, profiles: [json-api]}"
for m in "" -post; do
	method=GET
	[[ -z $m ]] || method=POST
	[[ -z $m ]] || rampart_config "$TMP/rampart-post.yaml" "${PORT_OF[rampart-post]}" "disabled: true" "" "" "" POST
	rampart_config "$TMP/rampart-contract$m.yaml" "${PORT_OF[rampart-contract$m]}" "disabled: true" "" "$CONTRACT_YAML" "" "$method"
	rampart_config "$TMP/rampart-waf$m.yaml" "${PORT_OF[rampart-waf$m]}" "disabled: true" "" "$WAF_YAML" "" "$method"
	rampart_config "$TMP/rampart-contract-waf$m.yaml" "${PORT_OF[rampart-contract-waf$m]}" "disabled: true" "" "$CONTRACT_YAML
$WAF_YAML" "" "$method"
done

# POST_BODY: a 1 KiB item that the contract and the CRS at paranoia 1
# accept, with a free-text description (what the WAF spends its time on).
text=$(printf 'Sturdy steel widget, powder-coated; fits the standard rail. Ask Ann about bulk orders before noon. %.0s' $(seq 12))
POST_BODY='{"name":"widget","description":"'${text:0:916}'","price":19.99,"currency":"EUR","tags":["bench","rampart"],"in_stock":true}'
printf '%s' "$POST_BODY" >"$TMP/post-body.json"
# wrk sends it from a script; the body has no "]]", so a long string holds it.
printf 'wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\nwrk.body = [[%s]]\n' "$POST_BODY" >"$TMP/post.lua"

# ---------------------------------------------------------------- servers
start() { # NAME CPU CMD...
	local name=$1 cpu=$2
	shift 2
	taskset -c "$cpu" "$@" >"$TMP/$name.stdout" 2>"$TMP/$name.stderr" &
	PIDS+=("$!")
	PID_OF[$name]=$!
}

show_failure() { # NAME
	log "--- $1 stderr ($TMP/$1.stderr) ---"
	tail -n 40 "$TMP/$1.stderr" >&2 || true
	log "--- $1 stdout ---"
	tail -n 20 "$TMP/$1.stdout" >&2 || true
	[[ $1 != nginx ]] || tail -n 20 "$TMP/nginx/logs/error.log" >&2 || true
}

wait_ready() { # NAME PORT
	local name=$1 port=$2 i
	auth_args "$name"
	body_args "$name"
	for i in $(seq 150); do
		if curl -sf -o /dev/null --max-time 1 "${AUTH[@]}" "${CURL_BODY[@]}" "http://127.0.0.1:$port$REQ_PATH"; then return 0; fi
		if ! kill -0 "${PID_OF[$name]}" 2>/dev/null; then
			show_failure "$name"
			die "$name exited during start-up"
		fi
		sleep 0.1
	done
	show_failure "$name"
	die "$name did not answer on 127.0.0.1:$port within 15 s"
}

# check NAME PORT: one request must come back 200 with the upstream's JSON
# (with the token, for the JWT rows; 201 for the POST rows). The JWT rows
# must also answer 401 to a request without a token and to one whose token
# has a broken signature; the contract and WAF rows must refuse what each
# defence is there to refuse (check_inputs).
check() {
	local name=$1 port=$2 code want="200 application/json"
	auth_args "$name"
	body_args "$name"
	[[ $name != *-post ]] || want="201 application/json"
	code=$(curl -s -o "$TMP/$name.check" -w '%{http_code} %{content_type}' "${AUTH[@]}" "${CURL_BODY[@]}" "http://127.0.0.1:$port$REQ_PATH")
	if [[ $code != "$want" ]] || ! grep -q '"widget"' "$TMP/$name.check"; then
		show_failure "$name"
		die "$name answered '$code' $(head -c 200 "$TMP/$name.check")"
	fi
	if [[ $name == rampart-protect ]] && { ! grep -qF '"**** **** **** 1111"' "$TMP/$name.check" ||
		grep -qF -e '4111 1111 1111 1111' -e '123-45-6789' "$TMP/$name.check"; }; then
		show_failure "$name"
		die "$name did not mask the card number and the SSN: $(head -c 1200 "$TMP/$name.check")"
	fi
	check_inputs "$name" "$port"
	[[ $name == rampart-jwt* || $name == rampart-limits* || $name == rampart-audit || $name == rampart-protect ]] || return 0
	# Broken signature: the first signature character swapped for another
	# letter (the first, unlike the last, carries only signature bits).
	local sig=${TOKEN##*.} bad
	[[ ${sig:0:1} == A ]] && bad="${TOKEN%.*}.B${sig:1}" || bad="${TOKEN%.*}.A${sig:1}"
	local -a h
	local what
	for what in "no token" "a broken signature"; do
		h=()
		[[ $what == "no token" ]] || h=(-H "Authorization: Bearer $bad")
		code=$(curl -s -o "$TMP/$name.check401" -w '%{http_code}' "${h[@]}" "http://127.0.0.1:$port$REQ_PATH")
		if [[ $code != 401 ]]; then
			show_failure "$name"
			die "$name answered '$code', not 401, to a request with $what: $(head -c 200 "$TMP/$name.check401")"
		fi
	done
}

# probe NAME PORT WANT_CODE WANT_REASON WHAT CURL_ARGS...: one request to
# NAME must be refused with WANT_CODE and a problem document of WANT_REASON.
probe() {
	local name=$1 port=$2 want=$3 reason=$4 what=$5 code
	shift 5
	code=$(curl -s -o "$TMP/$name.probe" -w '%{http_code} %{content_type}' "$@" || true)
	if [[ $code != "$want application/problem+json" ]] || ! grep -qF "\"$reason\"" "$TMP/$name.probe"; then
		show_failure "$name"
		die "$name answered '$code' to $what, not $want $reason: $(head -c 300 "$TMP/$name.probe")"
	fi
}

# check_inputs NAME PORT: a contract row refuses what breaks the contract
# (an id that is not an integer; a property the item schema does not
# declare) and a WAF row an SQL injection (in the query; in the item's
# description). With both on, the contract answers first where it can: the
# query parameter q is undeclared but an open query is not a breach, so the
# query probe reaches the WAF.
check_inputs() {
	local name=$1 port=$2 url="http://127.0.0.1:$2"
	local sqli="1'%20UNION%20SELECT%20password%20FROM%20users--"
	local -a post=(-X POST -H "Content-Type: application/json")
	if [[ $name == rampart-contract* ]]; then
		if [[ $name == *-post ]]; then
			probe "$name" "$port" 400 inputs.invalid "a POST with an undeclared property" "${post[@]}" \
				--data-binary '{"name":"widget","price":1,"admin":true}' "$url$REQ_PATH"
		else
			probe "$name" "$port" 400 inputs.invalid "a GET with a non-integer id" "$url/api/items/abc"
		fi
	fi
	if [[ $name == rampart-waf* || $name == rampart-contract-waf* ]]; then
		if [[ $name == *-post ]]; then
			probe "$name" "$port" 403 waf.blocked "a POST with SQL injection in the description" "${post[@]}" \
				--data-binary "{\"name\":\"widget\",\"price\":1,\"description\":\"${sqli//%20/ }\"}" "$url$REQ_PATH"
		else
			probe "$name" "$port" 403 waf.blocked "a GET with SQL injection in the query" "$url$REQ_PATH?q=$sqli"
		fi
	fi
	return 0
}

is_sel() { local r; for r in "${SEL[@]}"; do [[ $r == "$1" ]] && return 0; done; return 1; }

log "starting upstream on CPU $LOAD_CPU, proxies on CPU $PROXY_CPU"
start upstream "$LOAD_CPU" "$TMP/upstream" -addr "127.0.0.1:$UP_PORT"
PID_OF[direct]=${PID_OF[upstream]}
wait_ready upstream "$UP_PORT"
check upstream "$UP_PORT"
is_sel goproxy && start goproxy "$PROXY_CPU" "$TMP/goproxy" -addr "127.0.0.1:${PORT_OF[goproxy]}" -upstream "http://127.0.0.1:$UP_PORT"
is_sel goproxy-pii && start goproxy-pii "$PROXY_CPU" "$TMP/goproxy" -addr "127.0.0.1:${PORT_OF[goproxy-pii]}" -upstream "http://127.0.0.1:$UP_PORT/_bench/pii"
is_sel goproxy-pool && start goproxy-pool "$PROXY_CPU" "$TMP/goproxy" -bufpool -addr "127.0.0.1:${PORT_OF[goproxy-pool]}" -upstream "http://127.0.0.1:$UP_PORT"
is_sel fastproxy && start fastproxy "$PROXY_CPU" "$TMP/fastproxy" -addr "127.0.0.1:${PORT_OF[fastproxy]}" -upstream "127.0.0.1:$UP_PORT"
is_sel nginx && start nginx "$PROXY_CPU" nginx -e "$TMP/nginx/logs/error.log" -p "$TMP/nginx/" -c "$TMP/nginx/nginx.conf"
is_sel haproxy && start haproxy "$PROXY_CPU" haproxy -db -f "$TMP/haproxy.cfg"
is_sel caddy && start caddy "$PROXY_CPU" env HOME="$TMP/caddy/home" XDG_DATA_HOME="$TMP/caddy/data" \
	XDG_CONFIG_HOME="$TMP/caddy/config" caddy run --config "$TMP/Caddyfile" --adapter caddyfile
is_sel rampart && start rampart "$PROXY_CPU" "$TMP/rampart" serve -c "$TMP/rampart.yaml"
is_sel rampart-log && start rampart-log "$PROXY_CPU" "$TMP/rampart" serve -c "$TMP/rampart-log.yaml"
is_sel rampart-jwt && start rampart-jwt "$PROXY_CPU" "$TMP/rampart" serve -c "$TMP/rampart-jwt.yaml"
is_sel rampart-jwt-nocache && start rampart-jwt-nocache "$PROXY_CPU" "$TMP/rampart" serve -c "$TMP/rampart-jwt-nocache.yaml"
is_sel rampart-limits && start rampart-limits "$PROXY_CPU" "$TMP/rampart" serve -c "$TMP/rampart-limits.yaml"
is_sel rampart-audit && start rampart-audit "$PROXY_CPU" "$TMP/rampart" serve -c "$TMP/rampart-audit.yaml"
is_sel rampart-protect && start rampart-protect "$PROXY_CPU" "$TMP/rampart" serve -c "$TMP/rampart-protect.yaml"
is_sel rampart-limits-redis && start rampart-limits-redis "$PROXY_CPU" "$TMP/rampart" serve -c "$TMP/rampart-limits-redis.yaml"
is_sel goproxy-post && start goproxy-post "$PROXY_CPU" "$TMP/goproxy" -addr "127.0.0.1:${PORT_OF[goproxy-post]}" -upstream "http://127.0.0.1:$UP_PORT"
for r in rampart-contract rampart-waf rampart-contract-waf rampart-post rampart-contract-post rampart-waf-post rampart-contract-waf-post; do
	is_sel "$r" && start "$r" "$PROXY_CPU" "$TMP/rampart" serve -c "$TMP/$r.yaml"
done
for r in "${SEL[@]}"; do
	[[ $r == direct ]] && PID_OF[direct]=${PID_OF[upstream]}
	wait_ready "$r" "${PORT_OF[$r]}"
	check "$r" "${PORT_OF[$r]}"
done
log "all ${#SEL[@]} targets answer 200 application/json (POST rows: 201; JWT rows: with the token; 401 without it or with a broken signature; rampart-protect: card and SSN masked; contract and WAF rows: their probes refused)"

# ---------------------------------------------------------------- measure
# cpu_busy CPU: "busy total" jiffies of one core from /proc/stat.
cpu_busy() {
	awk -v c="cpu$1" '$1 == c { t = 0; for (i = 2; i <= NF; i++) t += $i; print t - $5 - $6, t }' /proc/stat
}
# to_ms VALUE: wrk's "345.12us" / "1.20ms" / "1.01s" in milliseconds.
to_ms() {
	awk -v v="$1" 'BEGIN {
		if (v ~ /us$/) { sub(/us$/, "", v); printf "%.3f", v / 1000 }
		else if (v ~ /ms$/) { sub(/ms$/, "", v); printf "%.3f", v }
		else if (v ~ /m$/) { sub(/m$/, "", v); printf "%.3f", v * 60000 }
		else if (v ~ /s$/) { sub(/s$/, "", v); printf "%.3f", v * 1000 }
		else print "nan" }'
}

declare -A RPS=() P50=() P99=() ERRS=() CPU0=() CPU1=() UPC=()
# upstream_conns: connections the upstream has accepted so far (this query's own included).
upstream_conns() { curl -sf --max-time 2 "http://127.0.0.1:$UP_PORT/_bench/conns" || die "upstream stats query failed"; }
RAW="$TMP/raw.tsv"
printf 'round\trow\treq_per_s\tp50_ms\tp99_ms\terrors\tproxy_cpu_pct\tload_cpu_pct\tnew_upstream_conns\n' >"$RAW"

measure() { # ROW ROUND
	local row=$1 round=$2 url out b0 b1 a0 a1
	url="http://127.0.0.1:${PORT_OF[$row]}$REQ_PATH"
	out="$TMP/wrk-$row-$round.txt"
	auth_args "$row"
	body_args "$row"
	local -a wrkargs=(-t"$THREADS" -c"$CONNS" --timeout "${WRK_TIMEOUT}s" "${AUTH[@]}" "${WRK_BODY[@]}")
	taskset -c "$LOAD_CPU" wrk "${wrkargs[@]}" -d"${WARMUP}s" "$url" >/dev/null 2>&1 || true
	sleep "$SETTLE"
	local u0 u1
	u0=$(upstream_conns)
	read -r b0 b1 < <(cpu_busy "$PROXY_CPU")
	read -r a0 a1 < <(cpu_busy "$LOAD_CPU")
	taskset -c "$LOAD_CPU" wrk "${wrkargs[@]}" -d"${DURATION}s" --latency "$url" >"$out" 2>&1 ||
		{ cat "$out" >&2; die "wrk failed against $row"; }
	local e0 e1 f0 f1
	read -r e0 e1 < <(cpu_busy "$PROXY_CPU")
	read -r f0 f1 < <(cpu_busy "$LOAD_CPU")
	u1=$(upstream_conns)
	UPC[$row,$round]=$((u1 - u0 - 1))
	kill -0 "${PID_OF[$row]}" 2>/dev/null || { show_failure "$row"; die "$row died under load"; }
	local rps p50 p99 errs
	rps=$(awk '/^Requests\/sec:/ { print $2 }' "$out")
	p50=$(to_ms "$(awk '$1 == "50%" { print $2 }' "$out")")
	p99=$(to_ms "$(awk '$1 == "99%" { print $2 }' "$out")")
	errs=$(awk '/Non-2xx or 3xx responses:/ { n += $NF }
		/Socket errors:/ { gsub(/,/, ""); n += $4 + $6 + $8 + $10 } END { print n + 0 }' "$out")
	[[ -n $rps ]] || { cat "$out" >&2; die "could not parse wrk output for $row"; }
	RPS[$row,$round]=$rps P50[$row,$round]=$p50 P99[$row,$round]=$p99 ERRS[$row,$round]=$errs
	CPU0[$row,$round]=$(awk -v b="$b0" -v t="$b1" -v B="$e0" -v T="$e1" 'BEGIN { printf "%.0f", (T > t) ? 100 * (B - b) / (T - t) : 0 }')
	CPU1[$row,$round]=$(awk -v b="$a0" -v t="$a1" -v B="$f0" -v T="$f1" 'BEGIN { printf "%.0f", (T > t) ? 100 * (B - b) / (T - t) : 0 }')
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$round" "$row" "$rps" "$p50" "$p99" "$errs" \
		"${CPU0[$row,$round]}" "${CPU1[$row,$round]}" "${UPC[$row,$round]}" >>"$RAW"
	log "round $round/$ROUNDS $(printf '%-19s' "$row") $(printf '%10.0f' "$rps") req/s  p50 ${p50}ms  p99 ${p99}ms  errors $errs  cpu$PROXY_CPU ${CPU0[$row,$round]}%  cpu$LOAD_CPU ${CPU1[$row,$round]}%  new upstream conns ${UPC[$row,$round]}"
}

START=$(date +%s)
for ((round = 1; round <= ROUNDS; round++)); do
	for r in "${SEL[@]}"; do measure "$r" "$round"; done
done
ELAPSED=$(($(date +%s) - START))

# ---------------------------------------------------------------- report
median() { printf '%s\n' "$@" | sort -g | awk '{ a[NR] = $1 }
	END { if (NR == 0) print "nan"; else if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }

tool_versions() {
	printf -- '- go: %s\n' "$(go version | awk '{ print $3, $4 }')"
	printf -- '- nginx: %s\n' "$(nginx -v 2>&1 | sed 's/^nginx version: //')"
	printf -- '- haproxy: %s\n' "$(haproxy -v 2>&1 | head -n 1 | awk '{ print $3 }')"
	printf -- '- caddy: %s\n' "$(caddy version 2>&1 | awk '{ print $1 }')"
	printf -- '- wrk: %s\n' "$(wrk -v 2>&1 | head -n 1 | awk '{ print $2 }')"
	printf -- '- go-jose (Rampart JWT verification): %s\n' "$(awk '$1 == "github.com/go-jose/go-jose/v4" { print $2 }' "$REPO/go.mod")"
	printf -- '- fasthttp: %s\n' "$(awk '{ for (i = 1; i < NF; i++) if ($i == "github.com/valyala/fasthttp") print $(i + 1) }' "$BENCH/tools/go.mod")"
	local rev dirty=""
	rev=$(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo unknown)
	[[ -z $(git -C "$REPO" status --porcelain --untracked-files=no 2>/dev/null) ]] || dirty=" (work tree has uncommitted changes)"
	printf -- '- rampart: %s%s\n' "$rev" "$dirty"
}

REPORT="$TMP/report.md"
{
	echo "# Rampart proxy benchmark"
	echo
	echo "- date: $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
	echo "- cpu: $(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo), $NCPU cores; kernel $(uname -r)"
	tool_versions
	echo "- settings: ROUNDS=$ROUNDS DURATION=${DURATION}s WARMUP=${WARMUP}s CONNS=$CONNS THREADS=$THREADS path=$REQ_PATH, upstream body $(wc -c <"$TMP/upstream.check") B JSON"
	echo "- pinning: proxy under test on CPU $PROXY_CPU; wrk and upstream on CPU $LOAD_CPU (taskset); Go programs get GOMAXPROCS=1 from the affinity; nginx worker_processes 1; haproxy nbthread 1"
	echo "- measured for ${ELAPSED}s; rows interleaved, one round = every row once"
	echo
	echo "| # | row | req/s (median) | p50 ms | p99 ms | ratio vs bare Go proxy | req/s per round | errors | cpu$PROXY_CPU % | cpu$LOAD_CPU % | proxy CPU µs/req | new upstream conns |"
	echo "|---|---|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|"
	n=0
	for r in "${ALL_ROWS[@]}"; do
		n=$((n + 1))
		is_sel "$r" || continue
		rps=() p50=() p99=() ratios=() c0=() c1=() per=() upc=() cus=() errs=0
		for ((round = 1; round <= ROUNDS; round++)); do
			rps+=("${RPS[$r,$round]}")
			p50+=("${P50[$r,$round]}")
			p99+=("${P99[$r,$round]}")
			c0+=("${CPU0[$r,$round]}")
			c1+=("${CPU1[$r,$round]}")
			upc+=("${UPC[$r,$round]}")
			per+=("$(printf '%.0f' "${RPS[$r,$round]}")")
			errs=$((errs + ${ERRS[$r,$round]}))
			if is_sel "${BASE_OF[$r]}"; then
				ratios+=("$(awk -v a="${RPS[$r,$round]}" -v b="${RPS[${BASE_OF[$r]},$round]}" 'BEGIN { printf "%.4f", a / b }')")
			fi
			cus+=("$(awk -v c="${CPU0[$r,$round]}" -v r="${RPS[$r,$round]}" 'BEGIN { printf "%.1f", (r > 0) ? c * 10000 / r : 0 }')")
		done
		ratio="n/a"
		((${#ratios[@]} == 0)) || ratio=$(printf '%.2fx' "$(median "${ratios[@]}")")
		printf '| %d | %s | %.0f | %.3f | %.3f | %s | %s | %d | %.0f | %.0f | %.1f | %.0f |\n' "$n" "${LABEL[$r]}" \
			"$(median "${rps[@]}")" "$(median "${p50[@]}")" "$(median "${p99[@]}")" "$ratio" \
			"$(
				IFS=/
				echo "${per[*]}"
			)" "$errs" "$(median "${c0[@]}")" "$(median "${c1[@]}")" "$(median "${cus[@]}")" "$(median "${upc[@]}")"
	done
	echo
	echo "Ratio: for each round, the row's req/s divided by row 2's req/s in the same round (rows 21-24, the POST rows: by row 20's, the bare Go proxy on the same POST); the median of those."
	echo "proxy CPU µs/req: the proxy core's busy time per request (cpu$PROXY_CPU % of the measurement over req/s), median over rounds; what a row costs where the load side, not the proxy, is the limit."
	echo "Timeouts: wrk gives up on a request after ${WRK_TIMEOUT}s and counts it in errors."
	echo "p50/p99: median over rounds of wrk's latency percentiles. cpu %: median busy share of each core during the measurement."
	echo "new upstream conns: median count of connections the upstream accepted during one measurement (wrk's own $CONNS for row 1); far above $CONNS means the proxy is not reusing upstream connections."
	if is_sel rampart-protect; then
		echo
		echo "Row 15 (protect) gets the upstream's /_bench/pii/ body instead: $(curl -s "http://127.0.0.1:$UP_PORT/_bench/pii$REQ_PATH" | wc -c) B JSON from the upstream, $(wc -c <"$TMP/rampart-protect.check") B after masking."
		if is_sel goproxy-pii; then
			pr=()
			for ((round = 1; round <= ROUNDS; round++)); do
				pr+=("$(awk -v a="${RPS[rampart-protect,$round]}" -v b="${RPS[goproxy-pii,$round]}" 'BEGIN { printf "%.4f", a / b }')")
			done
			echo "Row 15 against row 16 (the bare Go proxy on the same 1 KiB body), median of the rounds: $(printf '%.2fx' "$(median "${pr[@]}")")."
		fi
	fi
	if is_sel rampart-log; then
		echo
		echo "Rampart access log written during the run (row 8, warm-ups included): $(wc -l <"$TMP/access.log" 2>/dev/null || echo 0) lines, $(du -h "$TMP/access.log" 2>/dev/null | cut -f1 || echo 0)B."
	fi
} >"$REPORT"

mkdir -p "$BENCH/results"
STAMP=$(date -u +%Y%m%d-%H%M%S)
cp "$REPORT" "$BENCH/results/latest.md"
cp "$REPORT" "$BENCH/results/$STAMP.md"
cp "$RAW" "$BENCH/results/$STAMP-raw.tsv"
cat "$REPORT"
log "written bench/results/latest.md (and $STAMP.md, $STAMP-raw.tsv)"
