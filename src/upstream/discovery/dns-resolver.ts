/**
 * The default DnsResolver: the system resolver (getaddrinfo via `dns.lookup`, so /etc/hosts and
 * `localhost` work as for every other program), run on libuv's thread pool, never on the request
 * path. Discovery never asks it about IP literals. The answer is filtered by Envoy's `dns_lookup_family`:
 * V4_ONLY / V6_ONLY keep one family; AUTO prefers IPv6 and falls back to IPv4; V4_PREFERRED the
 * reverse; ALL keeps both (in resolver order).
 */
import { lookup } from 'node:dns/promises';
import type { DnsLookupFamily, DnsResolver } from './api';

export const systemDnsResolver: DnsResolver = async (hostname, family) => {
  const answers = await lookup(hostname, { all: true, verbatim: true, family: lookupFamily(family) });
  return filterFamily(
    answers.map((a) => ({ address: a.address, family: a.family })),
    family,
  );
};

function lookupFamily(family: DnsLookupFamily): 0 | 4 | 6 {
  if (family === 'V4_ONLY') return 4;
  if (family === 'V6_ONLY') return 6;
  return 0;
}

export function filterFamily(
  answers: { address: string; family: number }[],
  family: DnsLookupFamily,
): string[] {
  const v4 = answers.filter((a) => a.family === 4).map((a) => a.address);
  const v6 = answers.filter((a) => a.family === 6).map((a) => a.address);
  switch (family) {
    case 'V4_ONLY':
      return v4;
    case 'V6_ONLY':
      return v6;
    case 'AUTO':
      return v6.length > 0 ? v6 : v4;
    case 'V4_PREFERRED':
      return v4.length > 0 ? v4 : v6;
    case 'ALL':
      return answers.map((a) => a.address);
  }
}
