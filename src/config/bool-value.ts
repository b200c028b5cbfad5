/** `google.protobuf.BoolValue` fields, which YAML writes as a bare boolean or as `{ value: B }`. */
import type { ObjectReader } from './config-reader';

/** `dflt` when absent; `{}` is false, as protobuf reads an empty wrapper. */
export function readBoolValue(r: ObjectReader, field: string, dflt: boolean): boolean {
  const raw = r.raw(field);
  if (raw === null || typeof raw !== 'object') return r.bool(field, dflt);
  // A list is not a wrapper: object() reports it and gives null.
  return r.object(field)?.bool('value', false) ?? dflt;
}
