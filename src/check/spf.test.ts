import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { assessSpf, isSpfRecord } from './spf.ts';

/** The worst severity of a single record's findings, 'ok' when none. */
function severity(texts: string[]): string {
  const a = assessSpf(texts);
  if (a.kind !== 'record') return a.kind;
  return a.findings.some((f) => f.severity === 'fail') ? 'fail' : a.findings.some((f) => f.severity === 'warn') ? 'warn' : 'ok';
}

describe('SPF records (RFC 7208)', () => {
  const cases: Array<[string[], string]> = [
    [[], 'none'],
    [['google-site-verification=abc'], 'none'],
    [['v=spf10 -all'], 'none'],
    [['v=spf1 mx -all'], 'ok'],
    [['V=SPF1 MX -ALL'], 'ok'],
    [['v=spf1 mx ~all'], 'ok'],
    [['v=spf1 ip4:192.0.2.0/24 ip6:2001:db8::/32 a:mail.example.com/28//64 include:_spf.example.net -all'], 'ok'],
    [['v=spf1 redirect=_spf.example.com'], 'ok'],
    [['v=spf1 exists:%{i}._spf.example.com -all'], 'ok'],
    [['v=spf1 a/24 mx//64 -all'], 'ok'],
    [['v=spf1 mx  -all'], 'ok'],
    [['v=spf1 mx -all', 'v=spf1 a -all'], 'multiple'],
    [['v=spf1 +all'], 'fail'],
    [['v=spf1 mx ?all'], 'warn'],
    [['v=spf1 mx'], 'warn'],
    [['v=spf1 ptr -all'], 'warn'],
    [['v=spf1 -all mx'], 'warn'],
    [['v=spf1 ip4:192.0.2.300 -all'], 'fail'],
    [['v=spf1 ip4:2001:db8::1 -all'], 'fail'],
    [['v=spf1 ip4:192.0.2.0/33 -all'], 'fail'],
    [['v=spf1 include -all'], 'fail'],
    [['v=spf1 include:nodot -all'], 'fail'],
    [['v=spf1 mx:example.com/40 -all'], 'fail'],
    [['v=spf1 all:x'], 'fail'],
    [['v=spf1 mxx -all'], 'fail'],
    [['v=spf1 ptr:example.com/24 -all'], 'fail'],
    [['v=spf1 redirect=a.example redirect=b.example'], 'fail'],
    [['v=spf1 a mx include:a.example include:b.example include:c.example include:d.example include:e.example include:f.example include:g.example include:h.example include:i.example -all'], 'fail'],
    [['v=spf1 foo=bar mx -all'], 'ok'],
  ];
  for (const [texts, want] of cases) it(`${JSON.stringify(texts)} is ${want}`, () => assert.equal(severity(texts), want));

  it('counts the terms that cost a DNS lookup and reads the all qualifier', () => {
    const a = assessSpf(['v=spf1 a mx include:x.example ip4:192.0.2.1 ~all']);
    assert.equal(a.kind, 'record');
    if (a.kind !== 'record') return;
    assert.equal(a.lookups, 3);
    assert.equal(a.all, '~');
    assert.deepEqual(a.terms.map((t) => t.name), ['a', 'mx', 'include', 'ip4', 'all']);
  });

  it('recognizes records by "v=spf1" followed by a space or the end only', () => {
    assert.equal(isSpfRecord('v=spf1'), true);
    assert.equal(isSpfRecord('v=spf1 -all'), true);
    assert.equal(isSpfRecord('v=spf1-all'), false);
    assert.equal(isSpfRecord(' v=spf1 -all'), false);
  });

  it('never throws on any TXT text', () => {
    fc.assert(
      fc.property(fc.array(fc.oneof(fc.string(), fc.string().map((s) => `v=spf1 ${s}`), fc.array(fc.constantFrom('a', 'mx', '-all', 'ip4:', '/', ':', '%{i}', 'include:', '=', ' ', 'ip6:::1/129')).map((p) => `v=spf1 ${p.join('')}`)), { maxLength: 3 }), (texts) => {
        const a = assessSpf(texts);
        assert.ok(['none', 'multiple', 'record'].includes(a.kind));
      }),
      { numRuns: 500 },
    );
  });
});
