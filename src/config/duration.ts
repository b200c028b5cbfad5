/**
 * Envoy durations (google.protobuf.Duration in proto JSON): a string of seconds with an `s` suffix
 * ("15s", "0.25s", "1.5s") or a `{ seconds, nanos }` mapping. Other units are a common mistake
 * ("250ms", "5m"), so they are rejected with the equivalent in seconds as a hint.
 */

/** Proto's limit: ±10 000 years. */
const MAX_SECONDS = 315_576_000_000;

const ENVOY_DURATION = /^(\d+)(?:\.(\d{1,9}))?s$/;
const OTHER_UNIT = /^(\d+(?:\.\d+)?)\s*(ns|us|µs|ms|m|min|h)$/;
const SECONDS_PER_UNIT: Record<string, number> = {
  ns: 1e-9,
  us: 1e-6,
  µs: 1e-6,
  ms: 1e-3,
  m: 60,
  min: 60,
  h: 3600,
};

export type DurationResult = { ok: true; ms: number } | { ok: false; message: string; hint?: string };

/** Parses the string form; milliseconds may be fractional ("0.0005s" → 0.5). */
export function parseDurationString(text: string): DurationResult {
  const trimmed = text.trim();
  const m = ENVOY_DURATION.exec(trimmed);
  if (m) {
    const seconds = Number(m[1]);
    if (seconds > MAX_SECONDS) return { ok: false, message: `duration '${text}' is too long` };
    const fraction = m[2] === undefined ? 0 : Number(`0.${m[2]}`);
    return { ok: true, ms: (seconds + fraction) * 1000 };
  }
  if (trimmed.startsWith('-')) return { ok: false, message: `duration '${text}' must not be negative` };
  return { ok: false, message: `invalid duration '${text}'`, hint: unitHint(trimmed) };
}

/** The `{ seconds, nanos }` form, already read as numbers. */
export function durationFromParts(seconds: number, nanos: number): DurationResult {
  if (seconds > MAX_SECONDS) return { ok: false, message: `duration of ${seconds}s is too long` };
  return { ok: true, ms: seconds * 1000 + nanos / 1e6 };
}

/** Formats milliseconds the way Envoy prints durations ("0.25s"), for hints and config dumps. */
export function formatDurationMs(ms: number): string {
  return `${Number((ms / 1000).toFixed(9))}s`;
}

function unitHint(text: string): string {
  const generic = "Envoy durations are seconds with an 's' suffix, like '0.25s'";
  const m = OTHER_UNIT.exec(text);
  if (m)
    return `did you mean '${formatDurationMs(Number(m[1]) * SECONDS_PER_UNIT[m[2]!]! * 1000)}'? (${generic})`;
  if (/^\d+(\.\d+)?$/.test(text)) return `did you mean '${text}s'? (${generic})`;
  return generic;
}
