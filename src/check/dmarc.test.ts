import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { assessDmarc, isDmarcRecord } from './dmarc.ts';

function severity(texts: string[]): string {
  const a = assessDmarc(texts);
  if (a.kind !== 'record') return a.kind;
  return a.findings.some((f) => f.severity === 'fail') ? 'fail' : a.findings.some((f) => f.severity === 'warn') ? 'warn' : 'ok';
}

describe('DMARC records (RFC 7489)', () => {
  const cases: Array<[string[], string]> = [
    [[], 'none'],
    [['p=reject; v=DMARC1'], 'none'],
    [['v=DMARC1; p=reject; rua=mailto:d@example.com'], 'ok'],
    [['v=DMARC1;p=quarantine;pct=50;rua=mailto:d@example.com,mailto:e@example.net'], 'ok'],
    [['v = DMARC1 ; p = none ; rua = mailto:d@example.com'], 'ok'],
    [['v=DMARC1; p=none'], 'ok'],
    [['v=DMARC1; p=reject', 'v=DMARC1; p=none'], 'multiple'],
    [['v=DMARC1'], 'fail'],
    [['v=DMARC1; p=block'], 'fail'],
    [['v=DMARC1; p=reject; sp=maybe'], 'warn'],
    [['v=DMARC1; p=reject; pct=150'], 'warn'],
    [['v=DMARC1; p=reject; adkim=x'], 'warn'],
    [['v=DMARC1; p=reject; rua=d@example.com'], 'warn'],
    [['v=DMARC1; p=reject; p=none'], 'warn'],
    [['v=DMARC1; p=reject; junk'], 'warn'],
    [['v=DMARC1; p=reject; constructor=1; __proto__=2; rua=mailto:d@example.com'], 'ok'],
  ];
  for (const [texts, want] of cases) it(`${JSON.stringify(texts)} is ${want}`, () => assert.equal(severity(texts), want));

  it('reads the policy and the tags', () => {
    const a = assessDmarc(['v=DMARC1; p=Quarantine; rua=mailto:d@example.com']);
    assert.equal(a.kind, 'record');
    if (a.kind !== 'record') return;
    assert.equal(a.policy, 'quarantine');
    assert.equal(a.tags['rua'], 'mailto:d@example.com');
  });

  it('notes p=none and a missing rua= without failing', () => {
    const a = assessDmarc(['v=DMARC1; p=none']);
    assert.equal(a.kind, 'record');
    if (a.kind !== 'record') return;
    assert.deepEqual(a.findings.map((f) => f.severity), ['note', 'note']);
  });

  it('recognizes only records that begin with v=DMARC1', () => {
    assert.equal(isDmarcRecord('v=DMARC1; p=none'), true);
    assert.equal(isDmarcRecord('v=DMARC1'), true);
    assert.equal(isDmarcRecord('v=dmarc1; p=none'), false);
    assert.equal(isDmarcRecord('v=DMARC10; p=none'), false);
  });

  it('never throws on any TXT text', () => {
    fc.assert(
      fc.property(fc.array(fc.oneof(fc.string(), fc.string().map((s) => `v=DMARC1;${s}`), fc.array(fc.constantFrom('p=', 'none', ';', '=', ' ', 'pct=', 'rua=', 'mailto:', ',', 'sp=x')).map((p) => `v=DMARC1; ${p.join('')}`)), { maxLength: 3 }), (texts) => {
        const a = assessDmarc(texts);
        assert.ok(['none', 'multiple', 'record'].includes(a.kind));
      }),
      { numRuns: 500 },
    );
  });
});
