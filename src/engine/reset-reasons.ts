/** engine.h lg_reset_reason → codec.ts StreamResetReason. */
import type { StreamResetReason } from '../http/codec';

const NAMES: readonly StreamResetReason[] = [
  'remote_reset', // 0: no reason given; a cut exchange reads as the peer's doing
  'local_reset',
  'remote_reset',
  'connection_failure',
  'connection_termination',
  'overflow',
  'protocol_error',
];

export function resetReasonName(reason: number): StreamResetReason {
  return NAMES[reason] ?? 'remote_reset';
}
