import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { parseMime } from '../../message/mime.ts';
import { fetchResponse, parseSection, sectionBytes } from './fetch.ts';
import { toBuffer } from './format.ts';
import { parseAddressList } from './structure.ts';
import { matches, parseSearch } from './search.ts';
import { tokenize } from './tokens.ts';

const MSG = Buffer.from(
  'From: "Doe, Jane" <jane@example.test>\r\nTo: team: a@x.test, b@x.test;, c@x.test (Cee)\r\nSubject: Report\r\n' +
    'Content-Type: multipart/mixed; boundary=b1\r\n\r\n--b1\r\nContent-Type: text/plain\r\n\r\nline one\r\nline two\r\n' +
    '--b1\r\nContent-Type: message/rfc822\r\n\r\nSubject: inner\r\nContent-Type: multipart/alternative; boundary="b2"\r\n\r\n' +
    '--b2\r\n\r\nplain\r\n--b2\r\nContent-Type: text/html\r\n\r\n<p>html</p>\r\n--b2--\r\n--b1--\r\n',
);

const text = (b: Uint8Array): string => Buffer.from(b).toString('latin1');

describe('IMAP FETCH sections', () => {
  const root = parseMime(MSG);
  const cases: Array<[string, string]> = [
    ['1', 'line one\r\nline two'],
    ['1.MIME', 'Content-Type: text/plain\r\n\r\n'],
    ['2.HEADER', 'Subject: inner\r\nContent-Type: multipart/alternative; boundary="b2"\r\n\r\n'],
    ['2.1', 'plain'],
    ['2.2', '<p>html</p>'],
    ['2.2.MIME', 'Content-Type: text/html\r\n\r\n'],
    ['HEADER.FIELDS (SUBJECT)', 'Subject: Report\r\n\r\n'],
    ['HEADER.FIELDS.NOT (FROM TO CONTENT-TYPE)', 'Subject: Report\r\n\r\n'],
    ['3', ''],
  ];
  for (const [spec, want] of cases) {
    it(`gives BODY[${spec}]`, () => {
      const s = parseSection(spec);
      assert.ok(s !== null);
      assert.equal(text(sectionBytes(MSG, root, s)), want);
    });
  }

  it('writes the BODYSTRUCTURE of a message/rfc822 part with its envelope and line count', () => {
    const out = toBuffer(fetchResponse([{ kind: 'BODYSTRUCTURE' }], { seq: 1, uid: 9, flags: [], internalDate: 0, size: MSG.length, data: MSG }, true)).toString();
    assert.match(out, /^\* 1 FETCH \(UID 9 BODYSTRUCTURE \(\("TEXT" "PLAIN" \("CHARSET" "us-ascii"\) NIL NIL "7BIT" 18 2 NIL NIL NIL NIL\)\("MESSAGE" "RFC822" NIL NIL NIL "7BIT" \d+ \(NIL "inner" /);
    assert.match(out, /\("TEXT" "HTML" \("CHARSET" "us-ascii"\) NIL NIL "7BIT" 11 1 NIL NIL NIL NIL\) "ALTERNATIVE" \("BOUNDARY" "b2"\) NIL NIL NIL\) 1\d NIL NIL NIL NIL\) "MIXED"/);
  });

  it('reads address lists with display names, groups and comments', () => {
    assert.deepEqual(parseAddressList('"Doe, Jane" <jane@example.test>, bob@x.test (Bob)'), [
      { name: 'Doe, Jane', adl: null, mailbox: 'jane', host: 'example.test' },
      { name: null, adl: null, mailbox: 'bob', host: 'x.test' },
    ]);
    assert.deepEqual(
      parseAddressList('team: a@x.test;').map((a) => [a.mailbox, a.host]),
      [
        ['team', null],
        ['a', 'x.test'],
        [null, null],
      ],
    );
  });

  it('never throws on any message', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary-ascii', maxLength: 400 }), fc.constantFrom('1', '1.2.MIME', 'TEXT', 'HEADER', '2.1'), (s, spec) => {
        const data = Buffer.from(`Content-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\n${s}\r\n--x--`, 'latin1');
        const section = parseSection(spec);
        if (section !== null) sectionBytes(data, parseMime(data), section);
        fetchResponse([{ kind: 'BODYSTRUCTURE' }, { kind: 'ENVELOPE' }], { seq: 1, uid: 1, flags: [], internalDate: 0, size: data.length, data }, false);
      }),
    );
  });
});

describe('IMAP SEARCH', () => {
  const search = (q: string) => {
    const t = tokenize(Buffer.from(q));
    assert.ok(t.ok);
    const r = parseSearch(t.values);
    assert.ok(r.ok, q);
    return r.key;
  };
  const m = { seq: 2, uid: 20, flags: ['\\Seen'], recent: true, internalDate: Date.UTC(2026, 0, 15, 12), size: MSG.length, data: MSG };
  const ctx = { maxSeq: 5, maxUid: 50 };
  const cases: Array<[string, boolean]> = [
    ['ALL', true],
    ['SEEN', true],
    ['UNSEEN', false],
    ['NEW', false],
    ['RECENT', true],
    ['OLD', false],
    ['2', true],
    ['3:*', false],
    ['UID 10:20', true],
    ['SUBJECT report', true],
    ['FROM jane', true],
    ['HEADER To team', true],
    ['BODY "line two"', true],
    ['TEXT inner', true],
    ['ON 15-Jan-2026', true],
    ['BEFORE 15-Jan-2026', false],
    ['SINCE 15-Jan-2026', true],
    [`LARGER ${MSG.length - 1}`, true],
    [`SMALLER ${MSG.length}`, false],
    ['OR UNSEEN SUBJECT report', true],
    ['NOT (SEEN SUBJECT report)', false],
    ['KEYWORD $Work', false],
    ['UNKEYWORD $Work', true],
  ];
  for (const [q, want] of cases) it(`${want ? 'matches' : 'does not match'} ${q}`, () => assert.equal(matches(search(q), m, ctx), want));
});
