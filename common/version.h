/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The redeploy authors */
/* version.h - one version for both programs, from the VERSION file. */
#ifndef REDEPLOY_VERSION_H
#define REDEPLOY_VERSION_H
#ifndef REDEPLOY_VERSION
#error "REDEPLOY_VERSION comes from the Makefile (the VERSION file)"
#endif
#endif
