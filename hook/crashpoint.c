/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The redeploy authors */
/*
 * crashpoint.c - a testing aid: with REDEPLOY_TEST_CRASH=STEP in its
 * environment, the hook kills itself with SIGKILL when it reaches STEP, so
 * that a test can stop a deploy at exactly the moment a dropped ssh session
 * or a power cut could, and check that the next run heals it.
 *
 * It is compiled in always, so that the tested binary is the shipped one.
 * A pusher cannot set it: git gives a hook the environment of the
 * receiving side (git-receive-pack, gitolite, sshd), never one a client
 * sends, and the worst it can do is what a kill -9 does, which the next
 * deploy repairs.  The steps are listed in redeploy(1), ENVIRONMENT.
 */
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "redeploy.h"

void
crashpoint(const char *step)
{
	const char *want = getenv("REDEPLOY_TEST_CRASH");

	if (want != NULL && strcmp(want, step) == 0)
		(void)raise(SIGKILL);
}
