/*
 * Functions the running `node` binary exports, resolved with dlsym at load (llhttp_abi.c,
 * tls_abi.c): a missing one makes that part of the engine unavailable instead of failing the
 * addon's load.
 */
#ifndef LEGATE_SYMBOLS_H
#define LEGATE_SYMBOLS_H

#include <stddef.h>

typedef struct lg_symbol {
  void *slot; /* a function pointer to fill */
  const char *name;
} lg_symbol;

/*
 * Fills every slot of `table`. Returns NULL, or the name of the first symbol the binary does not
 * export (the caller then zeroes what it filled: nothing half-resolved is used).
 */
const char *lg_resolve_symbols(const lg_symbol *table, size_t count);

#endif
