/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * ECHOD_ASAN is defined when this file is compiled under AddressSanitizer
 * (gcc says so with __SANITIZE_ADDRESS__, clang with __has_feature): the
 * few places that must know (the sandbox's allow-list, the queue chunks'
 * poisoning, a test of resident memory) ask here.
 */
#ifndef ECHOD_SANITIZER_H
#define ECHOD_SANITIZER_H

#if defined(__SANITIZE_ADDRESS__)
#define ECHOD_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define ECHOD_ASAN 1
#endif
#endif

#endif
