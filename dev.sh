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
# without its sanitizer runtime (only recommended), hence libclang-rt-dev;
# libseccomp for the worker sandbox, iproute2 for the tests' network
# namespaces, libFuzzer for make fuzz.
PACKAGES="build-essential autoconf automake pkg-config libconfig-dev libcmocka-dev mandoc python3
	clang libclang-rt-dev clang-tidy clang-format cppcheck
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
	build _build --enable-werror
	make -C _build -j2 check
	;;
test-asan)
	install_deps
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
