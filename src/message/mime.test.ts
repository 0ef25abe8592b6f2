import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { countLines, findPart, parseMime, parseParameterized } from './mime.ts';

describe('MIME structure', () => {
  it('reads Content-Type parameters, quoted and RFC 2231 continued', () => {
    assert.deepEqual(parseParameterized('Text/Plain; charset="utf-8"; format=flowed (comment)'), {
      value: 'text/plain',
      params: [
        ['charset', 'utf-8'],
        ['format', 'flowed'],
      ],
    });
    assert.deepEqual(parseParameterized('attachment; filename*0="long"; filename*1="name.txt"').params, [['filename', 'longname.txt']]);
  });

  it('finds the parts of a multipart with their byte offsets, without the CRLF before a delimiter', () => {
    const msg = Buffer.from('Content-Type: multipart/alternative; boundary=zz\r\n\r\n--zz\r\n\r\na\r\n--zz\r\nContent-Type: text/html\r\n\r\n<b>\r\n--zz--\r\n');
    const root = parseMime(msg);
    assert.deepEqual([root.type, root.subtype, root.children.length], ['multipart', 'alternative', 2]);
    const [a, b] = root.children;
    assert.equal(msg.subarray(a?.bodyStart, a?.end).toString(), 'a');
    assert.equal(b?.subtype, 'html');
    assert.equal(msg.subarray(b?.bodyStart, b?.end).toString(), '<b>');
    assert.equal(findPart(root, [2]), b);
    assert.equal(findPart(root, [3]), null);
  });

  it('treats a message without Content-Type as text/plain with one part', () => {
    const msg = Buffer.from('Subject: x\r\n\r\nbody\r\nmore');
    const root = parseMime(msg);
    assert.deepEqual([root.type, root.subtype], ['text', 'plain']);
    assert.equal(findPart(root, [1]), root);
    assert.equal(countLines(msg, root.bodyStart, root.end), 2);
  });

  it('never throws, and keeps every part inside its parent', () => {
    fc.assert(
      fc.property(fc.array(fc.constantFrom('--a\r\n', '--a--\r\n', 'Content-Type: multipart/mixed; boundary=a\r\n', 'Content-Type: message/rfc822\r\n', '\r\n', 'x\r\n', '--b\r\n'), { maxLength: 40 }), (lines) => {
        const msg = Buffer.from(`Content-Type: multipart/mixed; boundary=a\r\n\r\n${lines.join('')}`);
        const check = (p: ReturnType<typeof parseMime>, lo: number, hi: number): void => {
          assert.ok(p.start >= lo && p.bodyStart >= p.start && p.end >= p.bodyStart && p.end <= hi);
          for (const c of p.children) check(c, p.bodyStart, p.end);
          if (p.message !== null) check(p.message, p.bodyStart, p.end);
        };
        check(parseMime(msg), 0, msg.length);
      }),
    );
  });
});
