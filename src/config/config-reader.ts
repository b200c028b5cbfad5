/**
 * How every part of Legate reads its piece of the user's YAML: a cursor over one mapping that knows
 * where each field sits in the file. Reading a field marks it as known; `done()` then reports every
 * field nobody read as unknown, with a did-you-mean suggestion drawn from the fields that were read.
 * So the schema of a config object is simply the code that reads it, and an extension (filter, LB
 * policy) validates its own `typed_config` with the same located errors as the core.
 *
 * Implementation: `ObjectReaderImpl` in object-reader.ts (used by load.ts).
 */

export interface ConfigIssue {
  /** file:line:col (file may be '<config-yaml>' or '<command line>'). */
  location: string;
  /** Field path, e.g. static_resources.clusters[0].lb_policy */
  path: string;
  message: string;
  /** e.g. "did you mean 'lb_policy'?" */
  hint?: string;
  severity: 'error' | 'warning';
  /** Issues that follow from this one (see ObjectReader.followsFrom), shown under it. */
  consequences?: ConfigIssue[];
}

export interface ObjectReader {
  /** Field path of this mapping, e.g. static_resources.listeners[0]. */
  readonly path: string;
  has(field: string): boolean;
  string(field: string, dflt?: string): string;
  /** Like string() but a missing field is an error. */
  requiredString(field: string): string;
  bool(field: string, dflt: boolean): boolean;
  /** Non-negative integer (accepts numbers and numeric strings, as protobuf JSON does for uint64). */
  uint(field: string, dflt: number, opts?: { min?: number; max?: number }): number;
  /** google.protobuf.UInt32Value etc. as written in YAML: a bare number or `{ value: N }`. */
  wrappedUint(field: string, dflt: number, opts?: { min?: number; max?: number }): number;
  /** Envoy duration ("0.25s", "15s", "1.5s", { seconds, nanos }) → milliseconds. */
  durationMs(field: string, dfltMs: number): number;
  /** Proto enum by name (numbers accepted as Envoy does); unknown values list the allowed ones. */
  enumValue<T extends string>(field: string, values: readonly T[], dflt: T): T;
  /** Percent as `{ numerator, denominator: HUNDRED|TEN_THOUSAND|MILLION }` → fraction 0..1. */
  fractionalPercent(field: string, dflt: number): number;
  object(field: string): ObjectReader | null;
  requiredObject(field: string): ObjectReader;
  /** A sequence of mappings. */
  objectArray(field: string): ObjectReader[];
  stringArray(field: string): string[];
  /** The raw JS value, for free-form fields (marks the field as read). */
  raw(field: string): unknown;
  /** Reports a field Legate knows but does not implement yet (an error: never silently ignored). */
  unsupported(field: string, why?: string): void;
  /** Reports a deprecated field as a warning; returns whether it was present. */
  deprecated(field: string, advice: string): boolean;
  /** Exactly one of `fields` must be present (a proto oneof); returns the one present, or null if optional. */
  oneOf(fields: readonly string[], required: boolean): string | null;
  /** Records an error located at `field` of this mapping (or at the mapping itself when field is ''). */
  error(field: string, message: string, hint?: string): void;
  warn(field: string, message: string): void;
  /**
   * Declares that whatever goes wrong inside `field` of this mapping ('' for the whole mapping)
   * follows from the issue at (or under) the config path `cause`: such issues are shown under that
   * one rather than on their own, so the cause is not lost among its consequences. E.g. the fields
   * of a typed_config whose @type is unknown.
   */
  followsFrom(field: string, cause: string): void;
  /** Reports unknown fields (with suggestions). Call once, after reading every known field. */
  done(): void;
}
