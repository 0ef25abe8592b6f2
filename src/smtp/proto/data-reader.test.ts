import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { DataReader } from './data-reader.ts';
import type { DataResult } from './data-reader.ts';

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
const dec = (b: Uint8Array): string => new TextDecoder().decode(b);

/** Feeds chunks until the reader finishes; the outcome as a short string. */
function read(chunks: ReadonlyArray<string | Uint8Array>, maxSize = 1000): { outcome: string; rest: string } {
  const r = new DataReader({ maxSize });
  let last: DataResult = { kind: 'need-more' };
  for (const c of chunks) {
    last = r.push(typeof c === 'string' ? enc(c) : c);
    if (last.kind !== 'need-more') break;
  }
  if (last.kind === 'need-more') return { outcome: 'need-more', rest: '' };
  if (last.kind === 'done') return { outcome: `done:${dec(last.data)}`, rest: dec(last.rest) };
  return { outcome: `error:${last.problem}:${last.reply.code} ${last.reply.enhanced}`, rest: dec(last.rest) };
}

/** RFC 5321 §4.5.2 on the sending side, for the round-trip property. */
function stuff(content: string): string {
  return content.replace(/^\./gm, '..') + '.\r\n';
}

describe('DataReader', () => {
  const cases: Array<[string, string[], string, string?]> = [
    ['ends at CRLF.CRLF and keeps the last CRLF in the message', ['Subject: a\r\n\r\nbody\r\n.\r\n'], 'done:Subject: a\r\n\r\nbody\r\n'],
    ['ends an empty message at once', ['.\r\n'], 'done:'],
    ['removes the leading dot of a stuffed line', ['..a\r\n...\r\n.\r\n'], 'done:.a\r\n..\r\n'],
    ['keeps a dot that is not at the start of a line', ['a.b\r\n.\r\n'], 'done:a.b\r\n'],
    ['finds the end across reads split anywhere', ['a\r', '\n', '.', '\r', '\n'], 'done:a\r\n'],
    ['returns what follows the end: pipelined commands', ['a\r\n.\r\nQUIT\r\n'], 'done:a\r\n', 'QUIT\r\n'],
    ['waits while the end has not come', ['a\r\n.\r'], 'need-more'],
    ['refuses a bare LF in the content after reading to the end', ['a\nb\r\n.\r\n'], 'error:bare-line-ending:550 5.6.0'],
    ['refuses a bare CR in the content after reading to the end', ['a\rb\r\n.\r\n'], 'error:bare-line-ending:550 5.6.0'],
    ['refuses CR CR LF', ['a\r\r\n.\r\n'], 'error:bare-line-ending:550 5.6.0'],
    ['refuses a dot line ended by CR and something else', ['.\rx\r\n.\r\n'], 'error:bare-line-ending:550 5.6.0'],
    ['refuses a message over the size limit after reading to the end', ['0123456789ab\r\n.\r\nNOOP\r\n'], 'error:too-big:552 5.3.4', 'NOOP\r\n'],
    ['counts the size after removing stuffing dots', ['..123456789\r\n.\r\n'], 'done:.123456789\r\n'],
  ];
  for (const [name, chunks, want, rest] of cases) {
    it(name, () => {
      const got = read(chunks, name.includes('size') ? 12 : 1000);
      assert.equal(got.outcome, want);
      if (rest !== undefined) assert.equal(got.rest, rest);
    });
  }

  describe('SMTP smuggling: only CRLF.CRLF ends the message', () => {
    const second = 'MAIL FROM:<evil@spoof.test>\r\nRCPT TO:<victim@x.test>\r\nDATA\r\nsmuggled\r\n.\r\n';
    for (const end of ['\n.\n', '\n.\r\n', '\r.\r', '\r\n.\n', '\r.\r\n', '\n..\n']) {
      it(`does not end at ${JSON.stringify(end)}: reads on to the real end and refuses the whole`, () => {
        const got = read([`Subject: one\r\n\r\nfirst${end}${second}`], 10_000);
        assert.equal(got.outcome, 'error:bare-line-ending:550 5.6.0');
        assert.equal(got.rest, '');
      });
    }
  });

  it('keeps no more than the limit while reading a huge message', () => {
    const r = new DataReader({ maxSize: 100 });
    const line = enc('x'.repeat(998) + '\r\n');
    for (let i = 0; i < 1000; i++) assert.equal(r.push(line).kind, 'need-more');
    const end = r.push(enc('.\r\n'));
    assert.equal(end.kind, 'error');
    assert.equal(r.size, 1_000_000);
  });

  it('reads 25 MB in linear time', () => {
    const r = new DataReader({ maxSize: 30_000_000 });
    const chunk = enc(('y'.repeat(76) + '\r\n').repeat(800));
    const started = performance.now();
    let total = 0;
    while (total < 25_000_000) {
      r.push(chunk);
      total += chunk.length;
    }
    const end = r.push(enc('.\r\n'));
    assert.equal(end.kind, 'done');
    assert.ok(performance.now() - started < 3000, 'took too long');
  });

  it('un-stuffs to the original content however it is split (property)', () => {
    const line = fc.stringMatching(/^[ -~]{0,30}$/);
    fc.assert(
      fc.property(fc.array(line, { maxLength: 15 }), fc.array(fc.nat(), { maxLength: 8 }), (lines, cuts) => {
        const content = lines.map((l) => l + '\r\n').join('');
        const wire = stuff(content) + 'NEXT';
        const points = [...new Set(cuts.map((c) => c % (wire.length + 1)))].sort((a, b) => a - b);
        const chunks: string[] = [];
        let at = 0;
        for (const p of points) {
          chunks.push(wire.slice(at, p));
          at = p;
        }
        chunks.push(wire.slice(at));
        const got = read(chunks, 100_000);
        assert.equal(got.outcome, `done:${content}`);
        // The rest is what followed the end in the chunk that held it.
        assert.ok('NEXT'.startsWith(got.rest));
      }),
    );
  });

  it('gives the same outcome for any bytes however they are split, and never throws (property)', () => {
    const bytes = fc.array(fc.constantFrom(0x0d, 0x0a, 0x2e, 0x61, 0xff), { maxLength: 60 }).map((a) => Uint8Array.from(a));
    fc.assert(
      fc.property(bytes, fc.array(fc.nat(), { maxLength: 6 }), (all, cuts) => {
        const whole = read([all, enc('\r\n.\r\n')], 30);
        const points = [...new Set(cuts.map((c) => c % (all.length + 1)))].sort((a, b) => a - b);
        const chunks: Uint8Array[] = [];
        let at = 0;
        for (const p of points) {
          chunks.push(all.subarray(at, p));
          at = p;
        }
        chunks.push(all.subarray(at), enc('\r\n.\r\n'));
        const split = read(chunks, 30);
        assert.equal(split.outcome, whole.outcome);
      }),
    );
  });

  it('agrees with a simple model: ends at the first ".\\r\\n" opening a line, un-stuffs, flags bare endings (property)', () => {
    const bytes = fc.array(fc.constantFrom(0x0d, 0x0a, 0x2e, 0x61), { maxLength: 50 }).map((a) => Uint8Array.from(a));
    fc.assert(
      fc.property(bytes, (input) => {
        const all = dec(Uint8Array.from([...input, 0x0d, 0x0a, 0x2e, 0x0d, 0x0a]));
        // Model: lines are what CRLF separates; the end is the first line that is exactly ".".
        let p = 0;
        while (!(all.startsWith('.\r\n', p) && (p === 0 || all.slice(p - 2, p) === '\r\n'))) p++;
        const body = all.slice(0, p);
        const bare = /\r(?!\n)|(?<!\r)\n/.test(body);
        const unstuffed = body.split('\r\n').map((l) => (l.startsWith('.') ? l.slice(1) : l)).join('\r\n');
        const got = read([all], 10_000);
        assert.equal(got.rest, all.slice(p + 3));
        assert.equal(got.outcome, bare ? 'error:bare-line-ending:550 5.6.0' : `done:${unstuffed}`);
      }),
      { numRuns: 2000 },
    );
  });

  it('ends only at the first CRLF.CRLF that follows a line start, and never at a bare line ending (property)', () => {
    const bytes = fc.array(fc.constantFrom(0x0d, 0x0a, 0x2e, 0x61), { maxLength: 40 }).map((a) => Uint8Array.from(a));
    fc.assert(
      fc.property(bytes, (all) => {
        const r = new DataReader({ maxSize: 1000 });
        const res = r.push(Uint8Array.from([...all, 0x0d, 0x0a, 0x2e, 0x0d, 0x0a]));
        assert.notEqual(res.kind, 'need-more');
        // The real end: "\r\n.\r\n" where the "\r\n" is itself at a line start or the start of input.
        const text = '\r\n' + dec(Uint8Array.from([...all, 0x0d, 0x0a, 0x2e, 0x0d, 0x0a]));
        const consumed = text.length - (res.kind === 'need-more' ? 0 : res.rest.length);
        assert.equal(text.slice(consumed - 5, consumed), '\r\n.\r\n');
        const hasBare = /\r(?!\n)|(?<!\r)\n/.test(text.slice(2, consumed - 5));
        if (hasBare) assert.equal(res.kind, 'error');
      }),
    );
  });
});
