/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The redeploy authors */
/*
 * fuzz_refs.c - libFuzzer target: the post-receive "OLD NEW REF" lines on
 * stdin, and the verdict on them.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "redeploy.h"

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct refs r;
	char err[256], *text;

	if ((text = malloc(size + 1)) == NULL)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	if (refs_from_lines(&r, text, err, sizeof(err)) == 0) {
		(void)refs_judge(&r, "refs/heads/master");
		refs_free(&r);
	}
	free(text);
	return 0;
}
