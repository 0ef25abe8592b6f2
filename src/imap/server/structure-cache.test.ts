import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fetchResponse, messageStructure, parseFetchItems } from '../proto/fetch.ts';
import { toBuffer } from '../proto/format.ts';
import { tokenize } from '../proto/tokens.ts';
import { StructureCache } from './structure-cache.ts';

const MSG = Buffer.from(
  'From: "Doe, Jane" <jane@example.test>\r\nTo: b@x.test\r\nSubject: =?UTF-8?Q?R=C3=A9port?=\r\n' +
    'Content-Type: multipart/mixed; boundary=b1\r\n\r\n--b1\r\nContent-Type: text/plain\r\n\r\nline one\r\n' +
    '--b1\r\nContent-Type: message/rfc822\r\n\r\nSubject: inner\r\n\r\nbody\r\n--b1--\r\n',
);

function items(text: string) {
  const t = tokenize(Buffer.from(text));
  assert.ok(t.ok);
  const r = parseFetchItems(t.values[0]);
  assert.ok(r.ok);
  return r.items;
}

describe('IMAP structure cache', () => {
  it('answers ENVELOPE, BODYSTRUCTURE and BODY exactly as parsing the message does', () => {
    const list = items('(FLAGS ENVELOPE BODYSTRUCTURE BODY)');
    const m = { seq: 3, uid: 7, flags: ['\\Seen'], internalDate: 0, size: MSG.length };
    const parsed = toBuffer(fetchResponse(list, { ...m, data: MSG }, true));
    const cached = toBuffer(fetchResponse(list, { ...m, data: null, structure: messageStructure(MSG) }, true));
    assert.equal(cached.toString('latin1'), parsed.toString('latin1'));
  });

  it('drops the least recently used entries beyond its size', () => {
    const s = messageStructure(MSG);
    const one = s.envelope.byteLength + s.bodyStructure.byteLength + s.body.byteLength + 300;
    const cache = new StructureCache(3 * one + 100);
    for (let uid = 1; uid <= 3; uid++) cache.set(StructureCache.key(1, 9, uid), s);
    assert.ok(cache.get(StructureCache.key(1, 9, 1)) !== undefined);
    cache.set(StructureCache.key(1, 9, 4), s);
    assert.equal(cache.size, 3);
    assert.equal(cache.get(StructureCache.key(1, 9, 2)), undefined, 'the coldest went');
    assert.ok(cache.get(StructureCache.key(1, 9, 1)) !== undefined, 'a recent hit stayed');
    assert.ok(cache.bytes <= 3 * one + 100);
  });

  it('keys by UIDVALIDITY too, so a mailbox made again under a reused id misses', () => {
    const cache = new StructureCache(1 << 20);
    cache.set(StructureCache.key(1, 9, 1), messageStructure(MSG));
    assert.equal(cache.get(StructureCache.key(1, 10, 1)), undefined);
  });
});
