#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# Packaging CI: builds the "make dist" tarball, the Debian package and the RPM
# from it, lints all of it (man pages, unit, lintian, blhc, rpmlint), installs
# the .deb, runs the installed daemon exactly as echod.service would (its
# ExecStartPre, ExecStart, ExecReload, user, capabilities, limits, and a
# NOTIFY_SOCKET read here), then purges the package.
#
# Prints one "ok NAME" or "not ok NAME" line per check (.ci/run counts them),
# then "packaging: N passed, N failed"; exits 1 if a check failed.  Run as
# root on Debian 12 from a source tree on which autogen.sh has run (dev.sh
# does that).  Talks only to 127.0.0.1 and ::1 and stops only the processes
# it started.  Last, the .deb is installed and its service run under a real
# systemd, in a container booted with systemd-nspawn (ECHOD_PKG_NSPAWN=0
# skips that).  ECHOD_PKG_KEEP=1 keeps the work directory.
set -u
# shellcheck disable=SC2317 # the check functions are called through check()
cd "$(dirname "$0")/.." || exit 1
top=$(pwd)

# Debian packages this script needs; the missing ones are installed.
PACKAGES="build-essential autoconf automake pkg-config libconfig-dev libcmocka-dev libseccomp-dev
	liburing-dev mandoc groff-base man-db debhelper lintian blhc rpm rpmlint systemd
	logrotate python3 procps iproute2 util-linux binutils strace
	debootstrap systemd-container"

W=$(mktemp -d /tmp/echod-pkg.XXXXXX) || exit 1
chmod 0755 "$W"
npass=0
nfail=0
pids=()	# the background helpers started here, stopped on exit
master=""	# the echod master started here, until it has been waited for

ok() {
	echo "ok $1"
	npass=$((npass + 1))
}
notok() {
	echo "not ok $1${2:+ # $2}"
	nfail=$((nfail + 1))
}
# check NAME COMMAND...: one check, run in this shell, whose output goes to
# $W/NAME.out and is shown when it fails; a last line "note: TEXT" goes on
# the "ok" line.  Returns the check's status.
check() {
	local name=$1 note
	shift
	if "$@" >"$W/$name.out" 2>&1; then
		note=$(tail -n 1 "$W/$name.out" | sed -n 's/^note: //p')
		ok "$name${note:+ # $note}"
	else
		notok "$name"
		sed 's/^/    /' "$W/$name.out" | tail -n 40
		return 1
	fi
}
cleanup() {
	local p
	for p in "${pids[@]}" ${master:+"$master"}; do
		kill "$p" 2>/dev/null
	done
	wait 2>/dev/null
	if [ "${ECHOD_PKG_KEEP:-0}" = 1 ]; then
		echo "packaging: work directory kept in $W" >&2
	else
		rm -rf "$W"
	fi
}
trap cleanup EXIT
trap 'exit 143' TERM INT
finish() {
	echo "packaging: $npass passed, $nfail failed"
	[ "$nfail" -eq 0 ] && [ "$npass" -gt 0 ]
	exit $?
}

# ---- dependencies -----------------------------------------------------------
install_deps() {
	local p missing=""
	for p in $PACKAGES; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' ||
			missing="$missing $p"
	done
	[ -z "$missing" ] && return 0
	echo "installing$missing"
	# shellcheck disable=SC2086 # one word per package
	timeout 300 apt-get update -q &&
		DEBIAN_FRONTEND=noninteractive timeout 600 apt-get install -y -q \
			--no-install-recommends $missing
}
check deps install_deps || finish

# ---- the tarball ------------------------------------------------------------
make_dist() (
	[ -x configure ] || ./autogen.sh || exit 1
	mkdir -p "$W/dist" && cd "$W/dist" || exit 1
	"$top/configure" -q && make -s dist
)
check dist-tarball make_dist || finish
version=$(sed -n 's/^PACKAGE_VERSION = //p' "$W/dist/Makefile")
tarball=$W/dist/echod-$version.tar.gz

# ---- man pages --------------------------------------------------------------
man_mandoc() {
	local m rc=0
	for m in man/*.[1-8]; do
		mandoc -Tlint -W warning "$m" || rc=1
	done
	return "$rc"
}
# What lintian runs: any groff warning fails.
man_groff() {
	local m out rc=0
	for m in man/*.[1-8]; do
		out=$(LC_ALL=C.UTF-8 MANROFFSEQ='' MANWIDTH=80 \
			man --warnings -E UTF-8 -l -Tutf8 -Z "$m" 2>&1 >/dev/null)
		[ -z "$out" ] || { echo "$m: $out"; rc=1; }
	done
	return "$rc"
}
check man-mandoc-lint man_mandoc
check man-groff-warnings man_groff

# ---- Debian package ---------------------------------------------------------
deb_build() (
	mkdir -p "$W/deb" && cd "$W/deb" || exit 1
	cp "$tarball" "echod_$version.orig.tar.gz" && tar xzf "echod_$version.orig.tar.gz" &&
		cp -r "echod-$version/packaging/debian" "echod-$version/debian" || exit 1
	debver=$(cd "echod-$version" && dpkg-parsechangelog -S Version)
	if [ "${debver%-*}" != "$version" ]; then
		echo "debian/changelog says $debver, configure.ac $version"
		exit 1
	fi
	# The package's own build runs the test suite (dh_auto_test) on the
	# unpacked tarball: proof that the tarball holds everything.
	(cd "echod-$version" && timeout 600 dpkg-buildpackage -us -uc) >build.log 2>&1
	rc=$?
	tail -n 30 build.log
	[ "$rc" -eq 0 ] && echo "note: make check in the package build: $(sed -n \
		's/^# PASS: *\([0-9]*\)/\1 passed/p; s/^# FAIL: *\([0-9]*\)/\1 failed/p' \
		build.log | paste -sd, -)"
	exit "$rc"
)
check deb-build deb_build || finish
deb=$(ls "$W"/deb/echod_"$version"-*_*.deb)
changes=$(ls "$W"/deb/echod_"$version"-*_*.changes)
# The same source as a newer version, for the upgrade check under systemd:
# installing it over the running service must end no connection.  Built
# without its tests (the first build ran them).
deb_build_newer() (
	cd "$W/deb" && rm -rf newer && mkdir newer && cp -r "echod-$version" newer/ &&
		cd "newer/echod-$version" || exit 1
	debver=$(dpkg-parsechangelog -S Version)
	{
		printf 'echod (%s+ci1) unstable; urgency=medium\n\n' "$debver"
		printf '  * CI: the same source, newer, to test a package upgrade.\n\n'
		printf ' -- echod maintainers <echod@example.org>  %s\n\n' "$(date -R)"
		cat debian/changelog
	} >debian/changelog.new && mv debian/changelog.new debian/changelog &&
		DEB_BUILD_OPTIONS=nocheck timeout 600 dpkg-buildpackage -us -uc -b >../build.log 2>&1 ||
		{ tail -n 30 ../build.log; exit 1; }
)
check deb-build-newer deb_build_newer
deb_newer=$(ls "$W"/deb/newer/echod_"$version"-*+ci1_*.deb 2>/dev/null)
deb_lint() {
	local out rc
	out=$(lintian --fail-on error,warning --display-info "$changes" 2>&1)
	rc=$?
	echo "$out"
	echo "note: $(grep -c '^E:' <<<"$out") errors, $(grep -c '^W:' <<<"$out") warnings," \
		"$(grep -c '^I:' <<<"$out") infos"
	return "$rc"
}
check lintian deb_lint
check blhc blhc --bindnow --debian "$W/deb/build.log"

# ELF hardening of what was built: PIE, full RELRO, stack protector, fortify.
deb_hardening() {
	local x="$W/deb/x" f rc=0
	dpkg-deb -x "$deb" "$x" || return 1
	for f in "$x/usr/sbin/echod" "$x/usr/bin/echod-bench"; do
		readelf -hW "$f" | grep -q 'Type:.*DYN' || { echo "$f: not PIE"; rc=1; }
		readelf -lW "$f" | grep -q GNU_RELRO || { echo "$f: no RELRO"; rc=1; }
		readelf -dW "$f" | grep -q 'BIND_NOW' || { echo "$f: no BIND_NOW"; rc=1; }
		readelf -sW --dyn-syms "$f" | grep -q '__stack_chk_fail' ||
			{ echo "$f: no stack protector"; rc=1; }
		readelf -sW --dyn-syms "$f" | grep -q '__[a-z]*_chk@' ||
			{ echo "$f: no fortified call"; rc=1; }
	done
	return "$rc"
}
check deb-hardening deb_hardening
deb_contents() {
	local c="$W/deb/control"
	dpkg-deb -e "$deb" "$c" || return 1
	dpkg-deb -c "$deb" >"$W/deb/contents" || return 1
	grep -qx /etc/echod.conf "$c/conffiles" || { echo "/etc/echod.conf is no conffile"; return 1; }
	grep -q ' \./lib/systemd/system/echod\.service$' "$W/deb/contents" || { echo "no unit"; return 1; }
	grep -q ' \./usr/lib/sysusers\.d/echod\.conf$' "$W/deb/contents" || { echo "no sysusers"; return 1; }
	grep -q 'systemd-sysusers.*echod\.conf' "$c/postinst" || { echo "postinst makes no user"; return 1; }
	grep -q "deb-systemd-helper enable 'echod.service'" "$c/postinst" ||
		{ echo "postinst does not enable the unit"; return 1; }
}
check deb-contents deb_contents

# ---- RPM --------------------------------------------------------------------
# Debian's rpm: the dependencies are Debian packages (--nodeps), the suite ran
# in the Debian build (--nocheck), and macros.debian supplies the systemd
# macros.
rpm_build() {
	mkdir -p "$W/rpm" || return 1
	timeout 300 rpmbuild -tb --nodeps --nocheck --define "_topdir $W/rpm" \
		--load "$top/packaging/rpm/macros.debian" \
		"$tarball" >"$W/rpm/build.log" 2>&1
	local rc=$?
	tail -n 20 "$W/rpm/build.log"
	return "$rc"
}
check rpm-build rpm_build
rpm=$(ls "$W"/rpm/RPMS/*/echod-"$version"-*.rpm 2>/dev/null | head -n 1)
rpm_contents() {
	[ -n "$rpm" ] || return 1
	rpm -qp --qf '[%{FILEFLAGS:fflags} %{FILENAMES}\n]' "$rpm" | grep -qx 'cn /etc/echod.conf' ||
		{ echo "/etc/echod.conf is not %config(noreplace)"; return 1; }
	rpm -qp --scripts "$rpm" >"$W/rpm/scripts" || return 1
	grep -q 'useradd .*_echod' "$W/rpm/scripts" || { echo "%pre makes no user"; return 1; }
	grep -q 'systemctl --no-reload preset echod.service' "$W/rpm/scripts" &&
		grep -q 'systemctl --no-reload disable .*echod.service' "$W/rpm/scripts" &&
		grep -q 'echod -s upgrade' "$W/rpm/scripts" ||
		{ echo "systemd scriptlets missing"; return 1; }
	rpm -qpl "$rpm" >"$W/rpm/files" || return 1
	local f
	for f in /usr/lib/systemd/system/echod.service /usr/lib/sysusers.d/echod.conf \
		/etc/logrotate.d/echod /usr/sbin/echod /usr/bin/echod-bench \
		/usr/share/man/man8/echod.8.gz /usr/share/man/man5/echod.conf.5.gz \
		/usr/share/man/man1/echod-bench.1.gz; do
		grep -qx "$f" "$W/rpm/files" || { echo "$f missing"; return 1; }
	done
}
check rpm-contents rpm_contents
rpm_lint() {
	[ -n "$rpm" ] || return 1
	tar xzf "$tarball" -C "$W/rpm" "echod-$version/packaging/rpm/echod.spec" &&
		rpmlint -c "$top/packaging/rpm/rpmlint.toml" \
			"$W/rpm/echod-$version/packaging/rpm/echod.spec" "$rpm" >"$W/rpm/lint" 2>&1
	local rc=$?
	cat "$W/rpm/lint"
	echo "note: $(grep -o '[0-9]* errors, [0-9]* warnings' "$W/rpm/lint")"
	[ "$rc" -eq 0 ] && grep -q ' 0 errors, 0 warnings' "$W/rpm/lint"
}
check rpmlint rpm_lint

# ---- install the .deb -------------------------------------------------------
unit=/lib/systemd/system/echod.service
check deb-install timeout 120 dpkg -i "$deb" || finish
check deb-user getent passwd _echod
check unit-verify bash -c "out=\$(systemd-analyze verify $unit 2>&1); echo \"\$out\"; [ -z \"\$out\" ]"
unit_security() {
	local score
	systemd-analyze security --offline=true "$unit" >"$W/security" 2>&1
	score=$(sed -n 's/.*Overall exposure level for echod.service: \([0-9.]*\).*/\1/p' "$W/security")
	cat "$W/security"
	echo "note: exposure ${score:-unknown} (at most 2.0)"
	[ -n "$score" ] && awk -v s="$score" 'BEGIN { exit !(s <= 2.0) }'
}
check unit-security unit_security
check logrotate-config logrotate -d /etc/logrotate.d/echod

# ---- run the installed daemon as echod.service would -----------------------
# unit_get KEY: the values of KEY= in the installed unit, one a line.
unit_get() {
	sed -n "s/^$1=//p" "$unit"
}
user=$(unit_get User)
group=$(unit_get Group)
caps=$(unit_get AmbientCapabilities | tr '[:upper:]' '[:lower:]' | sed 's/cap_//g; s/ /,+/g')
nofile=$(unit_get LimitNOFILE)
umask_=$(unit_get UMask)
rundir=/run/$(unit_get RuntimeDirectory)
# service_exec CMD...: become CMD with the unit's user, group, capabilities,
# limits, umask and no_new_privs, in a clean environment; as_service runs it
# in a subshell.
service_exec() {
	umask "$umask_" && ulimit -n "$nofile" && cd / &&
		exec env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin ${NOTIFY_SOCKET:+NOTIFY_SOCKET=$NOTIFY_SOCKET} \
			setpriv --reuid="$user" --regid="$group" --init-groups \
			--inh-caps=-all,+"$caps" --ambient-caps=-all,+"$caps" \
			--bounding-set=-all,+"$caps" --no-new-privs "$@"
}
as_service() {
	(service_exec "$@")
}
# exec_lines KEY: run every KEY= command line of the unit as the service
# does, with $MAINPID set; stop at the first failure.
exec_lines() {
	local line
	while IFS= read -r line; do
		line=${line//\$MAINPID/$mainpid}
		echo "+ $line"
		# shellcheck disable=SC2086 # the unit's command line, split as systemd does
		as_service $line || return 1
	done < <(unit_get "$1")
}
# echo_check PROTO HOST: one exchange with port 7 of HOST; the reply must
# be the bytes sent.
echo_check() {
	timeout 10 python3 - "$1" "$2" <<'EOF'
import socket, sys
proto, host = sys.argv[1], sys.argv[2]
fam = socket.AF_INET6 if ":" in host else socket.AF_INET
kind = socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM
data = b"echod packaging check " + proto.encode() + b" " + host.encode() + b"\n"
with socket.socket(fam, kind) as s:
    s.settimeout(5)
    s.connect((host, 7))
    s.sendall(data)
    got = b""
    while len(got) < len(data):
        chunk = s.recv(4096)
        if not chunk:
            break
        got += chunk
if got != data:
    sys.exit("sent %r, got %r" % (data, got))
EOF
}
# wait_for SECONDS COMMAND...: poll COMMAND every 0.1 s until it succeeds.
wait_for() {
	local n=$(($1 * 10))
	shift
	while ! "$@"; do
		n=$((n - 1))
		[ "$n" -gt 0 ] || return 1
		sleep 0.1
	done
}
# The notify log holds one line per datagram: "pid=PID MESSAGE...".
notified() {
	grep -q "$1" "$W/notify.log"
}

# Port 7 for the echo, 9707 for the packaged configuration's metrics.
port7=$(ss -Hlntu 'sport = :7 or sport = :9707' 2>/dev/null)
if [ -n "$port7" ]; then
	notok port-7-free "something listens on port 7 or 9707 already; the installed-daemon checks need them:"
	echo "$port7" | sed 's/^/    /'
else
	ok port-7-free
	mkdir -m 0711 "$W/notify" && chown "$user:$group" "$W/notify"
	NOTIFY_SOCKET=$W/notify/sock
	# The service manager's end: a datagram socket that records each message
	# with the sender's pid (systemd checks it for NotifyAccess=main).
	python3 -u - "$NOTIFY_SOCKET" >>"$W/notify.log" 2>&1 <<'EOF' &
import os, socket, struct, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
os.chmod(sys.argv[1], 0o666)
s.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
while True:
    msg, anc, _, _ = s.recvmsg(4096, socket.CMSG_SPACE(12))
    pid = "?"
    for level, kind, data in anc:
        if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
            pid = struct.unpack("iII", data[:12])[0]
    print("pid=%s %s" % (pid, msg.decode(errors="replace").replace("\n", " ")))
EOF
	pids+=($!)
	wait_for 5 test -S "$NOTIFY_SOCKET" || notok notify-socket

	# RuntimeDirectory=: made for the service user before the start.
	rm -rf "$rundir" && mkdir -m 0755 "$rundir" && chown "$user:$group" "$rundir"
	mainpid=""
	check unit-exec-start-pre exec_lines ExecStartPre
	read -r -a start <<<"$(unit_get ExecStart)"
	# In the background, the function's subshell becomes echod: $! is the
	# master, as MAINPID would be.
	service_exec "${start[@]}" >"$W/echod.log" 2>&1 &
	mainpid=$!
	master=$mainpid	# still to be waited for
	if wait_for 15 notified "READY=1"; then
		ok notify-ready
	else
		notok notify-ready "no READY=1 within 15 s"
		sed 's/^/    /' "$W/echod.log" "$W/notify.log" | tail -n 30
	fi
	check notify-from-main-pid bash -c "grep READY=1 '$W/notify.log' | head -n 1 |
		grep -q '^pid=$mainpid .*MAINPID=$mainpid'"
	# The master and its workers: the service user, CAP_NET_BIND_SERVICE only.
	# The master keeps CAP_NET_BIND_SERVICE (for a reload); its workers
	# drop it, and run under their own seccomp filter as well.
	creds() {
		local p rc=0 workers want
		workers=$(pgrep -P "$mainpid")
		[ -n "$workers" ] || { echo "no workers"; return 1; }
		for p in "$mainpid" $workers; do
			want=0000000000000000
			[ "$p" = "$mainpid" ] && want=0000000000000400
			awk -v p="$p" -v u="$(id -u "$user")" -v want="$want" '
				/^Uid:/ { uid = ($2 == u && $3 == u && $4 == u && $5 == u) }
				/^CapEff:/ { eff = $2 } /^CapBnd:/ { bnd = $2 } /^Seccomp:/ { sc = $2 }
				END { ok = uid && eff == want && bnd == "0000000000000400" &&
				           (want != "0000000000000000" || sc == 2)
				      if (!ok) print "pid " p ": uid ok=" uid " CapEff " eff " CapBnd " bnd \
				                     " Seccomp " sc
				      exit !ok }' "/proc/$p/status" || rc=1
		done
		return "$rc"
	}
	check service-credentials creds
	check pid-file bash -c "[ \"\$(cat $rundir/echod.pid)\" = $mainpid ] &&
		[ \"\$(stat -c %U $rundir/echod.pid)\" = $user ]"
	check echo-tcp4 echo_check tcp 127.0.0.1
	check echo-udp4 echo_check udp 127.0.0.1
	if ip -6 addr show dev lo 2>/dev/null | grep -q '::1'; then
		check echo-tcp6 echo_check tcp ::1
	fi

	# ExecReload: check the file, then HUP; a new generation replaces the
	# workers, which the master announces with READY=1 again.
	old_workers=$(pgrep -P "$mainpid")
	old_gone() {
		local p
		for p in $old_workers; do
			[ "$(ps -o ppid= -p "$p" 2>/dev/null | tr -d ' ')" != "$mainpid" ] || return 1
		done
	}
	two_ready() {
		[ "$(grep -c READY=1 "$W/notify.log")" -ge 2 ]
	}
	reload() {
		exec_lines ExecReload || return 1
		wait_for 15 notified "RELOADING=1" || { echo "no RELOADING=1"; return 1; }
		wait_for 15 two_ready || { echo "no READY=1 after the reload"; return 1; }
		wait_for 15 old_gone || { echo "the old workers still run"; return 1; }
		[ -n "$(pgrep -P "$mainpid")" ] || { echo "no new workers"; return 1; }
		echo_check tcp 127.0.0.1
	}
	check unit-exec-reload reload
	# ExecReload when the master rejects the reload: a new listen entry on
	# a port that something else holds.  It must fail, name the address,
	# and leave the old configuration serving.
	reload_rejected() {
		local busy rc=0 port
		python3 -c 'import socket, time
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen()
print(s.getsockname()[1], flush=True); time.sleep(60)' >"$W/busy.port" &
		busy=$!
		pids+=("$busy")
		wait_for 5 test -s "$W/busy.port" || { echo "no busy port"; return 1; }
		port=$(cat "$W/busy.port")
		cp /etc/echod.conf "$W/echod.conf.orig" &&
			sed -i "s/^listen = (/listen = (\n  { address = \"127.0.0.1\"; port = $port; },/" \
				/etc/echod.conf || return 1
		if exec_lines ExecReload >"$W/reload-rejected.out" 2>&1; then
			echo "the reload succeeded"
			rc=1
		fi
		cat "$W/reload-rejected.out"
		grep -q "cannot listen on tcp 127.0.0.1:$port" "$W/reload-rejected.out" ||
			{ echo "the address is not named"; rc=1; }
		cp "$W/echod.conf.orig" /etc/echod.conf
		kill "$busy"
		[ "$rc" -eq 0 ] && echo_check tcp 127.0.0.1
	}
	check unit-exec-reload-rejected reload_rejected
	# What the master says about itself: -s status over the control socket
	# and GET /metrics on the packaged address.
	check status as_service /usr/sbin/echod -s status
	metrics() {
		timeout 10 python3 - <<'EOF'
import urllib.request
page = urllib.request.urlopen("http://127.0.0.1:9707/metrics", timeout=5).read().decode()
for want in ("echod_build_info{", "echod_reloads_total{result=\"rejected\"} 1",
             "echod_connections_accepted_total{listener=\"tcp 0.0.0.0:7\"}"):
    if want not in page:
        raise SystemExit("no %s in:\n%s" % (want, page))
EOF
	}
	check metrics-scrape metrics
	# What logrotate's postrotate runs, as the user of its "su" line.
	check logrotate-reopen as_service /usr/sbin/echod -s reopen

	# Stop: KillMode=mixed sends SIGTERM to the master only.
	workers=$(pgrep -P "$mainpid")
	stop() {
		kill -TERM "$mainpid" || return 1
		local t=0
		while kill -0 "$mainpid" 2>/dev/null; do
			t=$((t + 1))
			[ "$t" -lt 300 ] || { echo "master still runs after 30 s"; return 1; }
			sleep 0.1
		done
		wait "$mainpid"
		local rc=$? p
		master=""
		[ "$rc" -eq 0 ] || { echo "master exited $rc"; return 1; }
		notified STOPPING=1 || { echo "no STOPPING=1"; return 1; }
		for p in $workers; do
			[ ! -d "/proc/$p" ] || { echo "worker $p still runs"; return 1; }
		done
		[ ! -e "$rundir/echod.pid" ] || { echo "pid file left behind"; return 1; }
	}
	check stop stop
	[ -z "$master" ] || { kill -KILL "$master"; wait "$master"; }
	sed 's/^/    echod: /' "$W/echod.log"

	# SystemCallFilter= cannot be applied without systemd, so the same life
	# cycle runs again under strace, and every system call echod makes
	# (master and workers: start, TCP and UDP echo, reload, reopen, stop)
	# must be one the unit's filter allows.
	expand_set() {
		local x
		for x in "$@"; do
			case $x in
			@*) systemd-analyze syscall-filter "$x" | sed '1d; s/^ *//; /^#/d; /^$/d' |
				while read -r y; do expand_set "$y"; done ;;
			*) echo "$x" ;;
			esac
		done
	}
	syscalls() {
		local v
		# systemd applies the lines in order: an allow line adds to the
		# set, a "~" line takes away, a later allow line adds back.
		: >"$W/sc-allowed"
		while read -r v; do
			case $v in
			\~*)
				# shellcheck disable=SC2086 # a list of words
				expand_set ${v#\~} | sort -u >"$W/sc-line"
				comm -23 "$W/sc-allowed" "$W/sc-line" >"$W/sc-next"
				;;
			*)
				# shellcheck disable=SC2086 # a list of words
				expand_set $v | sort -u | sort -u -m - "$W/sc-allowed" >"$W/sc-next"
				;;
			esac
			mv "$W/sc-next" "$W/sc-allowed"
		done < <(unit_get SystemCallFilter)
		: >"$W/notify.log"
		install -o "$user" -m 0644 /dev/null "$W/strace" || return 1
		(service_exec strace -f -qq -o "$W/strace" "${start[@]}") >"$W/echod-strace.log" 2>&1 &
		local tracer=$! pid
		wait_for 15 notified "READY=1" || { echo "no READY=1 under strace"; kill "$tracer"; return 1; }
		pid=$(sed -n 's/.*MAINPID=\([0-9]*\).*/\1/p' "$W/notify.log" | head -n 1)
		echo_check tcp 127.0.0.1 && echo_check udp 127.0.0.1 && kill -HUP "$pid" &&
			wait_for 15 two_ready && kill -USR1 "$pid" && sleep 0.5 && kill -TERM "$pid"
		wait "$tracer" || { echo "echod under strace exited $?"; return 1; }
		# Only what follows echod's own execve, not setpriv's.
		awk '/execve\("\/usr\/sbin\/echod"/ && / = 0$/ { on = 1; next } on' "$W/strace" |
			sed -E 's/^[0-9]+ +//' | grep -oE '^[a-z_0-9]+\(' | tr -d '(' | sort -u >"$W/sc-used"
		[ -s "$W/sc-used" ] || { echo "no system call traced"; return 1; }
		if [ -n "$(comm -23 "$W/sc-used" "$W/sc-allowed")" ]; then
			echo "outside SystemCallFilter: $(comm -23 "$W/sc-used" "$W/sc-allowed" | paste -sd' ')"
			return 1
		fi
		echo "note: $(wc -l <"$W/sc-used") system calls, all allowed"
	}
	check unit-syscall-filter syscalls
	rm -rf "$rundir"
fi

# ---- purge ------------------------------------------------------------------
check deb-purge timeout 120 dpkg --purge echod
# Any process still running the installed binary (deleted or not).
leftover() {
	local e p found=0
	for p in /proc/[0-9]*; do
		e=$(readlink "$p/exe" 2>/dev/null) || continue
		case $e in
		/usr/sbin/echod | "/usr/sbin/echod (deleted)")
			echo "${p#/proc/} runs $e"
			found=1
			;;
		esac
	done
	return "$found"
}
check purge-no-process leftover
check purge-files bash -c '! ls -d /etc/echod.conf /usr/sbin/echod '"$unit"' 2>/dev/null'

# ---- the package under a real systemd (ECHOD_PKG_NSPAWN=0 skips it) --------
# A debootstrapped Debian 12, made once and kept in $base, is copied, the .deb
# installed in it, and the copy booted with systemd-nspawn, sharing the
# host's network; packaging/ci-nspawn-test.sh checks the service from inside
# and powers it off.
# The root is named after what it includes, so that a package added here (the
# .deb's runtime dependencies: libconfig9, liburing2) makes a new one.
base_pkgs=systemd,systemd-sysv,dbus,libconfig9,liburing2,procps
base=/var/cache/echod-ci/bookworm-root-$(printf '%s' "$base_pkgs" | cksum | cut -d' ' -f1)
make_base() {
	[ -f "$base/.complete" ] && return 0
	local mirror
	# The Debian mirror this machine's apt uses.
	# shellcheck disable=SC2016 # apt's own $(FIELD) syntax
	mirror=$(apt-get indextargets --format '$(REPO_URI) $(RELEASE)' |
		awk '$2 == "bookworm" { print $1; exit }')
	[ -n "$mirror" ] || { echo "no bookworm mirror in apt's sources"; return 1; }
	rm -rf "$base" && mkdir -p "$(dirname "$base")" &&
		timeout 600 debootstrap --variant=minbase \
			--include="$base_pkgs" \
			bookworm "$base" "$mirror" &&
		touch "$base/.complete"
}
in_root() {
	timeout 120 systemd-nspawn -q -D "$W/root" -M echod-ci --register=no --keep-unit "$@" </dev/null
}
nspawn_boot() {
	rm -rf "$W/root" && cp -a "$base" "$W/root" || return 1
	cp "$deb" "$W/root/root/echod.deb" &&
		{ [ -z "$deb_newer" ] || cp "$deb_newer" "$W/root/root/echod-newer.deb"; } &&
		install -m 0755 "$top/packaging/ci-nspawn-test.sh" "$W/root/usr/local/sbin/echod-ci-test" &&
		printf '%s\n' '[Unit]' 'Description=echod packaging check' 'After=echod.service' \
			'[Service]' 'Type=oneshot' 'ExecStart=/usr/local/sbin/echod-ci-test' \
			'[Install]' 'WantedBy=multi-user.target' \
			>"$W/root/etc/systemd/system/echod-ci-test.service" || return 1
	in_root sh -c 'dpkg -i /root/echod.deb && systemctl enable echod-ci-test.service' || return 1
	in_root -b --console=passive
	grep -qx "done" "$W/root/echod-nspawn.result" ||
		{ echo "the check in the container did not finish"; return 1; }
}
if [ "${ECHOD_PKG_NSPAWN:-1}" != 0 ]; then
	if check nspawn-root make_base && check nspawn-boot nspawn_boot; then
		while read -r line; do
			case $line in
			"ok "*) ok "${line#ok }" ;;
			"not ok "*) notok "${line#not ok }" ;;
			esac
		done <"$W/root/echod-nspawn.result"
		if grep -q '^not ok' "$W/root/echod-nspawn.result"; then
			sed 's/^/    /' "$W/root/echod-nspawn.out" "$W/root/echod-nspawn.journal"
		fi
	fi
fi
finish
