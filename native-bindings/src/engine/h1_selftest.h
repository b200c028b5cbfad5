/* h1_selftest: the load-time check that Node's llhttp behaves as h1_parser.c expects (see .c). */
#ifndef LEGATE_H1_SELFTEST_H
#define LEGATE_H1_SELFTEST_H

#include <stddef.h>

#include "llhttp_abi.h"

/*
 * Returns NULL if the parser works on this runtime, else a description of the first failure
 * (written into `buf` when it needs formatting).
 */
const char *lg_h1_selftest(const lg_llhttp_api *api, char *buf, size_t size);

#endif
