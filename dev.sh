#!/bin/sh
# SPDX-License-Identifier: BSD-2-Clause
# Developer entry point (see README.md and CONTRIBUTING.md):
#   ./dev.sh run        install what is missing, build, run echod in the foreground
#   ./dev.sh test       install what is missing, build with gcc, run the whole test suite
#   ./dev.sh test-asan  the same built with clang, under AddressSanitizer + UndefinedBehaviorSanitizer
#   ./dev.sh lint       clang-tidy and cppcheck over src/ (.clang-tidy, .ci/lint)
# Every build is -Werror, so gcc (test) and clang (test-asan) both have to be
# warning-free.
set -eu
cd "$(dirname "$0")"
top=$(pwd)

# Debian packages the builds, the tests and the lint need.  clang comes
# without its sanitizer runtime (only recommended), hence libclang-rt-dev.
# systemd brings systemd-socket-activate, which the socket activation test
# runs echod under; liburing the io_uring backend, libseccomp the worker
# sandbox, iproute2 the tests' network namespaces, libFuzzer make fuzz.
PACKAGES="build-essential autoconf automake pkg-config libconfig-dev libcmocka-dev liburing-dev mandoc python3
	clang libclang-rt-dev clang-tidy clang-format cppcheck systemd
	libseccomp-dev iproute2 libfuzzer-14-dev"

install_deps() {
	missing=""
	for p in $PACKAGES; do
		if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed'; then
			missing="$missing $p"
		fi
	done
	if [ -n "$missing" ]; then
		echo "dev.sh: installing$missing" >&2
		if [ "$(id -u)" -ne 0 ]; then
			echo "dev.sh: run as root (or install:$missing)" >&2
			exit 1
		fi
		apt-get update -q
		# shellcheck disable=SC2086 # one word per package
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $missing
	fi
}

# promtool, with which tests/integration/test_observe checks GET /metrics,
# comes from Debian's prometheus package, unpacked rather than installed:
# installing it would start a Prometheus server (its init script or unit,
# listening on port 9090 and scraping) and add 96 MB, for one program.  It
# is kept in PROMTOOL_DIR; without it (not root, no apt) that test skips.
PROMTOOL_DIR=/var/cache/echod-ci/promtool
fetch_promtool() {
	if [ ! -x "$PROMTOOL_DIR/promtool" ] && [ "$(id -u)" -eq 0 ]; then
		tmp=$(mktemp -d /tmp/echod-promtool.XXXXXX) || return 0
		chmod 0755 "$tmp" # apt's download user writes into it
		if (cd "$tmp" && { apt-get download -q prometheus >/dev/null 2>&1 ||
			{ apt-get update -q >/dev/null && apt-get download -q prometheus >/dev/null; }; }); then
			dpkg-deb --fsys-tarfile "$tmp"/prometheus_*.deb | tar -x -C "$tmp" ./usr/bin/promtool &&
				mkdir -p "$PROMTOOL_DIR" && mv "$tmp/usr/bin/promtool" "$PROMTOOL_DIR/promtool"
		fi
		rm -rf "$tmp"
	fi
	if [ -x "$PROMTOOL_DIR/promtool" ]; then
		ECHOD_PROMTOOL=$PROMTOOL_DIR/promtool
		export ECHOD_PROMTOOL
	else
		echo "dev.sh: no promtool: the /metrics format check will skip" >&2
	fi
}

# build DIR [configure options...]
# A directory configured with other options (another compiler, say) is
# started afresh: make would otherwise keep the objects of the old one.
build() {
	dir=$1
	shift
	if [ ! -x configure ] || [ configure.ac -nt configure ] || [ Makefile.am -nt configure ]; then
		./autogen.sh
	fi
	if [ -f "$dir/config.status" ] && [ "$(cat "$dir/.dev-configure" 2>/dev/null)" != "$*" ]; then
		rm -rf "$dir"
	fi
	mkdir -p "$dir"
	(cd "$dir" && "$top/configure" -q "$@")
	echo "$*" >"$dir/.dev-configure"
	make -C "$dir" -j"$(nproc)"
}

cmd=${1:-}
case "$cmd" in
run)
	install_deps
	build _build --enable-werror
	echo "dev.sh: echod on 127.0.0.1:7007 (TCP and UDP); Ctrl-C stops it" >&2
	exec _build/src/echod -c etc/echod-dev.conf
	;;
test)
	install_deps
	fetch_promtool
	build _build --enable-werror
	make -C _build -j2 check
	;;
test-asan)
	install_deps
	fetch_promtool
	build _build-asan CC=clang --enable-werror --enable-asan
	make -C _build-asan -j2 check
	;;
lint)
	install_deps
	exec sh .ci/lint
	;;
*)
	echo "usage: $0 run | test | test-asan | lint" >&2
	exit 2
	;;
esac
