/**
 * Loads uWS.js's native binary directly and fails loudly if it cannot.
 *
 * The package's own entry point catches a failed native load, prints a warning and falls back to a
 * pure-JS implementation that is slower than Node's `http`; an "accelerated" codec that silently
 * became the slowest one would defeat its purpose, so we bypass that entry point and require the
 * binary for this platform and ABI ourselves.
 */
import * as path from 'node:path';
import type * as Uws from '@trufflesuite/uws-js-unofficial';

/** The uWS.js module surface Legate uses, with the two members its type file leaves out. */
export type UwsModule = typeof Uws;
export type UwsApp = Uws.TemplatedApp & {
  /** Closes every socket of the app (listen sockets and open connections); in-flight responses abort. */
  close(): void;
};

const PACKAGE = '@trufflesuite/uws-js-unofficial';

/** Path of the binary built for this platform, CPU and Node ABI (e.g. `uws_linux_x64_115.node`). */
function nativeBinaryPath(): string {
  const packageDir = path.dirname(require.resolve(`${PACKAGE}/package.json`));
  const file = `uws_${process.platform}_${process.arch}_${process.versions.modules}.node`;
  return path.join(packageDir, 'binaries', file);
}

let loaded: UwsModule | null = null;

/**
 * The native uWS module, loaded once per thread (Node keeps addons per isolate). Throws with the
 * loader's error as `cause` if the binary is missing or incompatible. Also turns off the
 * `uWebSockets: 20` response header, which would otherwise advertise the server to every client.
 */
export function loadNativeUws(): UwsModule {
  if (loaded !== null) return loaded;
  const binary = nativeBinaryPath();
  let mod: UwsModule;
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    mod = require(binary) as UwsModule;
  } catch (cause) {
    throw new Error(
      `uWS.js native binary could not be loaded from ${binary}; the uWS codec refuses the slow JS fallback`,
      { cause },
    );
  }
  if (typeof mod.App !== 'function' || typeof mod.us_listen_socket_close !== 'function') {
    throw new Error(`${binary} does not look like the uWS.js native module`);
  }
  mod._cfg('silent');
  loaded = mod;
  return mod;
}
