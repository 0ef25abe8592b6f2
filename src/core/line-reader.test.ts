import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { LineReader } from './line-reader.ts';
import type { LineResult } from './line-reader.ts';

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
const dec = (b: Uint8Array): string => new TextDecoder().decode(b);

/** Every result until need-more, lines decoded. */
function drain(r: LineReader): string[] {
  const out: string[] = [];
  for (let i = 0; i < 10_000; i++) {
    const x: LineResult = r.next();
    if (x.kind === 'need-more') return out;
    out.push(x.kind === 'line' ? `line:${dec(x.line)}` : `error:${x.problem}`);
  }
  throw new Error('reader never said need-more');
}

function readAll(chunks: readonly string[], maxLineLength?: number): string[] {
  const r = new LineReader(maxLineLength === undefined ? {} : { maxLineLength });
  const out: string[] = [];
  for (const c of chunks) {
    r.push(enc(c));
    out.push(...drain(r));
  }
  return out;
}

describe('LineReader', () => {
  const cases: Array<[string, string[], string[], number?]> = [
    ['returns a line ended by CRLF without the CRLF', ['EHLO a\r\n'], ['line:EHLO a']],
    ['waits for the LF of a CRLF split across reads', ['EHLO a\r', '\n'], ['line:EHLO a']],
    ['returns several pipelined lines in order', ['MAIL FROM:<>\r\nRCPT TO:<a@b>\r\nDATA\r\n'], ['line:MAIL FROM:<>', 'line:RCPT TO:<a@b>', 'line:DATA']],
    ['keeps a partial line until its end arrives', ['NO', 'OP', '\r\n'], ['line:NOOP']],
    ['reports a line ended by a bare LF as an error', ['NOOP\nQUIT\r\n'], ['error:bare-lf', 'line:QUIT']],
    ['keeps a bare CR inside the line for the parser to refuse', ['NO\rOP\r\n'], ['line:NO\rOP']],
    ['accepts a line of exactly the limit, CRLF included', ['x'.repeat(8) + '\r\n'], ['line:' + 'x'.repeat(8)], 10],
    ['refuses a line one octet over the limit', ['x'.repeat(9) + '\r\nQUIT\r\n'], ['error:line-too-long', 'line:QUIT'], 10],
    ['reports an endless line once and skips to its end', ['x'.repeat(30), 'y'.repeat(30), 'z\r\nQUIT\r\n'], ['error:line-too-long', 'line:QUIT'], 10],
    ['returns an empty line as an empty string', ['\r\n'], ['line:']],
  ];
  for (const [name, chunks, want, max] of cases) {
    it(name, () => assert.deepEqual(readAll(chunks, max), want));
  }

  it('defaults to the RFC 5321 limit of 512 octets', () => {
    assert.deepEqual(readAll(['x'.repeat(510) + '\r\n']), ['line:' + 'x'.repeat(510)]);
    assert.deepEqual(readAll(['x'.repeat(511) + '\r\n']), ['error:line-too-long']);
  });

  it('hands back what follows the last line (the start of DATA content)', () => {
    const r = new LineReader();
    r.push(enc('DATA\r\nSubject: x'));
    assert.equal(r.next().kind, 'line');
    assert.equal(dec(r.takeRest()), 'Subject: x');
    assert.equal(r.buffered, 0);
  });

  it('forgets everything buffered on discard', () => {
    const r = new LineReader();
    r.push(enc('STARTTLS\r\nMAIL FROM:<evil@x>\r\n'));
    assert.equal(r.next().kind, 'line');
    r.discard();
    assert.deepEqual(drain(r), []);
  });

  it('gives the same lines however the input is split (property)', () => {
    const line = fc.stringMatching(/^[ -~]{0,40}$/);
    fc.assert(
      fc.property(fc.array(line, { maxLength: 20 }), fc.array(fc.nat(), { maxLength: 10 }), (lines, cuts) => {
        const text = lines.map((l) => l + '\r\n').join('');
        const points = [...new Set(cuts.map((c) => c % (text.length + 1)))].sort((a, b) => a - b);
        const chunks: string[] = [];
        let at = 0;
        for (const p of points) {
          chunks.push(text.slice(at, p));
          at = p;
        }
        chunks.push(text.slice(at));
        assert.deepEqual(readAll(chunks, 64), lines.map((l) => `line:${l}`));
      }),
    );
  });

  it('never throws and never loops on random bytes (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 100 }), { maxLength: 10 }), fc.integer({ min: 0, max: 200 }), (chunks, max) => {
        const r = new LineReader({ maxLineLength: max });
        for (const c of chunks) {
          r.push(c);
          drain(r);
        }
      }),
    );
  });
});
