/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * make check's run of a fuzz target (see fuzz.h): every file of its corpus,
 * then a fixed series of mutations of them (bytes flipped, inserted, cut,
 * inputs spliced), each through LLVMFuzzerTestOneInput; a crash or an ASan
 * report fails the test.  Reports in TAP, as the suite's driver expects.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"

#define MAX_INPUTS 64
#define MAX_SIZE   4096
#define MUTATIONS  20000

struct input {
	uint8_t *data;
	size_t size;
};

static uint32_t rnd(uint32_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 17;
	*x ^= *x << 5;
	return *x;
}

static size_t load(const char *dir, struct input *in)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	size_t n = 0;
	char path[4096 + 256];

	if (d == NULL)
		return 0;
	while ((de = readdir(d)) != NULL && n < MAX_INPUTS) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		FILE *f = fopen(path, "rb");
		if (f == NULL)
			continue;
		in[n].data = malloc(MAX_SIZE);
		in[n].size = in[n].data != NULL ? fread(in[n].data, 1, MAX_SIZE, f) : 0;
		fclose(f);
		if (in[n].data != NULL)
			n++;
	}
	closedir(d);
	return n;
}

int main(void)
{
	const char *data = getenv("ECHOD_TESTDATA");
	struct input in[MAX_INPUTS];
	uint8_t buf[MAX_SIZE * 2];
	char dir[4096];
	uint32_t x = 0x12345678;

	printf("1..1\n");
	if (data == NULL) {
		printf("not ok 1 - %s: ECHOD_TESTDATA is not set\n", fuzz_name);
		return 1;
	}
	snprintf(dir, sizeof(dir), "%s/../fuzz/corpus/%s", data, fuzz_name);
	size_t n = load(dir, in);
	if (n == 0) {
		printf("not ok 1 - %s: no corpus in %s\n", fuzz_name, dir);
		return 1;
	}
	for (size_t i = 0; i < n; i++)
		LLVMFuzzerTestOneInput(in[i].data, in[i].size);
	for (int m = 0; m < MUTATIONS; m++) {
		const struct input *a = &in[rnd(&x) % n], *b = &in[rnd(&x) % n];
		size_t len = a->size;
		memcpy(buf, a->data, len);
		switch (rnd(&x) % 4) {
		case 0: /* flip a few bytes */
			for (int k = 0; k < 3 && len > 0; k++)
				buf[rnd(&x) % len] = (uint8_t)rnd(&x);
			break;
		case 1: /* insert a byte */
			if (len < sizeof(buf)) {
				size_t at = len ? rnd(&x) % len : 0;
				memmove(buf + at + 1, buf + at, len - at);
				buf[at] = (uint8_t)rnd(&x);
				len++;
			}
			break;
		case 2: /* cut */
			len = len ? rnd(&x) % len : 0;
			break;
		default: /* a head of one, the tail of another */
			if (len > 0 && b->size > 0) {
				size_t cut = rnd(&x) % len, from = rnd(&x) % b->size;
				if (cut + b->size - from <= sizeof(buf)) {
					memcpy(buf + cut, b->data + from, b->size - from);
					len = cut + b->size - from;
				}
			}
			break;
		}
		LLVMFuzzerTestOneInput(buf, len);
	}
	printf("ok 1 - %s: %zu inputs and %d mutations\n", fuzz_name, n, MUTATIONS);
	for (size_t i = 0; i < n; i++)
		free(in[i].data);
	return 0;
}
