import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { parseCommand, parseCommandBytes, parseSaslResponse, redactCommandLine } from './command.ts';
import type { Pop3Command } from './command.ts';

/** The command, or "error: <verb or null>". */
function outcome(line: string): Pop3Command | string {
  const r = parseCommand(line);
  return r.kind === 'command' ? r.command : `error: ${r.verb ?? 'unknown'}`;
}

describe('parseCommand', () => {
  const cases: Array<[string, Pop3Command | string]> = [
    ['CAPA', { verb: 'CAPA' }],
    ['capa', { verb: 'CAPA' }],
    ['CAPA x', 'error: CAPA'],
    ['STLS', { verb: 'STLS' }],
    ['QUIT', { verb: 'QUIT' }],
    ['quit', { verb: 'QUIT' }],
    ['STAT', { verb: 'STAT' }],
    ['RSET', { verb: 'RSET' }],
    ['NOOP', { verb: 'NOOP' }],
    ['NOOP now', 'error: NOOP'],
    ['USER alice@example.test', { verb: 'USER', name: 'alice@example.test' }],
    ['user Alice@Example.Test', { verb: 'USER', name: 'Alice@Example.Test' }],
    ['USER', 'error: USER'],
    ['USER ', 'error: USER'],
    ['USER two words', 'error: USER'],
    ['PASS secret', { verb: 'PASS', password: 'secret' }],
    ['PASS with spaces  inside ', { verb: 'PASS', password: 'with spaces  inside ' }],
    ['PASS pässwörd', { verb: 'PASS', password: 'pässwörd' }],
    ['PASS', 'error: PASS'],
    ['PASS ', 'error: PASS'],
    ['AUTH', { verb: 'AUTH', mechanism: null, initialResponse: null }],
    ['AUTH PLAIN', { verb: 'AUTH', mechanism: 'PLAIN', initialResponse: null }],
    ['auth plain AGFsaWNlAHNlY3JldA==', { verb: 'AUTH', mechanism: 'PLAIN', initialResponse: 'AGFsaWNlAHNlY3JldA==' }],
    ['AUTH PLAIN =', { verb: 'AUTH', mechanism: 'PLAIN', initialResponse: '=' }],
    ['AUTH CRAM-MD5', { verb: 'AUTH', mechanism: 'CRAM-MD5', initialResponse: null }],
    ['AUTH PLAIN a b', 'error: AUTH'],
    ['AUTH PL@IN', 'error: AUTH'],
    ['LIST', { verb: 'LIST', msg: null }],
    ['LIST 1', { verb: 'LIST', msg: 1 }],
    ['LIST  2', { verb: 'LIST', msg: 2 }],
    ['LIST 0', 'error: LIST'],
    ['LIST -1', 'error: LIST'],
    ['LIST x', 'error: LIST'],
    ['LIST 1 2', 'error: LIST'],
    ['LIST 1234567890', 'error: LIST'],
    ['UIDL', { verb: 'UIDL', msg: null }],
    ['uidl 3', { verb: 'UIDL', msg: 3 }],
    ['RETR 1', { verb: 'RETR', msg: 1 }],
    ['RETR', 'error: RETR'],
    ['RETR 0', 'error: RETR'],
    ['RETR 1.5', 'error: RETR'],
    ['DELE 7', { verb: 'DELE', msg: 7 }],
    ['DELE', 'error: DELE'],
    ['TOP 1 0', { verb: 'TOP', msg: 1, lines: 0 }],
    ['TOP 2 10', { verb: 'TOP', msg: 2, lines: 10 }],
    ['TOP 1', 'error: TOP'],
    ['TOP 0 1', 'error: TOP'],
    ['TOP 1 -1', 'error: TOP'],
    ['TOP 1 2 3', 'error: TOP'],
    ['APOP alice 0123456789abcdef', 'error: unknown'],
    ['XTND XMIT', 'error: unknown'],
    ['', 'error: unknown'],
    [' LIST', 'error: unknown'],
    ['LIST\t1', 'error: unknown'],
    ['PASS a\u0000b', 'error: unknown'],
    ['USER a\rb', 'error: unknown'],
  ];
  for (const [line, want] of cases) {
    it(`reads ${JSON.stringify(line)}`, () => assert.deepEqual(outcome(line), want));
  }

  it('refuses a line that is not UTF-8', () => {
    const r = parseCommandBytes(new Uint8Array([0x55, 0x53, 0x45, 0x52, 0x20, 0xff, 0xfe]));
    assert.equal(r.kind, 'error');
  });

  it('never throws, whatever the bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        const r = parseCommandBytes(bytes);
        assert.ok(r.kind === 'command' || r.kind === 'error');
      }),
      { numRuns: 2000 },
    );
  });

  it('reads every well-formed RETR, DELE and TOP back to its numbers', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 999_999_999 }), fc.integer({ min: 0, max: 999_999_999 }), (msg, lines) => {
        assert.deepEqual(outcome(`RETR ${msg}`), { verb: 'RETR', msg });
        assert.deepEqual(outcome(`dele ${msg}`), { verb: 'DELE', msg });
        assert.deepEqual(outcome(`TOP ${msg} ${lines}`), { verb: 'TOP', msg, lines });
      }),
    );
  });

  it('keeps any printable password whole, spaces included', () => {
    fc.assert(
      fc.property(fc.string({ minLength: 1, maxLength: 60 }).filter((s) => !/[\u0000-\u001f\u007f]/.test(s)), (password) => {
        assert.deepEqual(outcome(`PASS ${password}`), { verb: 'PASS', password });
      }),
    );
  });
});

describe('parseSaslResponse', () => {
  const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
  it('takes "*" as a cancel (RFC 5034 §4)', () => assert.deepEqual(parseSaslResponse(enc('*')), { kind: 'cancel' }));
  it('takes base64 text as the response', () =>
    assert.deepEqual(parseSaslResponse(enc('AGFsaWNlAHNlY3JldA==')), { kind: 'response', text: 'AGFsaWNlAHNlY3JldA==' }));
  it('takes an empty line as an empty response', () => assert.deepEqual(parseSaslResponse(enc('')), { kind: 'response', text: '' }));
  it('refuses anything that is not base64', () => assert.equal(parseSaslResponse(enc('not base64!')).kind, 'error'));
  it('never throws, whatever the bytes', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 200 }), (b) => void parseSaslResponse(b)));
  });
});

describe('redactCommandLine', () => {
  const cases: Array<[string, string]> = [
    ['PASS secret', 'PASS ***'],
    ['pass two words', 'pass ***'],
    ['AUTH PLAIN AGFsaWNlAHNlY3JldA==', 'AUTH PLAIN ***'],
    ['AUTH PLAIN', 'AUTH PLAIN'],
    ['USER alice@example.test', 'USER alice@example.test'],
    ['RETR 1', 'RETR 1'],
  ];
  for (const [line, want] of cases) it(`shows ${JSON.stringify(line)} as ${JSON.stringify(want)}`, () => assert.equal(redactCommandLine(line), want));
});
