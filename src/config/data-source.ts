/**
 * Envoy's `config.core.v3.DataSource`: bytes given by `filename`, `inline_string`, `inline_bytes`
 * (base64, as protobuf JSON writes bytes) or `environment_variable`. Read once, when the config is
 * loaded (a file that cannot be read is an error located at `filename`).
 */
import { readFileSync } from 'node:fs';
import type { ObjectReader } from './config-reader';

const SOURCES = ['filename', 'inline_string', 'inline_bytes', 'environment_variable'] as const;
const BASE64 = /^[A-Za-z0-9+/\s]*={0,2}\s*$/;

/**
 * The text of a required DataSource at `field` (an error, and '', when missing or unreadable).
 * Text, not bytes: what Legate reads this way is PEM, and config crosses to workers by structured
 * clone, which would turn a Buffer into a plain Uint8Array.
 */
export function readDataSource(r: ObjectReader, field: string): string {
  return readBytes(r, field).toString('utf8');
}

function readBytes(r: ObjectReader, field: string): Buffer {
  const source = r.object(field);
  if (source === null) {
    r.error(field, 'is required');
    return Buffer.alloc(0);
  }
  return readSourceBytes(source);
}

/** The bytes of the DataSource `source` (e.g. an item of a list of them; binary keys). */
export function readSourceBytes(source: ObjectReader): Buffer {
  source.unsupported(
    'watched_directory',
    'the TLS context of a listener watches the files it names itself; elsewhere files are read once, when the config is loaded',
  );
  const kind = source.oneOf(SOURCES, true);
  switch (kind) {
    case 'filename': {
      const path = source.requiredString('filename');
      try {
        return readFileSync(path);
      } catch (err) {
        source.error('filename', `cannot read '${path}': ${(err as NodeJS.ErrnoException).code ?? err}`);
        return Buffer.alloc(0);
      }
    }
    case 'inline_string':
      return Buffer.from(source.string('inline_string'));
    case 'inline_bytes': {
      const text = source.string('inline_bytes');
      if (!BASE64.test(text)) source.error('inline_bytes', 'expected base64 (protobuf JSON bytes)');
      return Buffer.from(text, 'base64');
    }
    case 'environment_variable': {
      const name = source.requiredString('environment_variable');
      const value = process.env[name];
      if (value === undefined) source.error('environment_variable', `'${name}' is not set`);
      return Buffer.from(value ?? '');
    }
    default:
      return Buffer.alloc(0);
  }
}
