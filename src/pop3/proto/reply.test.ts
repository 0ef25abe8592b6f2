import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { continuation, err, multiline, ok } from './reply.ts';

describe('POP3 responses', () => {
  const cases: Array<[string, string, string]> = [
    ['+OK alone', ok(), '+OK\r\n'],
    ['+OK with text', ok('2 320'), '+OK 2 320\r\n'],
    ['-ERR with text', err('no such message'), '-ERR no such message\r\n'],
    ['-ERR with a response code (RFC 2449 §8)', err('maildrop already locked', 'IN-USE'), '-ERR [IN-USE] maildrop already locked\r\n'],
    ['a SASL continuation (RFC 5034 §4)', continuation(), '+ \r\n'],
    ['a multi-line response, byte-stuffed', multiline('list follows', ['1 120', '.x']), '+OK list follows\r\n1 120\r\n..x\r\n.\r\n'],
    ['an empty multi-line response', multiline('0 messages', []), '+OK 0 messages\r\n.\r\n'],
    ['a text with a line break on one line', ok('a\r\n-ERR b'), '+OK a -ERR b\r\n'],
  ];
  for (const [name, got, want] of cases) it(`writes ${name}`, () => assert.equal(got, want));
});
