import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { CommandReader, type ReadResult } from './reader.ts';

const limits = { maxLineLength: 100, maxLiteralSize: 50, maxCommandSize: 400 };

/** Feeds chunks, collecting every result until need-more after the last one. */
function readAll(chunks: readonly string[]): Array<ReadResult & { text?: string }> {
  const r = new CommandReader(limits);
  const out: Array<ReadResult & { text?: string }> = [];
  for (const c of chunks) {
    r.push(Buffer.from(c, 'latin1'));
    for (;;) {
      const x = r.next();
      if (x.kind === 'need-more') break;
      out.push(x.kind === 'command' ? { ...x, text: x.bytes.toString('latin1') } : x);
    }
  }
  return out;
}

const summary = (rs: ReturnType<typeof readAll>): string[] =>
  rs.map((r) => (r.kind === 'command' ? `cmd:${r.text}` : r.kind === 'error' ? `err:${r.tag}:${r.code}:${r.fatal}` : r.kind));

describe('IMAP command reader', () => {
  const cases: Array<[string, string[], string[]]> = [
    ['a plain line', ['a NOOP\r\n'], ['cmd:a NOOP']],
    ['two pipelined lines', ['a NOOP\r\nb NOOP\r\n'], ['cmd:a NOOP', 'cmd:b NOOP']],
    ['a line without CR', ['a NOOP\n'], ['cmd:a NOOP']],
    ['a synchronising literal asks to continue once', ['a LOGIN {3}\r\n', 'bob x\r\n'], ['continue', 'cmd:a LOGIN {3}\r\nbob x']],
    ['a LITERAL+ does not ask', ['a LOGIN {3+}\r\nbob x\r\n'], ['cmd:a LOGIN {3+}\r\nbob x']],
    ['two literals in one command', ['a LOGIN {1}\r\n', 'u {2}\r\n', 'pw\r\n'], ['continue', 'continue', 'cmd:a LOGIN {1}\r\nu {2}\r\npw']],
    ['a literal with CRLF inside', ['a X {4+}\r\n\r\n\r\n\r\n'], ['cmd:a X {4+}\r\n\r\n\r\n']],
    ['an overlong line', [`a ${'x'.repeat(150)}\r\nb NOOP\r\n`], ['err:a:TOOBIG:false', 'cmd:b NOOP']],
    ['a synchronising literal over the limit', ['a APPEND x {51}\r\nb NOOP\r\n'], ['err:a:TOOBIG:false', 'cmd:b NOOP']],
    ['a LITERAL+ over the limit is fatal', ['a APPEND x {51+}\r\n'], ['err:a:TOOBIG:true']],
  ];
  for (const [name, chunks, want] of cases) {
    it(`reads ${name}`, () => assert.deepEqual(summary(readAll(chunks)), want));
  }

  it('reads the same commands however the input is split', () => {
    const input = 'a1 LOGIN {3}\r\nbob {6+}\r\nsecret\r\na2 APPEND INBOX (\\Seen) {10}\r\n0123456789\r\na3 NOOP\r\n';
    const whole = summary(readAll([input])).filter((s) => s !== 'continue');
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: input.length - 1 }), { maxLength: 10 }), (cuts) => {
        const points = [...new Set(cuts)].sort((x, y) => x - y);
        const chunks: string[] = [];
        let last = 0;
        for (const p of points) {
          chunks.push(input.slice(last, p));
          last = p;
        }
        chunks.push(input.slice(last));
        assert.deepEqual(summary(readAll(chunks)).filter((s) => s !== 'continue'), whole);
      }),
    );
  });

  it('never throws and never hands out a command longer than the limits allow', () => {
    fc.assert(
      fc.property(fc.array(fc.string({ unit: 'binary-ascii', maxLength: 120 }), { maxLength: 8 }), (chunks) => {
        for (const r of readAll(chunks)) if (r.kind === 'command') assert.ok(r.bytes.length <= limits.maxCommandSize);
      }),
    );
  });
});
