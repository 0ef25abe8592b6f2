import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { checkZone } from './check.ts';
import { parseZone } from './parse.ts';
import type { Zone } from './types.ts';
import { formatProblem } from './types.ts';

const FILE = 'domain.test.zone';
const HEAD = `$TTL 300
@    IN SOA ns1 hostmaster 1 7200 3600 1209600 300
     IN NS  ns1
ns1  IN A   127.0.0.53
`;

function zoneOf(text: string, files: Record<string, string> = {}): Zone {
  const { zone, problems } = parseZone(text, {
    file: FILE,
    origin: 'domain.test',
    readFile: (p) => {
      const t = files[p];
      if (t === undefined) throw new Error(`no ${p}`);
      return t;
    },
  });
  assert.deepEqual(problems.map(formatProblem), []);
  assert.ok(zone !== null);
  return zone;
}

const check = (text: string, files?: Record<string, string>): string[] => checkZone(zoneOf(text, files)).map(formatProblem);

describe('checkZone accepts', () => {
  const cases: Array<[string, string]> = [
    ['a minimal zone: SOA, NS and the name server address', HEAD],
    ['a CNAME alone at its name', `${HEAD}www CNAME ns1\n`],
    ['an MX naming a host without an address, or a CNAME (advice for `postern check`, not an error)', `${HEAD}@ MX 10 ghost\n@ MX 20 alias\nalias CNAME ns1\n`],
    ['a null MX', `${HEAD}nullmx MX 0 .\n`],
    ['records deep below the apex', `${HEAD}a.b.c.d A 127.0.0.1\n`],
    ['NS records below the apex (a delegation)', `${HEAD}sub NS ns.elsewhere.test.\n`],
  ];
  for (const [title, text] of cases) it(title, () => assert.deepEqual(check(text), []));
});

describe('checkZone rejects a broken zone at the offending line', () => {
  const f = (line: number, message: string) => `${FILE}:${line}: ${message}`;
  const cases: Array<[string, string, string[]]> = [
    ['a zone without SOA', '$TTL 300\n@ NS ns1\nns1 A 127.0.0.53\n', [f(1, 'the zone domain.test has no SOA record (it needs exactly one, at domain.test)')]],
    ['a second SOA', `${HEAD}@ SOA ns2 hostmaster 2 7200 3600 1209600 300\n`, [f(5, 'a second SOA record (the first is on line 2); a zone has exactly one')]],
    [
      'a SOA below the apex',
      `${HEAD}sub SOA ns1 hostmaster 1 7200 3600 1209600 300\n`,
      [f(5, 'the SOA record is at sub.domain.test, not at the zone apex domain.test')],
    ],
    [
      'a zone whose only SOA is not at the apex, once',
      '$TTL 300\nsub SOA ns1 hostmaster 1 7200 3600 1209600 300\n@ NS ns1\n',
      [f(2, 'the SOA record is at sub.domain.test, not at the zone apex domain.test')],
    ],
    ['a zone without NS', '$TTL 300\n\n@ SOA ns1 hostmaster 1 7200 3600 1209600 300\n', [f(3, 'the zone domain.test has no NS record at its apex (it needs at least one)')]],
    ['a zone with NS only below the apex', '$TTL 300\n@ SOA ns1 hostmaster 1 7200 3600 1209600 300\nsub NS ns1\n', [f(2, 'the zone domain.test has no NS record at its apex (it needs at least one)')]],
    [
      'a CNAME beside an A record',
      `${HEAD}www CNAME ns1\nwww A 127.0.0.1\n`,
      [f(5, 'www.domain.test has a CNAME and other data (A on line 6); a CNAME must be the only record at its name (RFC 1034 §3.6.2)')],
    ],
    [
      'a CNAME after other data, naming each other type once',
      `${HEAD}www A 127.0.0.1\nwww A 127.0.0.2\nwww MX 10 ns1\nwww CNAME ns1\n`,
      [f(8, 'www.domain.test has a CNAME and other data (A on line 5, MX on line 7); a CNAME must be the only record at its name (RFC 1034 §3.6.2)')],
    ],
    [
      'a CNAME at the apex (beside SOA and NS)',
      `${HEAD}@ CNAME elsewhere.test.\n`,
      [f(5, 'domain.test has a CNAME and other data (SOA on line 2, NS on line 3); a CNAME must be the only record at its name (RFC 1034 §3.6.2)')],
    ],
    [
      'two CNAMEs at one name',
      `${HEAD}www CNAME ns1\nwww CNAME @\n`,
      [f(6, 'a second CNAME at www.domain.test (the first is on line 5); a name has at most one (RFC 2181 §10.1)')],
    ],
    ['a record outside the zone', `${HEAD}mail.other.test. A 127.0.0.1\n`, [f(5, 'mail.other.test is out of zone (not at or below domain.test)')]],
    ['a record at a parent of the apex', `${HEAD}test. A 127.0.0.1\n`, [f(5, 'test is out of zone (not at or below domain.test)')]],
    ['a name that only ends like the apex', `${HEAD}notdomain.test. A 127.0.0.1\n`, [f(5, 'notdomain.test is out of zone (not at or below domain.test)')]],
    ['records after an $ORIGIN outside the zone', `${HEAD}$ORIGIN other.test.\nwww A 127.0.0.1\n`, [f(6, 'www.other.test is out of zone (not at or below domain.test)')]],
  ];
  for (const [title, text, want] of cases) it(`rejects ${title}`, () => assert.deepEqual(check(text), want));

  it('points at an $INCLUDEd file for a record written there, after the problems of the top file', () => {
    const problems = check(`$TTL 300\n$INCLUDE part.inc\nfar.away. A 127.0.0.1\n`, { 'part.inc': '\nwww CNAME ns1\nwww A 127.0.0.1\n' });
    assert.deepEqual(problems, [
      f(1, 'the zone domain.test has no SOA record (it needs exactly one, at domain.test)'),
      f(1, 'the zone domain.test has no NS record at its apex (it needs at least one)'),
      f(3, 'far.away is out of zone (not at or below domain.test)'),
      'part.inc:2: www.domain.test has a CNAME and other data (A on line 3); a CNAME must be the only record at its name (RFC 1034 §3.6.2)',
    ]);
  });
});
