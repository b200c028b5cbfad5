/**
 * Envoy's `Http2ProtocolOptions` (config/core/v3/protocol.proto), as far as Node's HTTP/2
 * (nghttp2) can honour it. Defaults are those of Envoy's edge best-practices configuration rather
 * than its protocol defaults (2147483647 streams, 256 MiB windows), so that one connection cannot
 * make a worker buffer hundreds of MiB or run unbounded streams.
 */
import type { ObjectReader } from './config-reader';
import { rejectUnsupported } from './unsupported';

export interface Http2ProtocolOptions {
  /** SETTINGS_MAX_CONCURRENT_STREAMS we announce (default 100). */
  maxConcurrentStreams: number;
  /** SETTINGS_INITIAL_WINDOW_SIZE we announce (default 64 KiB). */
  initialStreamWindowSize: number;
  /** The connection-level receive window (default 1 MiB). */
  initialConnectionWindowSize: number;
  /** SETTINGS_HEADER_TABLE_SIZE (HPACK dynamic table; default 4096). */
  hpackTableSize: number;
  /** `connection_keepalive`: PING every interval (± jitter), close if unanswered within timeout; 0 = off. */
  keepaliveIntervalMs: number;
  keepaliveTimeoutMs: number;
  /** Percent of the interval added at random to each wait (Envoy's default 15). */
  keepaliveJitterPercent: number;
  /**
   * `allow_connect` (downstream only): CONNECT streams are served (classic CONNECT, and RFC 8441's
   * extended CONNECT with SETTINGS_ENABLE_CONNECT_PROTOCOL announced); otherwise refused.
   */
  allowConnect: boolean;
}

export const DEFAULT_HTTP2_OPTIONS: Readonly<Http2ProtocolOptions> = {
  maxConcurrentStreams: 100,
  initialStreamWindowSize: 65_536,
  initialConnectionWindowSize: 1_048_576,
  hpackTableSize: 4096,
  keepaliveIntervalMs: 0,
  keepaliveTimeoutMs: 0,
  keepaliveJitterPercent: 15,
  allowConnect: false,
};

const NGHTTP2_FIXED_LIMITS =
  "Node's nghttp2 applies its own fixed flood limits (1,000 queued control frames, a rate limit on stream resets)";

const UNSUPPORTED = [
  'max_metadata_size',
  'allow_metadata',
  'custom_settings_parameters',
  'use_oghttp2_codec',
] as const;
const FLOOD_LIMITS = [
  'max_outbound_frames',
  'max_outbound_control_frames',
  'max_consecutive_inbound_frames_with_empty_payload',
  'max_inbound_priority_frames_per_stream',
  'max_inbound_window_update_frames_per_data_frame_sent',
] as const;

const MAX_WINDOW = 2_147_483_647;

/**
 * Reads `http2_protocol_options` (null: absent, the defaults): a connection manager's
 * (`downstream`) or a cluster's.
 */
export function parseHttp2ProtocolOptions(
  r: ObjectReader | null,
  side: 'downstream' | 'upstream' = 'upstream',
): Http2ProtocolOptions {
  if (r === null) return { ...DEFAULT_HTTP2_OPTIONS };
  rejectUnsupported(r, UNSUPPORTED);
  for (const field of FLOOD_LIMITS) r.unsupported(field, NGHTTP2_FIXED_LIMITS);
  const allowConnect = r.bool('allow_connect', false);
  if (allowConnect && side === 'upstream')
    r.error(
      'allow_connect',
      'not supported by Legate yet on a cluster: upgrades and CONNECT to an HTTP/2 cluster are answered 403',
    );
  // Node's HTTP/2 resets the stream of an invalid message whatever these say (Envoy's `true`).
  r.bool('stream_error_on_invalid_http_messaging', false);
  r.object('override_stream_error_on_invalid_http_message')?.bool('value', false);
  const keepalive = r.object('connection_keepalive');
  if (keepalive !== null) rejectUnsupported(keepalive, ['connection_idle_interval']);
  if (keepalive !== null && !keepalive.has('timeout'))
    keepalive.error('timeout', 'required: how long a PING may go unanswered before the connection closes');
  const d = DEFAULT_HTTP2_OPTIONS;
  return {
    maxConcurrentStreams: r.wrappedUint('max_concurrent_streams', d.maxConcurrentStreams, {
      min: 1,
      max: 2_147_483_647,
    }),
    initialStreamWindowSize: r.wrappedUint('initial_stream_window_size', d.initialStreamWindowSize, {
      min: 65_535,
      max: MAX_WINDOW,
    }),
    initialConnectionWindowSize: r.wrappedUint(
      'initial_connection_window_size',
      d.initialConnectionWindowSize,
      { min: 65_535, max: MAX_WINDOW },
    ),
    hpackTableSize: r.wrappedUint('hpack_table_size', d.hpackTableSize, { max: 4_294_967_295 }),
    keepaliveIntervalMs: keepalive?.durationMs('interval', 0) ?? 0,
    keepaliveTimeoutMs: keepalive?.durationMs('timeout', 0) ?? 0,
    keepaliveJitterPercent:
      keepalive?.object('interval_jitter')?.uint('value', d.keepaliveJitterPercent, { max: 100 }) ??
      d.keepaliveJitterPercent,
    allowConnect,
  };
}
