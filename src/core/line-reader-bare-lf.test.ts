import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { LineReader } from './line-reader.ts';
import type { LineResult } from './line-reader.ts';

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
const dec = (b: Uint8Array): string => new TextDecoder().decode(b);

function drain(reader: LineReader): Array<string | { error: string }> {
  const out: Array<string | { error: string }> = [];
  for (;;) {
    const r: LineResult = reader.next();
    if (r.kind === 'need-more') return out;
    out.push(r.kind === 'line' ? dec(r.line) : { error: r.problem });
  }
}

describe('LineReader', () => {
  const cases: Array<[string, string[], Array<string | { error: string }>]> = [
    ['one CRLF line', ['STAT\r\n'], ['STAT']],
    ['pipelined lines in one chunk', ['USER a\r\nPASS b\r\nSTAT\r\n'], ['USER a', 'PASS b', 'STAT']],
    ['a line split across chunks', ['ST', 'A', 'T\r', '\n'], ['STAT']],
    ['a bare LF as a line end', ['STAT\nLIST\r\n'], ['STAT', 'LIST']],
    ['an empty line', ['\r\n'], ['']],
    ['a partial line waits', ['STAT'], []],
    ['a line over the limit, then a good one', [`${'x'.repeat(30)}\r\nSTAT\r\n`], [{ error: 'line-too-long' }, 'STAT']],
    ['an endless line reported once', ['x'.repeat(25), 'x'.repeat(25), 'x'.repeat(25), '\r\nNOOP\r\n'], [{ error: 'line-too-long' }, 'NOOP']],
    ['a line exactly at the limit', [`${'x'.repeat(18)}\r\n`], ['x'.repeat(18)]],
  ];
  for (const [name, chunks, want] of cases) {
    it(`reads ${name}`, () => {
      const r = new LineReader({ maxLineLength: 20, allowBareLf: true });
      const got: Array<string | { error: string }> = [];
      for (const c of chunks) {
        r.push(enc(c));
        got.push(...drain(r));
      }
      assert.deepEqual(got, want);
    });
  }

  it('forgets what is buffered on discard', () => {
    const r = new LineReader({ maxLineLength: 100, allowBareLf: true });
    r.push(enc('USER evil\r\nPASS'));
    r.discard();
    r.push(enc('CAPA\r\n'));
    assert.deepEqual(drain(r), ['CAPA']);
  });

  it('reads the same lines however the bytes are split', () => {
    const line = fc.stringMatching(/^[A-Za-z0-9 ]{0,30}$/);
    fc.assert(
      fc.property(fc.array(line, { maxLength: 10 }), fc.array(fc.integer({ min: 1, max: 7 }), { minLength: 1 }), (lines, sizes) => {
        const bytes = enc(lines.map((l) => `${l}\r\n`).join(''));
        const r = new LineReader({ maxLineLength: 64, allowBareLf: true });
        const got: Array<string | { error: string }> = [];
        let at = 0;
        for (let i = 0; at < bytes.length; i++) {
          const n = sizes[i % sizes.length] ?? 1;
          r.push(bytes.subarray(at, at + n));
          at += n;
          got.push(...drain(r));
        }
        assert.deepEqual(got, lines);
      }),
    );
  });

  it('never buffers more than the limit, whatever arrives', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 100 }), { maxLength: 20 }), (chunks) => {
        const r = new LineReader({ maxLineLength: 50, allowBareLf: true });
        for (const c of chunks) {
          r.push(c);
          drain(r);
          assert.ok(r.buffered < 50);
        }
      }),
    );
  });
});
