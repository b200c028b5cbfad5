/**
 * `request_headers_to_add/remove` and `response_headers_to_add/remove`, shared by route
 * configuration, virtual host, route and weighted cluster. Values are checked for CR/LF/NUL here,
 * once, because the codecs write configured values verbatim.
 */
import type { AppendAction, HeaderMutations, HeaderValueOption } from '../bootstrap';
import type { ObjectReader } from '../config-reader';

const APPEND_ACTIONS: readonly AppendAction[] = [
  'APPEND_IF_EXISTS_OR_ADD',
  'ADD_IF_ABSENT',
  'OVERWRITE_IF_EXISTS_OR_ADD',
  'OVERWRITE_IF_EXISTS',
];
const HEADER_NAME = /^[!#$%&'*+\-.^_`|~0-9a-zA-Z]+$/;
const FORBIDDEN_VALUE_CHARS = /[\r\n\0]/;

type Direction = 'request' | 'response';

export function parseHeaderMutations(r: ObjectReader): HeaderMutations {
  return {
    requestHeadersToAdd: parseHeadersToAdd(r, 'request'),
    requestHeadersToRemove: parseHeadersToRemove(r, 'request'),
    responseHeadersToAdd: parseHeadersToAdd(r, 'response'),
    responseHeadersToRemove: parseHeadersToRemove(r, 'response'),
  };
}

/** `<direction>_headers_to_add`, or the list in `field` (e.g. tcp_proxy's tunneling `headers_to_add`). */
export function parseHeadersToAdd(
  r: ObjectReader,
  direction: Direction,
  field = `${direction}_headers_to_add`,
): HeaderValueOption[] {
  return r.objectArray(field).map((option) => {
    const header = option.requiredObject('header');
    const key = checkHeaderName(header, 'key', header.requiredString('key'), direction);
    header.unsupported('raw_value');
    const value = header.string('value');
    if (FORBIDDEN_VALUE_CHARS.test(value))
      header.error('value', 'header values must not contain CR, LF or NUL');
    if (option.bool('keep_empty_value', false))
      option.error('keep_empty_value', 'not supported by Legate yet');
    return { key, value, appendAction: parseAppendAction(option) };
  });
}

/** `append_action`, or the deprecated `append` (true → append, false → overwrite). */
function parseAppendAction(option: ObjectReader): AppendAction {
  if (option.oneOf(['append', 'append_action'], false) !== 'append') {
    return option.enumValue('append_action', APPEND_ACTIONS, 'APPEND_IF_EXISTS_OR_ADD');
  }
  option.deprecated('append', 'use append_action');
  return option.bool('append', true) ? 'APPEND_IF_EXISTS_OR_ADD' : 'OVERWRITE_IF_EXISTS_OR_ADD';
}

function parseHeadersToRemove(r: ObjectReader, direction: Direction): string[] {
  const field = `${direction}_headers_to_remove`;
  return r.stringArray(field).map((name) => checkHeaderName(r, field, name, direction));
}

/** Lower-cases `name`; reports names that are not tokens, and headers Envoy does not let config modify. */
function checkHeaderName(r: ObjectReader, field: string, name: string, direction: Direction): string {
  const lower = name.toLowerCase();
  if (name === '') return lower;
  if (lower.startsWith(':') || (direction === 'request' && lower === 'host')) {
    r.error(field, `':'-prefixed or host headers may not be modified (found '${name}')`);
  } else if (!HEADER_NAME.test(name)) {
    r.error(field, `'${name}' is not a valid header name`);
  }
  return lower;
}
