/**
 * Envoy's runtime-backed config values. Legate has no runtime layer, so `runtime_key` is read (and
 * validated) but only `default_value` decides.
 */
import type { ObjectReader } from './config-reader';

/** `RuntimeFractionalPercent` → fraction 0..1; `dflt` when the field is absent. */
export function runtimeFractionalPercent(r: ObjectReader, field: string, dflt: number): number {
  const f = r.object(field);
  if (!f) return dflt;
  f.string('runtime_key', '');
  return f.fractionalPercent('default_value', dflt);
}

/** `RuntimeFeatureFlag { default_value: bool, runtime_key }`; both are required when the flag is given. */
export function runtimeFeatureFlag(r: ObjectReader, field: string, dflt: boolean): boolean {
  const f = r.object(field);
  if (!f) return dflt;
  f.requiredString('runtime_key');
  if (!f.has('default_value')) f.error('default_value', 'required');
  return f.bool('default_value', dflt);
}
