/**
 * DNS is how mail finds its way: a sender looks up the recipient domain's MX records, sorts them by
 * preference and tries each host in turn. This folder is both ends of that conversation. `zone/`
 * reads the RFC 1035 master files an admin writes; `authority.ts` answers questions from those zones
 * (pure, bytes in and bytes out) and `server.ts` puts it on UDP and TCP, authoritative only, never
 * recursive. `resolver.ts` is our own stub resolver for outbound lookups, with typed outcomes and
 * a TTL cache, and `mx.ts` turns a domain into the ordered list of hosts delivery will try
 * (RFC 5321 §5.1, RFC 7505).
 */
export { answer, buildZoneSet, type AnswerOptions, type ZoneSet } from './authority.ts';
export { mxTargets, mxVerdict, type MxOptions, type MxPlan, type MxTarget, type SkippedHost } from './mx.ts';
export { createResolver, type LookupResult, type Resolver, type ResolverOptions } from './resolver.ts';
export { startDnsServer, type DnsServer } from './server.ts';
export { updateCatalog, type CatalogUpdate } from './zone-catalog.ts';
