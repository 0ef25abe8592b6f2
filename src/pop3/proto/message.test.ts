import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { stuffMessage, topOfMessage, unstuffMessage } from './message.ts';

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
const dec = (b: Uint8Array): string => new TextDecoder().decode(b);

describe('stuffMessage', () => {
  const cases: Array<[string, string, string]> = [
    ['a plain message', 'Subject: x\r\n\r\nhello\r\n', 'Subject: x\r\n\r\nhello\r\n.\r\n'],
    ['a line starting with a dot', 'A: b\r\n\r\n.hidden\r\n', 'A: b\r\n\r\n..hidden\r\n.\r\n'],
    ['a line of a single dot', 'A: b\r\n\r\n.\r\nafter\r\n', 'A: b\r\n\r\n..\r\nafter\r\n.\r\n'],
    ['a dot at the very start', '.x\r\n', '..x\r\n.\r\n'],
    ['a dot that does not start a line', 'a.b\r\n', 'a.b\r\n.\r\n'],
    ['no final line end', 'A: b\r\n\r\nend', 'A: b\r\n\r\nend\r\n.\r\n'],
    ['a bare LF', 'A: b\n\n.x\n', 'A: b\r\n\r\n..x\r\n.\r\n'],
    ['a bare CR left alone', 'a\rb\r\n', 'a\rb\r\n.\r\n'],
    ['an empty message', '', '.\r\n'],
  ];
  for (const [name, input, want] of cases) {
    it(`stuffs ${name}`, () => assert.equal(dec(stuffMessage(enc(input))), want));
  }

  it('gives back the message (CRLF line ends) when a client unstuffs it', () => {
    const line = fc.stringMatching(/^[.a-z ]{0,12}$/);
    fc.assert(
      fc.property(fc.array(line, { maxLength: 12 }), (lines) => {
        const message = enc(lines.map((l) => `${l}\r\n`).join(''));
        const wire = stuffMessage(message);
        assert.deepEqual(unstuffMessage(wire), message);
      }),
    );
  });

  it('never ends a response early, whatever the bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        const wire = dec(stuffMessage(bytes));
        assert.ok(wire.endsWith('.\r\n'));
        // The only line that is a single dot is the last one.
        const lines = wire.split('\r\n');
        assert.equal(lines.indexOf('.'), lines.length - 2);
        assert.ok(!/[^\r]\n/.test(wire) && !wire.startsWith('\n'));
      }),
    );
  });
});

describe('topOfMessage', () => {
  const msg = 'From: a@b.test\r\nSubject: hi\r\n\r\nline 1\r\nline 2\r\nline 3\r\n';
  const cases: Array<[string, string, number, string]> = [
    ['only the header for 0 lines', msg, 0, 'From: a@b.test\r\nSubject: hi\r\n\r\n'],
    ['the header and 2 body lines', msg, 2, 'From: a@b.test\r\nSubject: hi\r\n\r\nline 1\r\nline 2\r\n'],
    ['the whole message for more lines than it has', msg, 99, msg],
    ['a message without a body whole', 'From: a@b.test\r\nSubject: hi\r\n', 0, 'From: a@b.test\r\nSubject: hi\r\n'],
    ['an empty header', '\r\nbody\r\nmore\r\n', 1, '\r\nbody\r\n'],
    ['a last line without a line end', 'A: b\r\n\r\nx\r\ny', 5, 'A: b\r\n\r\nx\r\ny'],
    ['bare LF line ends', 'A: b\n\nx\ny\n', 1, 'A: b\n\nx\n'],
  ];
  for (const [name, input, lines, want] of cases) {
    it(`gives ${name}`, () => assert.equal(dec(topOfMessage(enc(input), lines)), want));
  }

  it('is always a prefix of the message, and the whole of it for enough lines', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), fc.nat(50), (bytes, n) => {
        const top = topOfMessage(bytes, n);
        assert.deepEqual(top, bytes.subarray(0, top.length));
        assert.deepEqual(topOfMessage(bytes, bytes.length + 1), bytes);
      }),
    );
  });
});
