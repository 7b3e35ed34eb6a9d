/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The redeploy authors */
/*
 * cacerts.c - libgit2 without the parse of the system's CA bundle.
 *
 * Debian's libgit2 is built with mbedTLS, and git_libgit2_init() parses
 * the whole bundle /etc/ssl/certs/ca-certificates.crt for HTTPS remotes:
 * some 50 million instructions, about 5 ms, a quarter of a one-file
 * deploy.  redeploy only ever opens local repositories and talks to no
 * remote, so it needs none of them.  These two definitions in the
 * executable come first in the dynamic linker's search, before
 * libmbedx509's, so libgit2's start calls them and loads no certificate.
 *
 * Should anything ever make a TLS connection through libgit2, it would
 * have no trusted CA: libgit2 checks the verify result after the
 * handshake and refuses the certificate (redeploy sets no callback that
 * could accept it).  Also, GIT_OPT_SET_SSL_CERT_LOCATIONS would load
 * nothing, and any other mbedTLS user in the process would trust nothing
 * (libcurl, loaded for the agent, is Debian's OpenSSL build).  With a
 * libgit2 built on another TLS library these are simply unused; a static
 * link with mbedTLS would not link.
 */
struct mbedtls_x509_crt;

int	mbedtls_x509_crt_parse_file(struct mbedtls_x509_crt *chain,
	    const char *path);
int	mbedtls_x509_crt_parse_path(struct mbedtls_x509_crt *chain,
	    const char *path);

int
mbedtls_x509_crt_parse_file(struct mbedtls_x509_crt *chain, const char *path)
{
	(void)chain;
	(void)path;
	return 0;	/* "loaded": nothing to load */
}

int
mbedtls_x509_crt_parse_path(struct mbedtls_x509_crt *chain, const char *path)
{
	(void)chain;
	(void)path;
	return 0;
}
