#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# Runs inside the container that packaging/ci.sh boots with systemd-nspawn,
# as a oneshot unit after echod.service: checks the installed package under
# a real systemd, writes "ok NAME" / "not ok NAME" lines to
# /echod-nspawn.result, and powers the container off.  Talks to 127.0.0.1
# only (the container shares the host's network).
set -u
result=/echod-nspawn.result
: >"$result"
t() {
	local name=$1
	shift
	if "$@" >>/echod-nspawn.out 2>&1; then
		echo "ok nspawn-$name" >>"$result"
	else
		echo "not ok nspawn-$name" >>"$result"
	fi
}
echo_tcp() {
	local line
	exec 3<>/dev/tcp/127.0.0.1/7 || return 1
	printf 'echod nspawn check\n' >&3
	read -r -t 5 line <&3
	exec 3<&-
	[ "$line" = "echod nspawn check" ]
}
mainpid() {
	systemctl show -P MainPID echod.service
}
# The unit's sandbox as the kernel sees it: the service user, no_new_privs,
# a seccomp filter, CAP_NET_BIND_SERVICE only.
sandboxed() {
	awk -v u="$(id -u _echod)" '
		/^Uid:/ { uid = ($2 == u && $3 == u) }
		/^NoNewPrivs:/ { nnp = $2 } /^Seccomp:/ { sc = $2 }
		/^CapEff:/ { eff = $2 } /^CapBnd:/ { bnd = $2 }
		END { print "uid ok " uid ", NoNewPrivs " nnp ", Seccomp " sc ", CapEff " eff ", CapBnd " bnd
		      exit !(uid && nnp == 1 && sc == 2 &&
		      eff == "0000000000000400" && bnd == "0000000000000400") }' \
		"/proc/$(mainpid)/status"
}
# Each worker: no capability left, and its own seccomp filter on top of
# the unit's (echod's sandbox, loaded under SystemCallFilter=).
workers_sandboxed() {
	local w n=0 kids=()
	read -r -a kids <"/proc/$(mainpid)/task/$(mainpid)/children"
	for w in "${kids[@]}"; do
		awk '/^CapEff:/ { eff = $2 } /^Seccomp_filters:/ { f = $2 }
			END { print "worker: CapEff " eff ", seccomp filters " f
			      exit !(eff == "0000000000000000" && f >= 2) }' "/proc/$w/status" || return 1
		n=$((n + 1))
	done
	[ "$n" -gt 0 ]
}
status_text() {
	systemctl show -P StatusText echod.service | grep -q 'workers serving'
}
# GET /healthz on the packaged metrics address, with bash alone.
healthz() {
	local line
	exec 3<>/dev/tcp/127.0.0.1/9707 || return 1
	printf 'GET /healthz HTTP/1.0\r\n\r\n' >&3
	read -r -t 5 line <&3
	exec 3<&-
	[[ $line == "HTTP/1.1 200 OK"* ]]
}
# Whether something listens on TCP 127.0.0.1:port (from /proc: the
# container has no ss).
listening() {
	local hex
	printf -v hex '0100007F:%04X 00000000:0000 0A' "$1"
	grep -q "$hex" /proc/net/tcp
}
# systemctl reload with a configuration whose new port something else
# holds: it must fail, and the service go on with the old configuration.
reload_port_in_use() {
	local busy rc=0 n=50
	systemd-socket-activate -l 127.0.0.1:8007 /bin/true &
	busy=$!
	while ! listening 8007; do
		n=$((n - 1))
		[ "$n" -gt 0 ] || { kill "$busy"; echo "nothing listens on 8007"; return 1; }
		sleep 0.1
	done
	cp /etc/echod.conf /etc/echod.conf.orig &&
		sed -i 's/^listen = (/listen = (\n  { address = "127.0.0.1"; port = 8007; },/' /etc/echod.conf
	if systemctl reload echod.service; then
		echo "systemctl reload succeeded with port 8007 taken"
		rc=1
	fi
	# Failed for the right reason: the master named the address.
	journalctl -u echod.service --no-pager -q | grep -q 'cannot listen on tcp 127.0.0.1:8007' ||
		{ echo "no \"cannot listen on tcp 127.0.0.1:8007\" in the journal"; rc=1; }
	mv /etc/echod.conf.orig /etc/echod.conf
	kill "$busy"
	wait "$busy"
	return "$rc"
}

# One connection held open across the reload and the package upgrade: each
# check sends a new line on it and wants it back (handover, echod(8)).
long_open() {
	exec 4<>/dev/tcp/127.0.0.1/7
}
long_echo() {
	local line
	printf 'long-lived %s\n' "$1" >&4 || return 1
	read -r -t 5 line <&4 || return 1
	[ "$line" = "long-lived $1" ]
}
held_by_new_master() { # the service's main pid changed, and is the new version's
	# systemd learns the new MAINPID= from the old master a moment after
	# the upgrade answered: poll for it, 15 s at most.
	for _ in $(seq 150); do
		if [ "$(mainpid)" != "$1" ] && [ "$(mainpid)" != 0 ] &&
			dpkg-query -W -f='${Version}' echod | grep -q '+ci1$'; then
			return 0
		fi
		sleep 0.1
	done
	return 1
}

# Enabled by the package, so started at boot.
t active-at-boot systemctl is-active -q echod.service
t sandbox sandboxed
t workers-sandboxed workers_sandboxed
t status-text status_text
t echo echo_tcp
t long-open long_open
t long-echo long_echo first
t reload systemctl reload echod.service
t active-after-reload systemctl is-active -q echod.service
t echo-after-reload echo_tcp
t long-echo-after-reload long_echo after-reload
if [ -f /root/echod-newer.deb ]; then
	before=$(mainpid)
	# prerm does not stop it, postinst asks for a binary upgrade.
	t upgrade-package dpkg -i /root/echod-newer.deb
	t active-after-upgrade systemctl is-active -q echod.service
	t upgrade-new-mainpid held_by_new_master "$before"
	t long-echo-after-upgrade long_echo after-upgrade
	t echo-after-upgrade echo_tcp
fi
t healthz healthz
t status echod -s status
exec 4<&-
t stop systemctl stop echod.service
t start systemctl start echod.service
t no-errors-logged bash -c '! journalctl -b -u echod.service -p warning --no-pager -q | grep .'
# After no-errors-logged: a rejected reload logs its errors.
t reload-port-in-use-fails reload_port_in_use
t active-after-failed-reload systemctl is-active -q echod.service
t echo-after-failed-reload echo_tcp
t healthz-after-failed-reload healthz
# The package's prerm stops the running service.
t purge dpkg --purge echod
t no-process-after-purge bash -c '! pgrep -x echod'
journalctl -b --no-pager -u echod.service >/echod-nspawn.journal 2>&1
echo "done" >>"$result"
systemctl poweroff --no-block
