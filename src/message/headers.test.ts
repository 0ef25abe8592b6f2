import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  countReceived,
  foldHeaderField,
  has8bit,
  headerValue,
  headerValues,
  parseHeaderFields,
  prependHeaderFields,
  splitMessage,
  unfoldHeader,
} from './headers.ts';

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
const dec = (b: Uint8Array): string => new TextDecoder().decode(b);

describe('splitMessage', () => {
  const cases: [what: string, message: string, header: string, separator: string, body: string][] = [
    ['splits at the first empty line', 'A: 1\r\nB: 2\r\n\r\nbody\r\n\r\nmore\r\n', 'A: 1\r\nB: 2\r\n', '\r\n', 'body\r\n\r\nmore\r\n'],
    ['gives an empty body when the message ends at the empty line', 'A: 1\r\n\r\n', 'A: 1\r\n', '\r\n', ''],
    ['takes a message without an empty line as all header', 'A: 1\r\nB: 2\r\n', 'A: 1\r\nB: 2\r\n', '', ''],
    ['takes a last line without CRLF as header', 'A: 1\r\nB: 2', 'A: 1\r\nB: 2', '', ''],
    ['gives an empty header when the message starts with an empty line', '\r\nbody', '', '\r\n', 'body'],
    ['handles the empty message', '', '', '', ''],
    ['accepts LF-only line endings', 'A: 1\nB: 2\n\nbody\n', 'A: 1\nB: 2\n', '\n', 'body\n'],
    ['does not take a lone CR for an empty line', 'A: 1\r\n\rX\r\n\r\nb', 'A: 1\r\n\rX\r\n', '\r\n', 'b'],
    ['does not split inside a folded field', 'A: 1\r\n  cont\r\n\r\nb', 'A: 1\r\n  cont\r\n', '\r\n', 'b'],
  ];
  for (const [what, message, header, separator, body] of cases) {
    it(what, () => {
      const s = splitMessage(enc(message));
      assert.deepEqual([dec(s.header), dec(s.separator), dec(s.body)], [header, separator, body]);
    });
  }

  it('never throws and its parts put together are the message', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        const s = splitMessage(bytes);
        assert.deepEqual(Buffer.concat([s.header, s.separator, s.body]), Buffer.from(bytes));
      }),
      { numRuns: 500 },
    );
  });

  it('finds the empty line in messages built from header-ish lines', () => {
    const line = fc.constantFrom('A: 1', ' folded', 'Received: x', '', 'no colon', '\r', 'x:');
    fc.assert(
      fc.property(fc.array(line, { maxLength: 12 }), (lines) => {
        const text = lines.join('\r\n');
        const s = splitMessage(enc(text));
        const at = lines.indexOf('');
        if (at < 0) assert.equal(dec(s.header), text);
        else assert.equal(dec(s.header), lines.slice(0, at).map((l) => `${l}\r\n`).join(''));
      }),
      { numRuns: 300 },
    );
  });
});

describe('parseHeaderFields', () => {
  const message = enc(
    'Received: from a\r\n\tby b; Mon, 1 Dec 2026 00:00:00 +0000\r\n' +
      'Subject: hello\r\n   world  \r\n' +
      'RECEIVED: from c\r\n' +
      'From no-colon line\r\n' +
      'X-Empty:\r\n' +
      'Name With Space: dropped\r\n' +
      'Key : spaced before colon\r\n' +
      '\r\n' +
      'Body-Field: not a header\r\n',
  );
  const fields = parseHeaderFields(message);

  it('unfolds values and trims the white space around them', () => {
    assert.equal(headerValue(fields, 'subject'), 'hello   world');
    assert.equal(headerValue(fields, 'Received'), 'from a\tby b; Mon, 1 Dec 2026 00:00:00 +0000');
  });

  it('keeps every occurrence, in order, matching names without regard to case', () => {
    assert.deepEqual(headerValues(fields, 'received'), ['from a\tby b; Mon, 1 Dec 2026 00:00:00 +0000', 'from c']);
  });

  it('keeps the field as written in raw', () => {
    assert.equal(fields[1]?.raw, 'Subject: hello\r\n   world  ');
  });

  it('skips lines that are not fields and stops at the body', () => {
    assert.deepEqual(
      fields.map((f) => f.name),
      ['Received', 'Subject', 'RECEIVED', 'X-Empty', 'Key'],
    );
    assert.equal(headerValue(fields, 'Body-Field'), undefined);
    assert.equal(headerValue(fields, 'X-Empty'), '');
    assert.equal(headerValue(fields, 'key'), 'spaced before colon');
  });

  it('reads a string as well as bytes', () => {
    assert.deepEqual(parseHeaderFields('A: 1\nB: 2\n x\n\nC: 3').map((f) => [f.name, f.value]), [
      ['A', '1'],
      ['B', '2 x'],
    ]);
  });

  it('never throws on any bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        for (const f of parseHeaderFields(bytes)) assert.ok(f.name.length > 0 && !f.value.includes('\n'));
      }),
      { numRuns: 500 },
    );
  });
});

describe('countReceived', () => {
  const cases: [what: string, message: string, count: number][] = [
    ['counts Received fields in any case', 'Received: a\r\nreceived: b\r\nRECEIVED : c\r\nSubject: x\r\n\r\n', 3],
    ['ignores continuation lines and other fields', 'X: a\r\n Received: b\r\nX-Received: c\r\nReceivedX: d\r\n\r\n', 0],
    ['does not count fields in the body', 'Received: a\r\n\r\nReceived: b\r\n', 1],
    ['counts in a message without a body', 'Received: a\r\nReceived: b', 2],
    ['counts nothing in the empty message', '', 0],
  ];
  for (const [what, message, count] of cases) it(what, () => assert.equal(countReceived(enc(message)), count));

  it('agrees with parseHeaderFields', () => {
    const line = fc.constantFrom('Received: x', 'received:y', ' Received: cont', 'Subject: s', 'Received', '');
    fc.assert(
      fc.property(fc.array(line, { maxLength: 15 }), (lines) => {
        const m = enc(lines.join('\r\n'));
        assert.equal(countReceived(m), headerValues(parseHeaderFields(m), 'received').length);
      }),
    );
  });
});

describe('foldHeaderField', () => {
  it('leaves a short field on one line', () => {
    assert.equal(foldHeaderField('Subject', 'hello world'), 'Subject: hello world');
  });

  it('folds a long value before white space, each line at most 78 columns', () => {
    const value = Array.from({ length: 30 }, (_, i) => `word${i}`).join(' ');
    const folded = foldHeaderField('Subject', value);
    const lines = folded.split('\r\n');
    assert.ok(lines.length > 1);
    for (const l of lines) assert.ok(l.length <= 78, l);
    for (const l of lines.slice(1)) assert.match(l, /^ \S/);
    assert.equal(unfoldHeader(folded), `Subject: ${value}`);
  });

  it('keeps a word longer than the line whole', () => {
    const long = 'x'.repeat(100);
    assert.equal(foldHeaderField('Subject', `a ${long} b`), `Subject: a\r\n ${long}\r\n b`);
  });

  it('never makes a line of white space alone', () => {
    assert.equal(foldHeaderField('S', `${'a'.repeat(70)}          `, { width: 20 }), `S: ${'a'.repeat(70)}          `);
  });

  it('turns line breaks in the value into spaces so it cannot add a field', () => {
    const folded = foldHeaderField('Subject', 'hi\r\nBcc: victim@example.test\nX');
    assert.equal(parseHeaderFields(`${folded}\r\n`).length, 1);
    assert.equal(folded, 'Subject: hi Bcc: victim@example.test X');
  });

  it('unfolds a pre-folded value before folding again', () => {
    assert.equal(foldHeaderField('A', 'x\r\n y'), 'A: x y');
  });

  const noBreaks = fc.string({ unit: fc.constantFrom('a', 'b', ' ', '\t', 'é', ';', 'Z'), maxLength: 300 });

  it('round-trips: unfolding the folded field gives the field back', () => {
    fc.assert(
      fc.property(noBreaks, fc.integer({ min: 1, max: 100 }), (value, width) => {
        assert.equal(unfoldHeader(foldHeaderField('X-Test', value, { width })), `X-Test: ${value}`);
      }),
      { numRuns: 1000 },
    );
  });

  it('only breaks where a line fits, or where a word is too long to fit anywhere', () => {
    fc.assert(
      fc.property(noBreaks, (value) => {
        const lines = foldHeaderField('X-Test', value).split('\r\n');
        for (const [i, l] of lines.entries()) {
          assert.ok(/[^ \t]/.test(l), `line ${i} is blank`);
          // A line over the width has no place inside it to fold at: its text is one word.
          if (l.length > 78) assert.ok(!/[^ \t][ \t]+[^ \t]/.test(i === 0 ? l.slice('X-Test: '.length) : l), l);
        }
      }),
      { numRuns: 500 },
    );
  });

  it('never throws on any string and its output holds no bare CR or LF', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 200 }), (value) => {
        const folded = foldHeaderField('X', value);
        assert.ok(!/\r(?!\n)|(?<!\r)\n/.test(folded));
        assert.ok(!/\r\n(?![ \t])/.test(folded));
      }),
      { numRuns: 500 },
    );
  });
});

describe('unfoldHeader', () => {
  const cases: [string, string][] = [
    ['a\r\n b', 'a b'],
    ['a\r\n\tb', 'a\tb'],
    ['a\r\nb', 'a\r\nb'],
    ['a\n b', 'a b'],
    ['a\r\n \r\n b', 'a  b'],
  ];
  for (const [input, want] of cases) it(`unfolds ${JSON.stringify(input)} to ${JSON.stringify(want)}`, () => assert.equal(unfoldHeader(input), want));
});

describe('has8bit', () => {
  const cases: [what: string, bytes: number[], want: boolean][] = [
    ['is false for US-ASCII', [0x41, 0x0d, 0x0a, 0x7f], false],
    ['is true for a byte of 0x80', [0x41, 0x80], true],
    ['is true for UTF-8', [...enc('héllo')], true],
    ['is false for nothing', [], false],
  ];
  for (const [what, bytes, want] of cases) it(what, () => assert.equal(has8bit(new Uint8Array(bytes)), want));
});

describe('prependHeaderFields', () => {
  it('puts the fields on top in the order given, adding CRLF where missing', () => {
    const out = prependHeaderFields(enc('Subject: x\r\n\r\nbody'), ['Return-Path: <a@b>', 'Delivered-To: c@d\r\n']);
    assert.equal(dec(out), 'Return-Path: <a@b>\r\nDelivered-To: c@d\r\nSubject: x\r\n\r\nbody');
  });

  it('keeps 8-bit bytes of the message as they were', () => {
    const message = new Uint8Array([0x53, 0x3a, 0x20, 0xff, 0x0d, 0x0a, 0x0d, 0x0a, 0xfe]);
    const out = prependHeaderFields(message, ['A: 1']);
    assert.deepEqual(out.subarray(out.length - message.length), message);
  });

  it('gives back a copy of the message when there is nothing to add', () => {
    const message = enc('A: 1\r\n\r\n');
    const out = prependHeaderFields(message, []);
    assert.deepEqual(out, message);
    assert.notEqual(out, message);
  });
});
