/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The redeploy authors */
/*
 * ids.h - a user or group as the config names it: a name, or a numeric id
 * (redeploy.ini(5)).  A name is looked up first, so a user called "1000"
 * is that user; digits that name no one are taken as an id.  NULL when
 * the machine knows neither.
 */
#ifndef REDEPLOY_IDS_H
#define REDEPLOY_IDS_H

#include <grp.h>
#include <pwd.h>

struct passwd	*ids_user(const char *name);
struct group	*ids_group(const char *name);

#endif
