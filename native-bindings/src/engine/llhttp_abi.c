/*
 * llhttp_abi: resolves the llhttp functions that the running `node` binary exports (see
 * llhttp_abi.h for the ABI and why it is resolved at run time rather than linked).
 */
#include "llhttp_abi.h"

#include <string.h>

#include "symbols.h"

const char *lg_llhttp_resolve(lg_llhttp_api *api) {
  const lg_symbol table[] = {
      {&api->init, "llhttp_init"},
      {&api->settings_init, "llhttp_settings_init"},
      {&api->execute, "llhttp_execute"},
      {&api->finish, "llhttp_finish"},
      {&api->resume, "llhttp_resume"},
      {&api->resume_after_upgrade, "llhttp_resume_after_upgrade"},
      {&api->get_errno, "llhttp_get_errno"},
      {&api->get_error_reason, "llhttp_get_error_reason"},
      {&api->get_error_pos, "llhttp_get_error_pos"},
      {&api->get_method, "llhttp_get_method"},
      {&api->get_http_major, "llhttp_get_http_major"},
      {&api->get_http_minor, "llhttp_get_http_minor"},
      {&api->get_status_code, "llhttp_get_status_code"},
      {&api->get_upgrade, "llhttp_get_upgrade"},
      {&api->should_keep_alive, "llhttp_should_keep_alive"},
      {&api->message_needs_eof, "llhttp_message_needs_eof"},
      {&api->method_name, "llhttp_method_name"},
  };
  memset(api, 0, sizeof *api);
  const char *missing = lg_resolve_symbols(table, sizeof table / sizeof table[0]);
  if (missing != NULL) memset(api, 0, sizeof *api);
  return missing;
}
