import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { mxTargets, mxVerdict, shuffleEqualPreferences } from './mx.ts';
import type { MxOptions, MxPlan, MxTarget } from './mx.ts';
import type { Resolver } from './resolver.ts';
import { tableResolver } from '../../test/helpers/table-resolver.ts';

/** Keeps hosts of equal preference in name order (Fisher-Yates never swaps with j = i). */
const keepOrder = (): number => 0.999999;
/** Always picks the first of the remaining run. */
const pickFirst = (): number => 0;

const nobody: MxOptions['self'] = { hostnames: [], addresses: [] };

function target(host: string, preference: number, addresses: string[], more: Partial<MxTarget> = {}): MxTarget {
  return { host, preference, addresses, viaCname: false, canonicalHost: host, problems: [], ...more };
}

interface Case {
  what: string;
  domain: string;
  records: string[];
  failing?: string[];
  self?: MxOptions['self'];
  random?: () => number;
  want: MxPlan;
}

const mx = (exchange: string, preference: number) => ({ exchange, preference, ttl: 300 });

const cases: Case[] = [
  {
    what: 'orders MX hosts by preference, lowest first',
    domain: 'domain.test',
    records: ['domain.test MX 20 mail2.domain.test', 'domain.test MX 10 mail1.domain.test', 'mail1.domain.test A 127.20.20.1', 'mail2.domain.test A 127.20.20.2'],
    want: {
      kind: 'targets',
      domain: 'domain.test',
      implicit: false,
      mx: [mx('mail1.domain.test', 10), mx('mail2.domain.test', 20)],
      targets: [target('mail1.domain.test', 10, ['127.20.20.1']), target('mail2.domain.test', 20, ['127.20.20.2'])],
      skipped: [],
      selfPreference: null,
    },
  },
  {
    what: 'orders hosts of equal preference by the random source',
    domain: 'domain.test',
    random: pickFirst,
    records: [
      'domain.test MX 10 smtp1.domain.test',
      'domain.test MX 10 smtp2.domain.test',
      'domain.test MX 20 smtp3.domain.test',
      'smtp1.domain.test A 127.30.0.1',
      'smtp2.domain.test A 127.30.0.2',
      'smtp3.domain.test A 127.30.0.3',
    ],
    want: {
      kind: 'targets',
      domain: 'domain.test',
      implicit: false,
      mx: [mx('smtp1.domain.test', 10), mx('smtp2.domain.test', 10), mx('smtp3.domain.test', 20)],
      targets: [target('smtp2.domain.test', 10, ['127.30.0.2']), target('smtp1.domain.test', 10, ['127.30.0.1']), target('smtp3.domain.test', 20, ['127.30.0.3'])],
      skipped: [],
      selfPreference: null,
    },
  },
  {
    what: 'lists a host\'s IPv6 addresses before its IPv4 ones, without duplicates',
    domain: 'domain.test',
    records: [
      'domain.test MX 10 mail.domain.test',
      'mail.domain.test A 127.0.0.1',
      'mail.domain.test A 127.0.0.2',
      'mail.domain.test A 127.0.0.1',
      'mail.domain.test AAAA ::1',
      'mail.domain.test AAAA 0:0:0:0:0:0:0:1',
    ],
    want: {
      kind: 'targets',
      domain: 'domain.test',
      implicit: false,
      mx: [mx('mail.domain.test', 10)],
      targets: [target('mail.domain.test', 10, ['::1', '127.0.0.1', '127.0.0.2'])],
      skipped: [],
      selfPreference: null,
    },
  },
  {
    what: 'uses the domain itself as an implicit MX when it has no MX but an address (RFC 5321 §5.1)',
    domain: 'Terry.Planespotting.Test.',
    records: ['terry.planespotting.test A 127.40.0.9'],
    want: {
      kind: 'targets',
      domain: 'terry.planespotting.test',
      implicit: true,
      mx: [],
      targets: [target('terry.planespotting.test', 0, ['127.40.0.9'])],
      skipped: [],
      selfPreference: null,
    },
  },
  {
    what: 'fails for good when the domain has neither MX nor address',
    domain: 'txtonly.test',
    records: ['txtonly.test TXT v=spf1'],
    want: { kind: 'no-mail-host', domain: 'txtonly.test', implicit: true, mx: [], skipped: [] },
  },
  {
    what: 'fails for good when the domain does not exist',
    domain: 'nosuch.planespotting.test',
    records: ['planespotting.test MX 10 mail.planespotting.test'],
    want: { kind: 'no-such-domain', domain: 'nosuch.planespotting.test' },
  },
  {
    what: 'fails for good on a null MX (RFC 7505)',
    domain: 'nullmx.edge.test',
    records: ['nullmx.edge.test MX 0 .'],
    want: { kind: 'null-mx', domain: 'nullmx.edge.test', mx: [mx('.', 0)] },
  },
  {
    what: 'ignores a "." listed beside real MX hosts',
    domain: 'odd.test',
    records: ['odd.test MX 0 .', 'odd.test MX 10 mail.odd.test', 'mail.odd.test A 127.0.0.4'],
    want: {
      kind: 'targets',
      domain: 'odd.test',
      implicit: false,
      mx: [mx('.', 0), mx('mail.odd.test', 10)],
      targets: [target('mail.odd.test', 10, ['127.0.0.4'])],
      skipped: [{ host: '.', preference: 0, reason: 'null-mx-among-others' }],
      selfPreference: null,
    },
  },
  {
    what: 'skips an MX host without an address and says so',
    domain: 'skip.edge.test',
    records: ['skip.edge.test MX 10 ghost.edge.test', 'skip.edge.test MX 20 real.edge.test', 'real.edge.test A 127.70.0.2'],
    want: {
      kind: 'targets',
      domain: 'skip.edge.test',
      implicit: false,
      mx: [mx('ghost.edge.test', 10), mx('real.edge.test', 20)],
      targets: [target('real.edge.test', 20, ['127.70.0.2'])],
      skipped: [{ host: 'ghost.edge.test', preference: 10, reason: 'no-address' }],
      selfPreference: null,
    },
  },
  {
    what: 'fails for good when no MX host has an address',
    domain: 'empty.test',
    // a.empty.test exists without an address (nodata), b.empty.test does not exist (nxdomain).
    records: ['empty.test MX 10 a.empty.test', 'empty.test MX 20 b.empty.test', 'a.empty.test TXT here'],
    want: {
      kind: 'no-mail-host',
      domain: 'empty.test',
      implicit: false,
      mx: [mx('a.empty.test', 10), mx('b.empty.test', 20)],
      skipped: [
        { host: 'a.empty.test', preference: 10, reason: 'no-address' },
        { host: 'b.empty.test', preference: 20, reason: 'no-address' },
      ],
    },
  },
  {
    what: 'follows an MX host named by a CNAME and flags it',
    domain: 'alias.edge.test',
    records: ['alias.edge.test MX 10 mx-alias.edge.test', 'mx-alias.edge.test CNAME real.edge.test', 'real.edge.test A 127.70.0.2'],
    want: {
      kind: 'targets',
      domain: 'alias.edge.test',
      implicit: false,
      mx: [mx('mx-alias.edge.test', 10)],
      targets: [target('mx-alias.edge.test', 10, ['127.70.0.2'], { viaCname: true, canonicalHost: 'real.edge.test' })],
      skipped: [],
      selfPreference: null,
    },
  },
  {
    what: 'skips an MX exchange written as an IP address',
    domain: 'literal.test',
    records: ['literal.test MX 10 127.0.0.8', 'literal.test MX 20 mail.literal.test', 'mail.literal.test A 127.0.0.9'],
    want: {
      kind: 'targets',
      domain: 'literal.test',
      implicit: false,
      mx: [mx('127.0.0.8', 10), mx('mail.literal.test', 20)],
      targets: [target('mail.literal.test', 20, ['127.0.0.9'])],
      skipped: [{ host: '127.0.0.8', preference: 10, reason: 'ip-literal' }],
      selfPreference: null,
    },
  },
  {
    what: 'fails for good when the only MX exchange is an IP address',
    domain: 'literal.test',
    records: ['literal.test MX 10 [::1]'],
    want: { kind: 'no-mail-host', domain: 'literal.test', implicit: false, mx: [mx('[::1]', 10)], skipped: [{ host: '[::1]', preference: 10, reason: 'ip-literal' }] },
  },
  {
    what: 'keeps only the most preferred record of a host listed twice',
    domain: 'twice.test',
    records: ['twice.test MX 10 mail.twice.test', 'twice.test MX 30 mail.twice.test', 'twice.test MX 20 b.twice.test', 'mail.twice.test A 127.0.0.1', 'b.twice.test A 127.0.0.2'],
    want: {
      kind: 'targets',
      domain: 'twice.test',
      implicit: false,
      mx: [mx('mail.twice.test', 10), mx('b.twice.test', 20), mx('mail.twice.test', 30)],
      targets: [target('mail.twice.test', 10, ['127.0.0.1']), target('b.twice.test', 20, ['127.0.0.2'])],
      skipped: [],
      selfPreference: null,
    },
  },
];

const temporaryCases: Case[] = [
  {
    what: 'is temporary when the MX lookup itself fails for now',
    domain: 'lame.test',
    records: [],
    failing: ['lame.test MX'],
    want: { kind: 'temporary', domain: 'lame.test', reason: 'MX lookup for lame.test: SERVFAIL for lame.test MX', mx: [], skipped: [] },
  },
  {
    what: 'skips a host whose address lookups fail for now and uses the next',
    domain: 'lame.edge.test',
    records: ['lame.edge.test MX 10 mx.lame.test', 'lame.edge.test MX 20 real.edge.test', 'real.edge.test A 127.70.0.2'],
    failing: ['mx.lame.test AAAA', 'mx.lame.test A'],
    want: {
      kind: 'targets',
      domain: 'lame.edge.test',
      implicit: false,
      mx: [mx('mx.lame.test', 10), mx('real.edge.test', 20)],
      targets: [target('real.edge.test', 20, ['127.70.0.2'])],
      skipped: [{ host: 'mx.lame.test', preference: 10, reason: 'temporary', detail: 'AAAA: SERVFAIL for mx.lame.test AAAA; A: SERVFAIL for mx.lame.test A' }],
      selfPreference: null,
    },
  },
  {
    what: 'is temporary when no host is left and one was skipped for a temporary failure',
    domain: 'lame.edge.test',
    records: ['lame.edge.test MX 10 mx.lame.test', 'lame.edge.test MX 20 ghost.edge.test'],
    failing: ['mx.lame.test A'],
    want: {
      kind: 'temporary',
      domain: 'lame.edge.test',
      reason: 'no MX host of lame.edge.test has an address for now: mx.lame.test: A: SERVFAIL for mx.lame.test A',
      mx: [mx('mx.lame.test', 10), mx('ghost.edge.test', 20)],
      skipped: [
        { host: 'mx.lame.test', preference: 10, reason: 'temporary', detail: 'A: SERVFAIL for mx.lame.test A' },
        { host: 'ghost.edge.test', preference: 20, reason: 'no-address' },
      ],
    },
  },
  {
    what: 'uses the IPv4 addresses when only the IPv6 lookup fails, and notes the failure',
    domain: 'half.test',
    records: ['half.test MX 10 mail.half.test', 'mail.half.test A 127.0.0.3'],
    failing: ['mail.half.test AAAA'],
    want: {
      kind: 'targets',
      domain: 'half.test',
      implicit: false,
      mx: [mx('mail.half.test', 10)],
      targets: [target('mail.half.test', 10, ['127.0.0.3'], { problems: ['AAAA: SERVFAIL for mail.half.test AAAA'] })],
      skipped: [],
      selfPreference: null,
    },
  },
  {
    what: 'uses the implicit MX\'s IPv6 address when only its IPv4 lookup fails for now',
    domain: 'implicit.test',
    records: ['implicit.test AAAA ::1'],
    failing: ['implicit.test A'],
    want: {
      kind: 'targets',
      domain: 'implicit.test',
      implicit: true,
      mx: [],
      targets: [target('implicit.test', 0, ['::1'], { problems: ['A: SERVFAIL for implicit.test A'] })],
      skipped: [],
      selfPreference: null,
    },
  },
  {
    what: 'is temporary when there is no MX and both address lookups fail for now',
    domain: 'implicit.test',
    records: ['implicit.test TXT hello'],
    failing: ['implicit.test AAAA', 'implicit.test A'],
    want: {
      kind: 'temporary',
      domain: 'implicit.test',
      reason: 'no MX records, and the address lookup for implicit.test failed: AAAA: SERVFAIL for implicit.test AAAA; A: SERVFAIL for implicit.test A',
      mx: [],
      skipped: [],
    },
  },
];

const selfCases: Case[] = [
  {
    what: 'drops our own host and every less preferred one when we are in the list by name',
    domain: 'domain.test',
    self: { hostnames: ['SMTP3.otherdomain.test.'], addresses: [] },
    records: [
      'domain.test MX 10 smtp1.domain.test',
      'domain.test MX 20 smtp3.otherdomain.test',
      'domain.test MX 30 smtp4.domain.test',
      'smtp1.domain.test A 127.30.0.1',
      'smtp3.otherdomain.test A 127.30.0.3',
      'smtp4.domain.test A 127.30.0.4',
    ],
    want: {
      kind: 'targets',
      domain: 'domain.test',
      implicit: false,
      mx: [mx('smtp1.domain.test', 10), mx('smtp3.otherdomain.test', 20), mx('smtp4.domain.test', 30)],
      targets: [target('smtp1.domain.test', 10, ['127.30.0.1'])],
      skipped: [
        { host: 'smtp3.otherdomain.test', preference: 20, reason: 'self' },
        { host: 'smtp4.domain.test', preference: 30, reason: 'not-more-preferred', selfPreference: 20 },
      ],
      selfPreference: 20,
    },
  },
  {
    what: 'drops hosts at our own preference too, recognising us by address',
    domain: 'domain.test',
    random: keepOrder,
    self: { hostnames: ['not-in-the-list.test'], addresses: ['127.30.0.3'] },
    records: [
      'domain.test MX 10 smtp1.domain.test',
      'domain.test MX 20 backup.domain.test',
      'domain.test MX 20 smtp4.domain.test',
      'smtp1.domain.test A 127.30.0.1',
      'backup.domain.test A 127.30.0.3',
      'smtp4.domain.test A 127.30.0.4',
    ],
    want: {
      kind: 'targets',
      domain: 'domain.test',
      implicit: false,
      mx: [mx('smtp1.domain.test', 10), mx('backup.domain.test', 20), mx('smtp4.domain.test', 20)],
      targets: [target('smtp1.domain.test', 10, ['127.30.0.1'])],
      skipped: [
        { host: 'backup.domain.test', preference: 20, reason: 'self' },
        { host: 'smtp4.domain.test', preference: 20, reason: 'not-more-preferred', selfPreference: 20 },
      ],
      selfPreference: 20,
    },
  },
  {
    what: 'recognises our IPv6 address however it is spelled',
    domain: 'six.test',
    self: { hostnames: [], addresses: ['0:0:0:0:0:0:0:1'] },
    records: ['six.test MX 10 a.six.test', 'six.test MX 20 b.six.test', 'a.six.test A 127.0.0.10', 'b.six.test AAAA ::1'],
    want: {
      kind: 'targets',
      domain: 'six.test',
      implicit: false,
      mx: [mx('a.six.test', 10), mx('b.six.test', 20)],
      targets: [target('a.six.test', 10, ['127.0.0.10'])],
      skipped: [{ host: 'b.six.test', preference: 20, reason: 'self' }],
      selfPreference: 20,
    },
  },
  {
    what: 'recognises us behind a CNAME',
    domain: 'cn.test',
    self: { hostnames: ['mx.us.test'], addresses: [] },
    records: ['cn.test MX 10 a.cn.test', 'cn.test MX 20 alias.cn.test', 'alias.cn.test CNAME mx.us.test', 'mx.us.test A 127.0.0.11', 'a.cn.test A 127.0.0.10'],
    want: {
      kind: 'targets',
      domain: 'cn.test',
      implicit: false,
      mx: [mx('a.cn.test', 10), mx('alias.cn.test', 20)],
      targets: [target('a.cn.test', 10, ['127.0.0.10'])],
      skipped: [{ host: 'alias.cn.test', preference: 20, reason: 'self' }],
      selfPreference: 20,
    },
  },
  {
    what: 'reports a configuration error when we are the most preferred host',
    domain: 'domain.test',
    self: { hostnames: ['mail1.domain.test'], addresses: [] },
    records: ['domain.test MX 10 mail1.domain.test', 'domain.test MX 20 mail2.domain.test', 'mail1.domain.test A 127.20.20.1', 'mail2.domain.test A 127.20.20.2'],
    want: {
      kind: 'self-most-preferred',
      domain: 'domain.test',
      implicit: false,
      mx: [mx('mail1.domain.test', 10), mx('mail2.domain.test', 20)],
      skipped: [
        { host: 'mail1.domain.test', preference: 10, reason: 'self' },
        { host: 'mail2.domain.test', preference: 20, reason: 'not-more-preferred', selfPreference: 10 },
      ],
      selfPreference: 10,
    },
  },
  {
    what: 'reports a configuration error when we share the best preference with another host',
    domain: 'domain.test',
    random: keepOrder,
    self: { hostnames: ['smtp2.domain.test'], addresses: [] },
    records: ['domain.test MX 10 smtp1.domain.test', 'domain.test MX 10 smtp2.domain.test', 'smtp1.domain.test A 127.30.0.1', 'smtp2.domain.test A 127.30.0.2'],
    want: {
      kind: 'self-most-preferred',
      domain: 'domain.test',
      implicit: false,
      mx: [mx('smtp1.domain.test', 10), mx('smtp2.domain.test', 10)],
      skipped: [
        { host: 'smtp1.domain.test', preference: 10, reason: 'not-more-preferred', selfPreference: 10 },
        { host: 'smtp2.domain.test', preference: 10, reason: 'self' },
      ],
      selfPreference: 10,
    },
  },
  {
    what: 'reports a configuration error when the implicit MX is our own address',
    domain: 'me.test',
    self: { hostnames: [], addresses: ['127.0.0.12'] },
    records: ['me.test A 127.0.0.12'],
    want: { kind: 'self-most-preferred', domain: 'me.test', implicit: true, mx: [], skipped: [{ host: 'me.test', preference: 0, reason: 'self' }], selfPreference: 0 },
  },
  {
    what: 'recognises us by name even when our own address lookup fails for now',
    domain: 'domain.test',
    self: { hostnames: ['backup.domain.test'], addresses: [] },
    failing: ['backup.domain.test A', 'backup.domain.test AAAA'],
    records: ['domain.test MX 10 primary.domain.test', 'domain.test MX 20 backup.domain.test', 'primary.domain.test A 127.0.0.1'],
    want: {
      kind: 'targets',
      domain: 'domain.test',
      implicit: false,
      mx: [mx('primary.domain.test', 10), mx('backup.domain.test', 20)],
      targets: [target('primary.domain.test', 10, ['127.0.0.1'])],
      skipped: [{ host: 'backup.domain.test', preference: 20, reason: 'self' }],
      selfPreference: 20,
    },
  },
  {
    what: 'fails for good when we are a backup and the more preferred hosts have no address',
    domain: 'domain.test',
    self: { hostnames: ['backup.domain.test'], addresses: [] },
    records: ['domain.test MX 10 primary.domain.test', 'domain.test MX 20 backup.domain.test', 'backup.domain.test A 127.0.0.2'],
    want: {
      kind: 'no-mail-host',
      domain: 'domain.test',
      implicit: false,
      mx: [mx('primary.domain.test', 10), mx('backup.domain.test', 20)],
      skipped: [
        { host: 'primary.domain.test', preference: 10, reason: 'no-address' },
        { host: 'backup.domain.test', preference: 20, reason: 'self' },
      ],
    },
  },
];

describe('mxTargets', () => {
  for (const c of [...cases, ...temporaryCases, ...selfCases]) {
    it(c.what, async () => {
      const resolver = tableResolver(c.records, c.failing);
      const plan = await mxTargets(c.domain, { resolver, self: c.self ?? nobody, random: c.random ?? keepOrder });
      assert.deepEqual(plan, c.want);
    });
  }

  it('looks up the hosts\' addresses concurrently', async () => {
    const inner = tableResolver(['d.test MX 10 a.d.test', 'd.test MX 20 b.d.test', 'd.test MX 30 c.d.test', 'a.d.test A 127.0.0.1', 'b.d.test A 127.0.0.2', 'c.d.test A 127.0.0.3']);
    let active = 0;
    let most = 0;
    const resolver: Resolver = {
      async lookup(name, type) {
        active++;
        most = Math.max(most, active);
        await new Promise((resolve) => setTimeout(resolve, 20));
        active--;
        return inner.lookup(name, type);
      },
    };
    const plan = await mxTargets('d.test', { resolver, self: nobody });
    assert.equal(plan.kind, 'targets');
    assert.equal(most, 6, 'AAAA and A of three hosts at once');
  });

  it('asks nothing beyond the MX lookup for a null MX or a domain that does not exist', async () => {
    for (const domain of ['nullmx.edge.test', 'nosuch.edge.test']) {
      const resolver = tableResolver(['nullmx.edge.test MX 0 .']);
      await mxTargets(domain, { resolver, self: nobody });
      assert.deepEqual(resolver.asked, [`${domain} MX`]);
    }
  });
});

describe('mxVerdict', () => {
  const plans: Array<[MxPlan, string]> = [
    [{ kind: 'targets', domain: 'd.test', implicit: false, mx: [], targets: [], skipped: [], selfPreference: null }, 'deliver'],
    [{ kind: 'null-mx', domain: 'd.test', mx: [] }, 'permanent'],
    [{ kind: 'no-such-domain', domain: 'd.test' }, 'permanent'],
    [{ kind: 'no-mail-host', domain: 'd.test', implicit: true, mx: [], skipped: [] }, 'permanent'],
    [{ kind: 'temporary', domain: 'd.test', reason: 'x', mx: [], skipped: [] }, 'temporary'],
    [{ kind: 'self-most-preferred', domain: 'd.test', implicit: false, mx: [], skipped: [], selfPreference: 10 }, 'configuration-error'],
  ];
  for (const [plan, want] of plans) {
    it(`calls a ${plan.kind} plan ${want}`, () => assert.equal(mxVerdict(plan), want));
  }
});

describe('load sharing between hosts of equal preference', () => {
  const rounds = 1000;

  async function firstCounts(records: string[]): Promise<Map<string, number>> {
    const resolver = tableResolver(records);
    const counts = new Map<string, number>();
    for (let i = 0; i < rounds; i++) {
      const plan = await mxTargets('domain.test', { resolver, self: nobody });
      const first = plan.kind === 'targets' ? plan.targets[0]?.host : undefined;
      assert.ok(first !== undefined);
      counts.set(first, (counts.get(first) ?? 0) + 1);
    }
    return counts;
  }

  it('puts each of two equal hosts first 40-60% of the time over 1,000 plans with Math.random', async () => {
    const counts = await firstCounts([
      'domain.test MX 10 smtp1.domain.test',
      'domain.test MX 10 smtp2.domain.test',
      'domain.test MX 20 smtp3.otherdomain.test',
      'smtp1.domain.test A 127.30.0.1',
      'smtp2.domain.test A 127.30.0.2',
      'smtp3.otherdomain.test A 127.30.0.3',
    ]);
    assert.deepEqual([...counts.keys()].sort(), ['smtp1.domain.test', 'smtp2.domain.test']);
    for (const [host, n] of counts) assert.ok(n >= 400 && n <= 600, `${host} first ${n} times of ${rounds}`);
  });

  it('puts each of three equal hosts first about a third of the time', async () => {
    const counts = await firstCounts(['domain.test MX 5 a.domain.test', 'domain.test MX 5 b.domain.test', 'domain.test MX 5 c.domain.test', 'a.domain.test A 127.0.0.1', 'b.domain.test A 127.0.0.2', 'c.domain.test A 127.0.0.3']);
    assert.equal(counts.size, 3);
    for (const [host, n] of counts) assert.ok(n >= 270 && n <= 400, `${host} first ${n} times of ${rounds}`);
  });
});

describe('shuffleEqualPreferences', () => {
  it('returns a permutation still sorted by preference, whatever the random source gives', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 3 }), { maxLength: 12 }),
        fc.array(fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), { minLength: 1, maxLength: 20 }),
        (preferences, draws) => {
          const input = preferences.map((preference, id) => ({ preference, id })).sort((a, b) => a.preference - b.preference || a.id - b.id);
          let k = 0;
          const out = shuffleEqualPreferences(input, () => draws[k++ % draws.length] ?? 0);
          const ids = (list: readonly { id: number }[]) => list.map((h) => h.id).sort((a, b) => a - b);
          assert.deepEqual(ids(out), ids(input));
          assert.deepEqual(out.map((h) => h.preference), input.map((h) => h.preference));
        },
      ),
    );
  });

  it('never leaves an index out of range when the random source returns 1', () => {
    const out = shuffleEqualPreferences([{ preference: 1, id: 'a' }, { preference: 1, id: 'b' }], () => 1);
    assert.deepEqual(out.map((h) => h.id).sort(), ['a', 'b']);
  });
});
