import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { NO_CAPABILITIES } from '../proto/reply.ts';
import { mailCommand, rcptCommand, unsafeAddress, xtext } from './params.ts';

describe('xtext', () => {
  const cases: Array<[string, string]> = [
    ['plain-id.123', 'plain-id.123'],
    ['a+b=c', 'a+2Bb+3Dc'],
    ['with space', 'with+20space'],
    ['ü', '+C3+BC'],
    ['', ''],
  ];
  for (const [input, want] of cases) it(`encodes ${JSON.stringify(input)} as ${JSON.stringify(want)}`, () => assert.equal(xtext(input), want));
});

describe('envelope commands', () => {
  const all = { ...NO_CAPABILITIES, size: 0, eightBitMime: true, smtpUtf8: true, dsn: true };
  const msg = { sender: 's@x.test', recipients: [], data: new Uint8Array(), ret: 'HDRS' as const, envid: 'q+1' };

  it('writes every parameter the server offers and the message needs', () => {
    assert.equal(mailCommand(msg, all, { size: 42, eightBit: true, smtpUtf8: true }), 'MAIL FROM:<s@x.test> SIZE=42 BODY=8BITMIME SMTPUTF8 RET=HDRS ENVID=q+2B1\r\n');
  });

  it('writes none of them to a server that offers nothing', () => {
    assert.equal(mailCommand(msg, NO_CAPABILITIES, { size: 42, eightBit: true, smtpUtf8: true }), 'MAIL FROM:<s@x.test>\r\n');
  });

  it('writes the null sender as <>', () => {
    assert.equal(mailCommand({ ...msg, sender: '' }, NO_CAPABILITIES, { size: 1, eightBit: false, smtpUtf8: false }), 'MAIL FROM:<>\r\n');
  });

  it('writes NOTIFY and ORCPT only when DSN is offered', () => {
    const r = { address: 'r@y.test', notify: ['SUCCESS', 'DELAY'] as const, orcpt: { type: 'rfc822', address: 'r+x@y.test' } };
    assert.equal(rcptCommand(r, all), 'RCPT TO:<r@y.test> NOTIFY=SUCCESS,DELAY ORCPT=rfc822;r+2Bx@y.test\r\n');
    assert.equal(rcptCommand(r, NO_CAPABILITIES), 'RCPT TO:<r@y.test>\r\n');
  });

  it('finds addresses that would break the command line', () => {
    assert.deepEqual(['a@b', 'a\r\nRSET@b', 'a>b@c', '"a b"@c', 'a\x00@b'].map(unsafeAddress), [false, true, true, false, true]);
  });
});
