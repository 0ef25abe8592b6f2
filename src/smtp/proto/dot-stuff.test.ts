import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { canonicalLineEnds, dotStuff } from './dot-stuff.ts';

const bytes = (s: string): Uint8Array => new TextEncoder().encode(s);
const text = (b: Uint8Array): string => Buffer.from(b).toString('latin1');

/** The receiver's side (RFC 5321 §4.5.2), written plainly, to check the encoder against. */
function unstuff(wire: string): string | null {
  if (wire === '.\r\n') return '';
  const end = wire.indexOf('\r\n.\r\n');
  if (end === -1 || end + 5 !== wire.length) return null;
  return wire
    .slice(0, end + 2)
    .split('\r\n')
    .map((l) => (l.startsWith('.') ? l.slice(1) : l))
    .join('\r\n');
}

describe('dotStuff', () => {
  const cases: Array<[string, string, string, number]> = [
    ['ends a message that ends with CRLF with "." CRLF', 'a\r\nb\r\n', 'a\r\nb\r\n.\r\n', 0],
    ['adds a CRLF before the terminator when the message lacks one', 'a\r\nb', 'a\r\nb\r\n.\r\n', 0],
    ['doubles a dot at the start of the message', '.hidden\r\n', '..hidden\r\n.\r\n', 0],
    ['doubles a dot at the start of any line', 'a\r\n.\r\n..b\r\n', 'a\r\n..\r\n...b\r\n.\r\n', 0],
    ['leaves dots inside lines alone', 'a.b\r\n x.\r\n', 'a.b\r\n x.\r\n.\r\n', 0],
    ['turns a bare LF into CRLF and counts it', 'a\nb\r\nc\n', 'a\r\nb\r\nc\r\n.\r\n', 2],
    ['stuffs a dot after a bare LF', 'a\n.b', 'a\r\n..b\r\n.\r\n', 1],
    ['turns a leading bare LF into CRLF', '\n', '\r\n.\r\n', 1],
    ['leaves a bare CR alone', 'a\rb\r\n', 'a\rb\r\n.\r\n', 0],
    ['writes only the terminator for an empty message', '', '.\r\n', 0],
  ];
  for (const [name, input, want, bare] of cases) {
    it(name, () => {
      const got = dotStuff(bytes(input));
      assert.equal(text(got.data), want);
      assert.equal(got.bareLineFeeds, bare);
    });
  }

  it('counts the size as RFC 1870 does: CRLF line ends, no stuffing, no terminator', () => {
    assert.equal(dotStuff(bytes('.a\nb\r\n')).messageSize, 7);
  });

  it('gives back the CRLF form of any message when the receiver unstuffs it', () => {
    const line = fc.oneof(fc.constantFrom('', '.', '..', '.x', 'x.', ' .'), fc.stringMatching(/^[ -~]{0,12}$/));
    fc.assert(
      fc.property(fc.array(line, { maxLength: 8 }), fc.array(fc.constantFrom('\r\n', '\n'), { minLength: 8, maxLength: 8 }), fc.boolean(), (lines, eols, endsWithEol) => {
        const msg = lines.map((l, i) => l + (i < lines.length - 1 || endsWithEol ? eols[i] : '')).join('');
        const crlf = msg.replace(/\r?\n/g, '\r\n');
        const wire = text(dotStuff(bytes(msg)).data);
        const back = unstuff(wire);
        const expected = crlf === '' ? '' : crlf.endsWith('\r\n') ? crlf : `${crlf}\r\n`;
        assert.equal(back, expected);
        // Nothing before the terminator can end the message early.
        assert.equal(wire.indexOf('\r\n.\r\n'), wire.length === 3 ? -1 : wire.length - 5);
      }),
      { numRuns: 500 },
    );
  });

  it('prepares a 50 MB message in linear time', () => {
    const line = bytes('.a line of text that starts with a dot, 64 bytes long.........\r\n');
    const big = new Uint8Array(50 * 1024 * 1024);
    for (let i = 0; i + line.length <= big.length; i += line.length) big.set(line, i);
    const start = performance.now();
    const got = dotStuff(big);
    const ms = performance.now() - start;
    assert.equal(got.data.length, big.length + big.length / line.length + 3);
    assert.ok(ms < 5000, `took ${ms} ms`);
  });
});

describe('canonicalLineEnds', () => {
  it('changes only bare LFs, and adds no terminator', () => {
    const got = canonicalLineEnds(bytes('.a\nb\r\n.'));
    assert.equal(text(got.data), '.a\r\nb\r\n.');
    assert.equal(got.bareLineFeeds, 1);
    assert.equal(got.messageSize, 8);
  });

  it('hands back the same bytes when nothing needs changing', () => {
    const msg = bytes('a\r\nb\r\n');
    assert.equal(canonicalLineEnds(msg).data, msg);
  });
});
