/* The addon's JS-visible view of the native HTTP/1 parser (see h1_parser_napi.c). */
#ifndef LEGATE_H1_PARSER_NAPI_H
#define LEGATE_H1_PARSER_NAPI_H

#include <node_api.h>

/*
 * Initialises the parser runtime (once per process) and adds h1Status, h1ParseForTest,
 * llhttpRawForTest and h1BenchForTest to `exports`.
 */
napi_status legate_define_h1_parser(napi_env env, napi_value exports);

#endif
