/* See symbols.h. */
#include "symbols.h"

#include <string.h>

#if defined(_WIN32)

const char *lg_resolve_symbols(const lg_symbol *table, size_t count) {
  return count > 0 ? table[0].name : NULL; /* no dlsym on Windows */
}

#else
#include <dlfcn.h>

const char *lg_resolve_symbols(const lg_symbol *table, size_t count) {
  for (size_t i = 0; i < count; i++) {
    void *symbol = dlsym(RTLD_DEFAULT, table[i].name);
    if (symbol == NULL) return table[i].name;
    /* Stores dlsym's object pointer into a function pointer without a cast POSIX allows but ISO C does not. */
    memcpy(table[i].slot, &symbol, sizeof symbol);
  }
  return NULL;
}
#endif
