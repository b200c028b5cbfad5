/** Config fixtures for HTTP filter tests: the harness's catch-all proxy with extra HTTP filters. */
import { catchAllYaml } from '../integration/harness';

/** `catchAllYaml(ports)` with `filters` (YAML list items) placed before the router. */
export function withHttpFilters(ports: number[], filters: string): string {
  const marker = '          http_filters:\n';
  const yaml = catchAllYaml(ports);
  const at = yaml.indexOf(marker) + marker.length;
  const items = filters
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => ' '.repeat(10) + l)
    .join('\n');
  return `${yaml.slice(0, at)}${items}\n${yaml.slice(at)}`;
}
