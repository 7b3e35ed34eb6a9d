/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The redeploy authors */
/* version.h - one version for both programs. */
#ifndef REDEPLOY_VERSION_H
#define REDEPLOY_VERSION_H
#define REDEPLOY_VERSION	"0.1.0"
#endif
