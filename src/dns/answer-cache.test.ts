import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { A, AAAA, MX, apex, makeZone, query } from '../../test/helpers/dns-zones.ts';
import type { QueryType } from '../../test/helpers/dns-zones.ts';
import { AnswerCache } from './answer-cache.ts';
import { buildZoneSet, respond } from './authority.ts';
import type { AnswerOptions, ZoneSet } from './authority.ts';

const zone = makeZone('cache.test', [...apex(2026112901, 300, 3600), ['@', MX(10, 'mail')], ['mail', A('127.60.0.1')], ['mail', AAAA('::1')], ['www', A('127.60.0.2')]]);
const zones = buildZoneSet([zone]);
const opts = (transport: 'udp' | 'tcp'): AnswerOptions => ({ transport, clientAddress: '127.60.0.9', transferAllow: ['127.60.0.9'] });

/** What the server does: the cache first, else respond() and keep its answer. */
function serve(cache: AnswerCache, z: ZoneSet, transport: 'udp' | 'tcp', request: Buffer): { reply: Buffer | undefined; hit: boolean } {
  const hit = cache.get(z, transport, request);
  if (hit !== null) return { reply: hit.reply, hit: true };
  const { replies, summary } = respond(request, z, opts(transport));
  cache.put(z, transport, request, replies, summary);
  return { reply: replies[0], hit: false };
}

const flipCase = (name: string, mask: number): string =>
  [...name].map((ch, i) => ((mask >> i % 30) & 1 ? ch.toUpperCase() : ch)).join('');

describe('answer cache', () => {
  it('answers a repeated question with exactly the bytes respond() gives it, whatever its ID, case, flags and EDNS', () => {
    const names = ['cache.test', 'mail.cache.test', 'www.cache.test', 'nosuch.cache.test', 'other.test'];
    const types: QueryType[] = ['A', 'AAAA', 'MX', 'SOA', 'TXT', 'ANY'];
    const cache = new AnswerCache();
    fc.assert(
      fc.property(
        fc.constantFrom(...names),
        fc.constantFrom(...types),
        fc.integer({ min: 0, max: 0xffff }),
        fc.integer({ min: 0, max: 2 ** 30 }),
        fc.boolean(),
        fc.option(fc.integer({ min: 0, max: 4096 }), { nil: undefined }),
        fc.constantFrom<'udp' | 'tcp'>('udp', 'tcp'),
        (name, type, id, mask, rd, payload, transport) => {
          const request = query(flipCase(name, mask), type, { id, rd, ...(payload !== undefined ? { edns: { payload } } : {}) });
          const fresh = respond(request, zones, opts(transport)).replies[0];
          serve(cache, zones, transport, request);
          const again = serve(cache, zones, transport, request);
          assert.equal(again.hit, true);
          assert.deepEqual(again.reply, fresh);
          // The same question under another ID: the kept reply carries the new ID.
          const other = Buffer.from(request);
          other.writeUInt16BE((id + 1) & 0xffff, 0);
          assert.deepEqual(serve(cache, zones, transport, other).reply, respond(other, zones, opts(transport)).replies[0]);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('hands out a copy, so a reply still being sent keeps its own ID', () => {
    const cache = new AnswerCache();
    serve(cache, zones, 'udp', query('mail.cache.test', 'A', { id: 1 }));
    const first = serve(cache, zones, 'udp', query('mail.cache.test', 'A', { id: 2 })).reply;
    const second = serve(cache, zones, 'udp', query('mail.cache.test', 'A', { id: 3 })).reply;
    assert.equal(first?.readUInt16BE(0), 2);
    assert.equal(second?.readUInt16BE(0), 3);
  });

  it('forgets everything when the zones change', () => {
    const cache = new AnswerCache();
    const request = query('www.cache.test', 'A');
    serve(cache, zones, 'udp', request);
    assert.equal(serve(cache, zones, 'udp', request).hit, true);
    const edited = buildZoneSet([makeZone('cache.test', [...apex(2026112902, 300, 3600), ['www', A('127.60.0.3')]])]);
    const after = serve(cache, edited, 'udp', request);
    assert.equal(after.hit, false);
    assert.deepEqual(after.reply, respond(request, edited, opts('udp')).replies[0]);
    // A lookup with the old zone set (a request that read it before the reload) misses too.
    assert.equal(cache.get(zones, 'udp', request), null);
  });

  it('keeps no zone transfer, no dropped request and no malformed one', () => {
    const cache = new AnswerCache();
    for (const request of [
      query('cache.test', 'AXFR' as QueryType),
      query('cache.test', 'A', { type: 'response' }),
      Buffer.from([0, 1, 2]),
      Buffer.concat([query('cache.test', 'A').subarray(0, 14)]),
    ]) {
      serve(cache, zones, 'tcp', request);
      serve(cache, zones, 'udp', request);
    }
    assert.equal(cache.size, 0);
  });

  it('keeps UDP and TCP answers apart (the UDP one may be truncated)', () => {
    const cache = new AnswerCache();
    const request = query('mail.cache.test', 'ANY');
    serve(cache, zones, 'udp', request);
    assert.equal(serve(cache, zones, 'tcp', request).hit, false);
    assert.equal(cache.size, 2);
  });

  it('starts over when full', () => {
    const cache = new AnswerCache(3);
    for (const id of [1, 2, 3]) serve(cache, zones, 'udp', query(`n${id}.cache.test`, 'A'));
    assert.equal(cache.size, 3);
    serve(cache, zones, 'udp', query('n4.cache.test', 'A'));
    assert.equal(cache.size, 1);
  });
});
