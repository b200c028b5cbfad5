/**
 * Native socket support, with the pure-JS behaviour when the addon is absent.
 *
 * With the addon (built by `npm install` when a C toolchain is present; see native-bindings/):
 * every worker thread serves every listener on its own SO_REUSEPORT socket, and connections
 * accepted on one thread can be handed to another by fd.
 *
 * Without it (no compiler, a failed build, or `LEGATE_NATIVE=0`): `openSharedListenSocket` and
 * `takeAcceptedSocketFd` return null, and Legate serves each listener from one thread with a
 * plain `net.Server`. `nativeStatus()` says which mode is active and why.
 *
 * The addon also carries tcp_proxy's splice relay (Linux); without it tcp_proxy relays in JS.
 */
export { DEFAULT_ADDON_PATH, loadNative, nativeStatus, probeNative } from './bindings';
export type { NativeBindings, NativeProbe, NativeStatus, SpliceRelayHandle } from './bindings';
export { listenOnFd, openSharedListenSocket } from './shared-listen';
export type { SharedListenSocket } from './shared-listen';
export { adoptSocketFd, takeAcceptedSocketFd } from './socket-handoff';
export {
  SpliceEnd,
  SpliceRelay,
  resumeReading,
  spliceRelayAvailable,
  spliceRelayCount,
  stopReading,
} from './splice-relay';
export type { SpliceRelayOwner } from './splice-relay';
