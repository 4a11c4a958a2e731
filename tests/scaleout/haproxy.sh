#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# Scale-out test: deploy/haproxy/ for real.  Three echod instances, each in
# its own network namespace, joined by veth pairs to a namespace running
# Debian's HAProxy with deploy/haproxy/haproxy.cfg as it is; a client
# namespace runs echod-bench through HAProxy for 20 s, verifying every byte.
# Meanwhile instance 1 reloads with another worker count, instance 2 stops
# gracefully (drain_delay) and starts again, instance 3 is binary-upgraded
# if this echod can (-s upgrade).  Passes if no connection failed, no byte
# was wrong, and each instance's log names the client's real address (from
# the PROXY header), never only the balancer's.
#
#   tests/scaleout/haproxy.sh BUILD_DIR
#
# SCALEOUT_BENCH=1 measures throughput through HAProxy and to one instance
# alone instead (bench/README.md); SCALEOUT_KEEP=1 keeps the work directory.
#
# Prints "ok scaleout-haproxy" or "not ok scaleout-haproxy # why" (.ci/run
# counts it); exits 1 on failure.  Needs root (namespaces); without it, or
# without haproxy, prints "ok ... # SKIP why".  Uses only 10.213.0.0/16
# inside the namespaces it creates, and removes them; stops only the
# processes it started, by PID.  Bounded: every wait has a deadline.
set -u
cd "$(dirname "$0")/../.." || exit 1
top=$(pwd)
build=${1:-_build}
case $build in /*) ;; *) build=$top/$build ;; esac
ECHOD=$build/src/echod
BENCH=$build/src/client/echod-bench
DURATION=${SCALEOUT_SECONDS:-20}
name=scaleout-haproxy

skip() {
	echo "ok $name # SKIP $1"
	exit 0
}
[ "$(id -u)" -eq 0 ] || skip "needs root for network namespaces"

# Debian packages this test needs; the missing ones are installed.  Debian's
# haproxy package does not start its own service where policy-rc.d says no
# (containers, CI); where it does, that haproxy has no frontend and is left
# alone: ours runs in its own namespace with its own file.
PACKAGES="haproxy iproute2 procps"
missing=""
for p in $PACKAGES; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' ||
		missing="$missing $p"
done
if [ -n "$missing" ]; then
	echo "scaleout: installing$missing" >&2
	# shellcheck disable=SC2086 # one word per package
	{ timeout 300 apt-get update -q &&
		DEBIAN_FRONTEND=noninteractive timeout 600 apt-get install -y -q \
			--no-install-recommends $missing; } >&2 ||
		{ echo "not ok $name # cannot install$missing"; exit 1; }
fi
command -v haproxy >/dev/null || skip "haproxy is not installed"
if [ ! -x "$ECHOD" ] || [ ! -x "$BENCH" ]; then
	skip "no echod or echod-bench in $build"
fi

id=$$
ns_cl=echod-sc$id-cl
ns_lb=echod-sc$id-lb
W=$(mktemp -d /tmp/echod-scaleout.XXXXXX) || exit 1
pids=()
made_ns=()

declare -A epid # echod instance -> its master's pid
cleanup() {
	local p n
	# echod: QUIT, an immediate stop (TERM would drain first).
	for p in "${epid[@]}"; do
		kill -QUIT "$p" 2>/dev/null
	done
	for p in "${pids[@]}"; do
		kill "$p" 2>/dev/null
	done
	for p in "${pids[@]}"; do
		wait "$p" 2>/dev/null
	done
	for n in "${made_ns[@]}"; do
		ip netns del "$n" 2>/dev/null
	done
	if [ "${SCALEOUT_KEEP:-0}" = 1 ]; then
		echo "scaleout: work directory kept in $W" >&2
	else
		rm -rf "$W"
	fi
}
trap cleanup EXIT
trap 'exit 143' TERM INT

fail() {
	echo "not ok $name # $1"
	for f in "$W"/*.log "$W"/bench.json; do
		[ -f "$f" ] || continue
		echo "--- $f (last lines)"
		tail -n 15 "$f" | sed 's/^/    /'
	done
	exit 1
}

# wait_for SECONDS COMMAND...: poll every 0.1 s until COMMAND succeeds.
wait_for() {
	local end=$((SECONDS + $1))
	shift
	until "$@"; do
		[ "$SECONDS" -lt "$end" ] || return 1
		sleep 0.1
	done
}
# wait_exit SECONDS PID: wait (bounded) for a child of ours to exit.
wait_exit() {
	local end=$((SECONDS + $1))
	while kill -0 "$2" 2>/dev/null; do
		[ "$SECONDS" -lt "$end" ] || return 1
		sleep 0.1
	done
	wait "$2"
}
log_has() {
	grep -q -- "$2" "$1" 2>/dev/null
}

# ---- network: cl -- lb -- e1, e2, e3 (10.213.N.1 on lb, .2 beyond) -------
mkns() {
	ip netns add "$1" || fail "cannot create namespace $1"
	made_ns+=("$1")
	ip -n "$1" link set lo up
}
# link NS_A ADDR_A NS_B ADDR_B IFNAME_A IFNAME_B
link() {
	ip link add "$5" netns "$1" type veth peer name "$6" netns "$3" || fail "veth $5"
	ip -n "$1" addr add "$2/24" dev "$5"
	ip -n "$3" addr add "$4/24" dev "$6"
	ip -n "$1" link set "$5" up
	ip -n "$3" link set "$6" up
}
mkns "$ns_cl"
mkns "$ns_lb"
link "$ns_lb" 10.213.0.1 "$ns_cl" 10.213.0.2 lb0 cl0
for n in 1 2 3; do
	mkns "echod-sc$id-e$n"
	link "$ns_lb" "10.213.$n.1" "echod-sc$id-e$n" "10.213.$n.2" "lb$n" "e$n"
done
ip -n "$ns_cl" route add 10.213.0.0/16 via 10.213.0.1
# A second client address for the direct checks, so that 10.213.0.2 in an
# instance's log can only have come through HAProxy.
ip -n "$ns_cl" addr add 10.213.0.3/24 dev cl0
# lb also routes, so that the client can reach an instance directly (its
# readiness check, and the throughput comparison of SCALEOUT_BENCH=1).
ip netns exec "$ns_lb" sysctl -q -w net.ipv4.ip_forward=1 \
	net.ipv4.ip_local_port_range="10000 65000" net.ipv4.tcp_tw_reuse=1
for n in 1 2 3; do
	ip -n "echod-sc$id-e$n" route add 10.213.0.0/16 via "10.213.$n.1"
done
# Thousands of short connections from one client address: widen the range.
ip netns exec "$ns_cl" sysctl -q -w net.ipv4.ip_local_port_range="10000 65000" net.ipv4.tcp_tw_reuse=1

# ---- echod instances, from deploy/haproxy/echod.conf -----------------------
# The deployed file, with only what a test needs changed: two workers, a
# log file at debug level (it names each client), a pid file.
conf() { # conf N WORKERS
	sed -e "s|^workers = .*|workers = $2;|" \
		-e "s|target = \"stderr\";|target = \"$W/echod$1.log\";|" \
		-e 's|level = "info";|level = "debug";|' \
		"$top/deploy/haproxy/echod.conf" >"$W/echod$1.conf"
	echo "pid_file = \"$W/echod$1.pid\";" >>"$W/echod$1.conf"
}
# Serving: an echo comes back from the instance itself, reached directly
# (lb routes) with the PROXY header HAProxy would send.  Judged by the
# echo, not by a log line, so that rewording a log does not break it.
serving() { # serving N
	ip netns exec "$ns_cl" "$BENCH" -H "10.213.$1.2" -p 7 -S 10.213.0.3 --proxy 2 -n 1 \
		--connect-rate -t 1 --json 2>/dev/null | grep -q '"ok": true'
}
start_echod() { # start_echod N
	ip netns exec "echod-sc$id-e$1" "$ECHOD" -c "$W/echod$1.conf" 2>>"$W/echod$1.stderr" &
	epid[$1]=$!
	pids+=("$!")
	wait_for 10 serving "$1" || fail "echod $1 did not start"
}
# The master's children: its workers.
workers_are() { # workers_are N COUNT
	[ "$(pgrep -c -P "${epid[$1]}")" -eq "$2" ]
}
for n in 1 2 3; do
	conf "$n" 2
	"$ECHOD" -t -c "$W/echod$n.conf" >/dev/null || fail "echod$n.conf does not pass -t"
	start_echod "$n"
done

# ---- HAProxy, with the deployed file as it is ------------------------------
ip netns exec "$ns_lb" haproxy -db -f "$top/deploy/haproxy/haproxy.cfg" >"$W/haproxy.log" 2>&1 &
hpid=$!
pids+=("$hpid")
# Up when a client gets its echo through it.
through() {
	local out
	out=$(ip netns exec "$ns_cl" "$BENCH" -H 10.213.0.1 -p 7 -n 3 --connect-rate -t 2 \
		--json 2>/dev/null) && echo "$out" | grep -q '"ok": true'
}
wait_for 10 through || fail "no echo through HAProxy"
# Every server passed its checks (rise 2 x 500 ms) before the load starts.
all_up() {
	local n
	! grep -q 'is DOWN' "$W/haproxy.log" || return 1
	for n in 1 2 3; do
		log_has "$W/echod$n.log" "PROXY v2 header, client (local" || return 1
	done
}
wait_for 10 all_up || fail "the health checks do not pass"

# ---- SCALEOUT_BENCH=1: throughput through HAProxy against echod alone -----
# (bench/README.md): S1 (50 connections, 64 B request/response) and S5
# (connect, 64 B, close; 50 at a time), SCALEOUT_BENCH_SECONDS each; echod
# alone is instance 1 reached directly, with the header HAProxy would send.
if [ "${SCALEOUT_BENCH:-0}" = 1 ]; then
	bs=${SCALEOUT_BENCH_SECONDS:-5}
	figure() { # figure NAME JQ-FIELD ARGS...
		local label=$1 field=$2 out
		shift 2
		out=$(ip netns exec "$ns_cl" "$BENCH" --json --no-progress -d "$bs" "$@" 2>&1)
		echo "$label: $(echo "$out" | sed -n "s/.*\"$field\": \([0-9.]*\).*/\1/p" | head -n 1)/s," \
			"errors $(echo "$out" | sed -n 's/.*"errors": {"total": \([0-9]*\).*/\1/p')"
	}
	for r in 1 2 3; do
		figure "run $r S1 echod alone" messages_per_s -H 10.213.1.2 -p 7 -S 10.213.0.3 \
			--proxy 2 -c 50 -s 64
		figure "run $r S1 via HAProxy" messages_per_s -H 10.213.0.1 -p 7 -c 50 -s 64
		figure "run $r S5 echod alone" connects_per_s -H 10.213.1.2 -p 7 -S 10.213.0.3 \
			--proxy 2 --connect-rate -c 50 -s 64
		figure "run $r S5 via HAProxy" connects_per_s -H 10.213.0.1 -p 7 --connect-rate -c 50 -s 64
	done
	exit 0
fi

# ---- the load, and what happens under it -----------------------------------
t0=$SECONDS
ip netns exec "$ns_cl" "$BENCH" -H 10.213.0.1 -p 7 -c 8 --connect-rate -r 400 -s 64-2048 \
	-d "$DURATION" -t 5 --json --no-progress >"$W/bench.json" 2>"$W/bench.log" &
bpid=$!
pids+=("$bpid")
sleep 3 # let the load settle on all three before disturbing it

# 1: reload with another worker count.
conf 1 3
kill -HUP "${epid[1]}"
# Reloaded: three workers of the new generation, the old two gone.
wait_for 15 workers_are 1 3 || fail "echod 1 did not reload to 3 workers"
echo "scaleout: echod 1 reloaded to 3 workers at $((SECONDS - t0)) s" >&2

# 2: graceful stop with drain_delay, then start again.
kill -TERM "${epid[2]}"
wait_exit 20 "${epid[2]}" || fail "echod 2 did not stop within 20 s"
grep -q 'echod2 is DOWN' "$W/haproxy.log" || fail "HAProxy never took echod 2 out"
echo "scaleout: echod 2 drained and stopped at $((SECONDS - t0)) s" >&2
start_echod 2
back() { [ "$(grep -c 'echod2 is UP' "$W/haproxy.log")" -ge 1 ]; }
wait_for 10 back || fail "HAProxy did not take echod 2 back"
echo "scaleout: echod 2 back at $((SECONDS - t0)) s" >&2

# 3: binary upgrade, if this echod has it (the handover issue adds it).
# The new master is the old one's child, ours only by descent: its pid
# comes from the pid file, and it is stopped by that pid at the end.
if "$ECHOD" -h 2>&1 | grep -q upgrade; then
	old=${epid[3]}
	"$ECHOD" -c "$W/echod3.conf" -s upgrade >>"$W/echod3.stderr" 2>&1 ||
		fail "echod -s upgrade failed"
	upgraded() { log_has "$W/echod3.log" "upgraded to pid"; }
	wait_for 40 upgraded || fail "echod 3 did not upgrade"
	epid[3]=$(cat "$W/echod3.pid")
	pids+=("${epid[3]}")
	wait_exit 20 "$old" || fail "the old echod 3 did not exit after the upgrade"
	echo "scaleout: echod 3 upgraded to pid ${epid[3]} at $((SECONDS - t0)) s" >&2
	upgrade_note=", 3 upgraded"
else
	upgrade_note=", 3 not upgraded (no -s upgrade in this echod)"
fi

wait_exit $((DURATION + 30)) "$bpid"
brc=$?

# ---- verdict -----------------------------------------------------------------
[ "$brc" -eq 0 ] || fail "echod-bench failed (status $brc)"
grep -q '"ok": true' "$W/bench.json" || fail "echod-bench reported errors"
grep -q '"errors": {"total": 0' "$W/bench.json" || fail "echod-bench counted errors"
grep -q '"failed": 0' "$W/bench.json" || fail "connections failed"
opened=$(sed -n 's/.*"opened": \([0-9]*\).*/\1/p' "$W/bench.json")
[ "${opened:-0}" -ge $((DURATION * 100)) ] || fail "only ${opened:-0} connections in ${DURATION} s"
for n in 1 2 3; do
	c=$(grep -c "header, client 10\.213\.0\.2:" "$W/echod$n.log")
	[ "$c" -gt 0 ] || fail "echod $n never logged the client 10.213.0.2"
	echo "scaleout: echod $n: $c connections from 10.213.0.2 (the real client)" >&2
done
mps=$(sed -n 's/.*"connects_per_s": \([0-9.]*\).*/\1/p' "$W/bench.json")
echo "ok $name # $opened connections (${mps}/s) through HAProxy, 0 failed, 0 wrong bytes; 1 reloaded, 2 drained and restarted$upgrade_note"
