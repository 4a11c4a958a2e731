/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * What every fuzz target here provides: libFuzzer's entry point.  Built two
 * ways: with clang's -fsanitize=fuzzer by `make fuzz`, for real fuzzing, and
 * with driver.c by `make check`, which replays the corpus in
 * tests/fuzz/corpus/NAME and a fixed series of mutations of it.
 */
#ifndef ECHOD_FUZZ_H
#define ECHOD_FUZZ_H

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The corpus directory's name under tests/fuzz/corpus. */
extern const char fuzz_name[];

#endif
