import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { BdatReader } from './bdat-reader.ts';
import type { BdatResult } from './bdat-reader.ts';

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
const dec = (b: Uint8Array): string => new TextDecoder().decode(b);

function show(r: BdatResult): string {
  switch (r.kind) {
    case 'need-more':
      return 'need-more';
    case 'chunk':
      return `chunk:${r.size}:${dec(r.rest)}`;
    case 'done':
      return `done:${dec(r.data)}:${dec(r.rest)}`;
    case 'error':
      return `error:${r.problem}:${r.reply.code} ${r.reply.enhanced}:${dec(r.rest)}`;
  }
}

/** Runs chunks: each [size, last, bytes as arriving in reads]; the result of each chunk. */
function run(chunks: Array<[number, boolean, string[]]>, maxSize = 1000, discard = false): string[] {
  const r = new BdatReader({ maxSize, discard });
  const out: string[] = [];
  for (const [size, last, reads] of chunks) {
    r.begin(size, last);
    for (const bytes of reads) {
      const res = r.push(enc(bytes));
      if (res.kind !== 'need-more') out.push(show(res));
    }
  }
  return out;
}

describe('BdatReader', () => {
  it('reads exactly the announced octets and returns the rest', () => {
    assert.deepEqual(run([[5, true, ['hi\r\nQUIT\r\n']]]), ['done:hi\r\nQ:UIT\r\n']);
  });

  it('does not un-stuff dots or look for an end marker', () => {
    assert.deepEqual(run([[8, true, ['.\r\n..\r\n.']]]), ['done:.\r\n..\r\n.:']);
    assert.deepEqual(run([[7, true, ['.\r\n.\r\nx']]]), ['done:.\r\n.\r\nx:']);
  });

  it('joins chunks into one message at LAST', () => {
    assert.deepEqual(run([[3, false, ['abc']], [2, true, ['\r\n']]]), ['chunk:3:', 'done:abc\r\n:']);
  });

  it('reads a chunk spread over many reads', () => {
    assert.deepEqual(run([[6, true, ['a', 'b', 'cd', '\r', '\nNOOP']]]), ['done:abcd\r\n:NOOP']);
  });

  it('accepts a CRLF split between two chunks', () => {
    assert.deepEqual(run([[2, false, ['a\r']], [1, true, ['\n']]]), ['chunk:2:', 'done:a\r\n:']);
  });

  it('accepts BDAT 0 LAST as the end of a message', () => {
    assert.deepEqual(run([[4, false, ['a\r\n\r']], [0, true, []]]).slice(0, 1), ['chunk:4:']);
    const r = new BdatReader({ maxSize: 100 });
    r.begin(3, false);
    r.push(enc('a\r\n'));
    r.begin(0, true);
    assert.equal(show(r.push(new Uint8Array(0))), 'done:a\r\n:');
  });

  it('refuses a bare LF at the end of the chunk that carries it', () => {
    assert.deepEqual(run([[2, false, ['a\n']]]), ['error:bare-line-ending:550 5.6.0:']);
  });

  it('refuses a CR left dangling at the end of the last chunk', () => {
    assert.deepEqual(run([[2, true, ['a\r']]]), ['error:bare-line-ending:550 5.6.0:']);
  });

  it('refuses a message that grows past the limit, after consuming the chunk', () => {
    assert.deepEqual(run([[6, false, ['abcdefNOOP']]], 4), ['error:too-big:552 5.3.4:NOOP']);
  });

  it('in discard mode consumes chunks and keeps nothing', () => {
    assert.deepEqual(run([[3, false, ['a\nb']], [1, true, ['cX']]], 0, true), ['chunk:3:', 'done::X']);
  });

  it('gives the same message however the reads are split (property)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.stringMatching(/^[ -~]{0,12}$/), { minLength: 1, maxLength: 6 }),
        fc.array(fc.nat(), { maxLength: 6 }),
        (pieces, cuts) => {
          const lines = pieces.map((p) => p + '\r\n').join('');
          const r = new BdatReader({ maxSize: 10_000 });
          // One chunk per piece of the split, the last marked LAST.
          const points = [...new Set(cuts.map((c) => c % (lines.length + 1)))].sort((a, b) => a - b);
          const bounds = [0, ...points, lines.length];
          let result: BdatResult = { kind: 'need-more' };
          for (let i = 0; i + 1 < bounds.length; i++) {
            const part = lines.slice(bounds[i], bounds[i + 1]);
            r.begin(part.length, i + 2 === bounds.length);
            result = r.push(enc(part));
          }
          assert.equal(show(result), `done:${lines}:`);
        },
      ),
    );
  });

  it('never throws on random sizes and bytes (property)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.nat({ max: 50 }), fc.boolean(), fc.uint8Array({ maxLength: 60 })), { maxLength: 8 }),
        fc.nat({ max: 100 }),
        (steps, max) => {
          const r = new BdatReader({ maxSize: max });
          for (const [size, last, bytes] of steps) {
            if (!r.inChunk) r.begin(size, last);
            r.push(bytes);
          }
        },
      ),
    );
  });
});
