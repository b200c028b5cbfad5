{
  # Legate's optional N-API addon. Plain C against node_api.h (ABI-stable, so
  # one build serves every Node >= 20). Built by native-bindings/build.js from
  # npm's install script; Legate runs on its pure-JS path when it is absent.
  "targets": [
    {
      "target_name": "legate_native",
      "sources": [
        "src/legate_native.c",
        "src/splice_pump.c",
        "src/splice_relay.c",
        "src/engine/bridge.c",
        "src/engine/conn.c",
        "src/engine/deadline_heap.c",
        "src/engine/downstream.c",
        "src/engine/exchange.c",
        "src/engine/llhttp_abi.c",
        "src/engine/h1_parser.c",
        "src/engine/h1_selftest.c",
        "src/engine/h1_parser_napi.c",
        "src/engine/l4.c",
        "src/engine/l4_napi.c",
        "src/engine/loop.c",
        "src/engine/response_head.c",
        "src/engine/symbols.c",
        "src/engine/tls.c",
        "src/engine/tls_abi.c",
        "src/engine/tls_bridge.c",
        "src/engine/tls_napi.c",
        "src/engine/upstream.c",
        "src/engine/wqueue.c"
      ],
      "defines": ["NAPI_VERSION=8"],
      "cflags": ["-std=gnu11", "-Wall", "-Wextra", "-pthread"],
      "ldflags": ["-pthread"],
      "conditions": [["OS=='linux'", {"libraries": ["-ldl"]}]],
      "xcode_settings": {
        "OTHER_CFLAGS": ["-std=gnu11", "-Wall", "-Wextra"]
      }
    }
  ]
}
