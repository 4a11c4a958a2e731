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

# Enabled by the package, so started at boot.
t active-at-boot systemctl is-active -q echod.service
t sandbox sandboxed
t workers-sandboxed workers_sandboxed
t status-text status_text
t echo echo_tcp
t reload systemctl reload echod.service
t active-after-reload systemctl is-active -q echod.service
t echo-after-reload echo_tcp
t stop systemctl stop echod.service
t start systemctl start echod.service
t no-errors-logged bash -c '! journalctl -b -u echod.service -p warning --no-pager -q | grep .'
# The package's prerm stops the running service.
t purge dpkg --purge echod
t no-process-after-purge bash -c '! pgrep -x echod'
journalctl -b --no-pager -u echod.service >/echod-nspawn.journal 2>&1
echo "done" >>"$result"
systemctl poweroff --no-block
