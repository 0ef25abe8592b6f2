import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { parseHeaderFields, unfoldHeader } from './headers.ts';
import { formatRfc5322Date, receivedHeader, receivedProtocol } from './received.ts';
import type { ReceivedOptions } from './received.ts';

const date = new Date(Date.UTC(2026, 11, 1, 9, 5, 3));
const base: ReceivedOptions = { helo: 'client.example.test', remoteAddress: '127.0.0.9', by: 'mx.example.test', with: 'ESMTP', id: '01jabcdefgh2k3m4', date };

describe('receivedHeader', () => {
  const cases: [what: string, options: Partial<ReceivedOptions>, want: string][] = [
    [
      'writes from, by, with, id and the date, address literal only without a verified name',
      {},
      'Received: from client.example.test ([127.0.0.9]) by mx.example.test with ESMTP id 01jabcdefgh2k3m4; Tue, 1 Dec 2026 09:05:03 +0000',
    ],
    [
      'names the verified host beside the address and the recipient in a for clause',
      { remoteHost: 'verified.example.test', for: 'u@example.test', with: 'ESMTPS' },
      'Received: from client.example.test (verified.example.test [127.0.0.9]) by mx.example.test with ESMTPS id 01jabcdefgh2k3m4 for <u@example.test>; Tue, 1 Dec 2026 09:05:03 +0000',
    ],
    [
      'writes an IPv6 address literal with its tag',
      { remoteAddress: '::1', with: 'LMTP' },
      'Received: from client.example.test ([IPv6:::1]) by mx.example.test with LMTP id 01jabcdefgh2k3m4; Tue, 1 Dec 2026 09:05:03 +0000',
    ],
    [
      'writes an IPv4-mapped IPv6 address as IPv4',
      { remoteAddress: '::ffff:127.0.0.2' },
      'Received: from client.example.test ([127.0.0.2]) by mx.example.test with ESMTP id 01jabcdefgh2k3m4; Tue, 1 Dec 2026 09:05:03 +0000',
    ],
    [
      'puts the TLS comment after the protocol',
      { with: 'ESMTPSA', tls: 'TLSv1.3 TLS_AES_256_GCM_SHA384' },
      'Received: from client.example.test ([127.0.0.9]) by mx.example.test with ESMTPSA (TLSv1.3 TLS_AES_256_GCM_SHA384) id 01jabcdefgh2k3m4; Tue, 1 Dec 2026 09:05:03 +0000',
    ],
    [
      'neutralises a HELO that tries to close the comment or add a field',
      { helo: 'evil) by trusted (x\r\nBcc: y' },
      'Received: from evil??by?trusted??x??Bcc:?y ([127.0.0.9]) by mx.example.test with ESMTP id 01jabcdefgh2k3m4; Tue, 1 Dec 2026 09:05:03 +0000',
    ],
    [
      'writes "unknown" for an empty HELO',
      { helo: '' },
      'Received: from unknown ([127.0.0.9]) by mx.example.test with ESMTP id 01jabcdefgh2k3m4; Tue, 1 Dec 2026 09:05:03 +0000',
    ],
  ];
  for (const [what, options, want] of cases) {
    it(what, () => {
      const field = receivedHeader({ ...base, ...options });
      assert.equal(unfoldHeader(field), want);
    });
  }

  it('folds to lines of at most 78 columns', () => {
    const field = receivedHeader({ ...base, remoteHost: 'verified.example.test', for: 'someone.with.a.long.name@example.test', with: 'ESMTPS' });
    const lines = field.split('\r\n');
    assert.ok(lines.length > 1);
    for (const l of lines) assert.ok(l.length <= 78, l);
  });

  it('is one field whatever the HELO', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 100 }), fc.string({ maxLength: 40 }), (helo, rcpt) => {
        const fields = parseHeaderFields(`${receivedHeader({ ...base, helo, for: rcpt })}\r\n`);
        assert.equal(fields.length, 1);
        assert.equal(fields[0]?.name, 'Received');
        assert.equal((fields[0]?.value.match(/\(/g) ?? []).length, (fields[0]?.value.match(/\)/g) ?? []).length);
      }),
      { numRuns: 300 },
    );
  });
});

describe('receivedProtocol', () => {
  const cases: [session: Parameters<typeof receivedProtocol>[0], want: string][] = [
    [{ ehlo: false, tls: false, authenticated: false }, 'SMTP'],
    [{ ehlo: true, tls: false, authenticated: false }, 'ESMTP'],
    [{ ehlo: true, tls: true, authenticated: false }, 'ESMTPS'],
    [{ ehlo: true, tls: false, authenticated: true }, 'ESMTPA'],
    [{ ehlo: true, tls: true, authenticated: true }, 'ESMTPSA'],
    [{ ehlo: true, tls: false, authenticated: false, lmtp: true }, 'LMTP'],
    [{ ehlo: true, tls: true, authenticated: true, lmtp: true }, 'LMTPSA'],
  ];
  for (const [session, want] of cases) it(`names ${JSON.stringify(session)} ${want} (RFC 3848)`, () => assert.equal(receivedProtocol(session), want));
});

describe('formatRfc5322Date', () => {
  const cases: [what: string, date: Date, offset: number | undefined, want: string][] = [
    ['writes UTC with +0000 by default', date, undefined, 'Tue, 1 Dec 2026 09:05:03 +0000'],
    ['renders the time in a zone east of UTC', date, 120, 'Tue, 1 Dec 2026 11:05:03 +0200'],
    ['renders the time in a zone west of UTC, crossing the day', date, -600, 'Mon, 30 Nov 2026 23:05:03 -1000'],
    ['writes half-hour zones', date, 330, 'Tue, 1 Dec 2026 14:35:03 +0530'],
    ['writes two-digit days without padding', new Date(Date.UTC(2027, 1, 28, 23, 59, 59)), 0, 'Sun, 28 Feb 2027 23:59:59 +0000'],
    ['writes the epoch for an invalid date rather than "Invalid Date"', new Date(Number.NaN), 0, 'Thu, 1 Jan 1970 00:00:00 +0000'],
  ];
  for (const [what, d, offset, want] of cases) {
    it(what, () => assert.equal(formatRfc5322Date(d, offset === undefined ? {} : { offsetMinutes: offset }), want));
  }

  it('round-trips through Date.parse', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 4_000_000_000_000 }), fc.integer({ min: -720, max: 840 }), (ms, offset) => {
        const t = Math.floor(ms / 1000) * 1000;
        assert.equal(Date.parse(formatRfc5322Date(new Date(t), { offsetMinutes: offset })), t);
      }),
    );
  });
});
