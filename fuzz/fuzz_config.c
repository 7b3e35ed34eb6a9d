/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The redeploy authors */
/*
 * fuzz_config.c - libFuzzer target: the config loader (inih and every
 * value rule in conf/), on a file holding the input.
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char path[64];
	struct config cfg;
	char err[CONFIG_ERRLEN];
	int fd;

	if (path[0] == '\0')
		snprintf(path, sizeof(path), "/dev/shm/fuzz_config.%ld.ini",
		    (long)getpid());
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd == -1)
		abort();
	if (write(fd, data, size) != (ssize_t)size)
		abort();
	close(fd);
	memset(&cfg, 0, sizeof(cfg));
	(void)config_load(&cfg, path, err, sizeof(err));
	config_free(&cfg);
	return 0;
}
