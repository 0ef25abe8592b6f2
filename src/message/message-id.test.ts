import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { createQueueIdGenerator, isQueueId, newMessageId, newQueueId, queueIdTime } from './message-id.ts';

const fixed =
  (byte: number) =>
  (size: number): Uint8Array =>
    new Uint8Array(size).fill(byte);

describe('newMessageId', () => {
  it('is <left@hostname> with a dot-atom left-hand side (RFC 5322 §3.6.4)', () => {
    const id = newMessageId({ hostname: 'mx.example.test' });
    assert.match(id, /^<[0-9a-z]+\.[0-9a-z]{16}@mx\.example\.test>$/);
  });

  it('differs from call to call', () => {
    const ids = new Set(Array.from({ length: 1000 }, () => newMessageId({ hostname: 'h.test', now: 0 })));
    assert.equal(ids.size, 1000);
  });

  it('is fixed when time and randomness are', () => {
    assert.equal(newMessageId({ hostname: 'h.test', now: 0, randomBytes: fixed(0) }), '<0000000000.0000000000000000@h.test>');
  });

  it('drops characters a host name cannot hold', () => {
    assert.match(newMessageId({ hostname: 'h>x@y', randomBytes: fixed(1) }), /@hxy>$/);
  });
});

describe('newQueueId', () => {
  it('is 16 characters of lower-case base32', () => {
    const id = newQueueId();
    assert.match(id, /^[0-9a-hjkmnp-tv-z]{16}$/);
    assert.ok(isQueueId(id));
  });

  it('sorts by the time it was made', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 48 }), fc.integer({ min: 1, max: 2 ** 40 }), (t, dt) => {
        assert.ok(newQueueId({ now: t, randomBytes: fixed(255) }) < newQueueId({ now: t + dt, randomBytes: fixed(0) }));
      }),
    );
  });

  it('tells the time it was made', () => {
    const now = Date.UTC(2026, 11, 1, 9, 5, 3, 123);
    assert.equal(queueIdTime(newQueueId({ now }))?.getTime(), now);
  });

  const notIds: [string, string][] = [
    ['too short', '0123456789abcde'],
    ['upper case', '0123456789ABCDEF'],
    ['a letter Crockford leaves out', '0123456789abcdei'],
    ['empty', ''],
  ];
  for (const [what, text] of notIds) {
    it(`refuses ${what}`, () => {
      assert.equal(isQueueId(text), false);
      assert.equal(queueIdTime(text), null);
    });
  }
});

describe('createQueueIdGenerator', () => {
  it('gives strictly increasing ids within one millisecond', () => {
    const next = createQueueIdGenerator({ clock: () => 1_000, randomBytes: fixed(255) });
    const ids = Array.from({ length: 100 }, () => next());
    for (let i = 1; i < ids.length; i++) assert.ok((ids[i - 1] ?? '') < (ids[i] ?? ''), `${ids[i - 1]} < ${ids[i]}`);
    for (const id of ids) assert.ok(isQueueId(id));
  });

  it('gives increasing ids when the clock steps back', () => {
    let t = 10_000;
    const next = createQueueIdGenerator({ clock: () => t });
    const a = next();
    t = 5_000;
    const b = next();
    assert.ok(a < b);
  });
});
