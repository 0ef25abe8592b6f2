/**
 * `postern route` for every address the scenarios name (scenarios/README.md), each scenario served
 * by a real Postern DNS server on loopback and resolved by the real stub resolver.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { runCommand, scenarioDns, writeConfig } from './helpers/postern.ts';
import type { RunningPostern } from '../src/main.ts';

process.env['POSTERN_LOOPBACK_ONLY'] = '1';

interface RouteJson {
  address: string;
  domain: string;
  route: 'local' | 'backup-hold' | 'remote';
  outcome: string;
  port: number;
  plan: {
    kind: string;
    implicit?: boolean;
    mx?: Array<{ exchange: string; preference: number }>;
    targets?: Array<{ host: string; preference: number; addresses: string[]; viaCname: boolean }>;
    skipped?: Array<{ host: string; reason: string }>;
    selfPreference?: number | null;
  };
}

async function route(config: string, address: string): Promise<{ status: number; json: RouteJson; text: string }> {
  const j = await runCommand(['route', address, '--config', config, '--json']);
  assert.equal(j.stderr, '', j.stderr);
  const t = await runCommand(['route', address, '--config', config]);
  assert.equal(t.status, j.status, 'the text and JSON forms agree on the exit status');
  return { status: j.status, json: JSON.parse(j.stdout) as RouteJson, text: t.stdout };
}

function targets(r: RouteJson): Array<[string, number, string[]]> {
  return (r.plan.targets ?? []).map((t) => [t.host, t.preference, t.addresses]);
}

/** Starts the scenario's DNS once for the describe block; `node` writes this node's config. */
function withScenario(scenario: string) {
  const ctx: { postern?: RunningPostern; resolver: string; config: (node?: string, smtp?: string) => string } = {
    resolver: '',
    config(node = '', smtp = '') {
      const identity = node.includes('hostname =') ? node : `hostname = "sender.test"\n${node}`;
      return writeConfig(`${identity}\n[dns]\nresolvers = ["${ctx.resolver}"]\ntimeout_ms = 300\nattempts = 1\n[smtp]\noutbound_port = 2525\n${smtp}`);
    },
  };
  before(async () => {
    const dns = await scenarioDns(scenario);
    ctx.postern = dns.postern;
    ctx.resolver = dns.resolver;
  });
  after(async () => {
    await ctx.postern?.stop();
  });
  return ctx;
}

describe('postern route: 1-priority', () => {
  const s = withScenario('1-priority');
  it('sends mail to mail1 first and mail2 second, on the configured port', async () => {
    const r = await route(s.config(), 'anyone@domain.test');
    assert.equal(r.status, 0);
    assert.equal(r.json.outcome, 'deliver');
    assert.equal(r.json.port, 2525);
    assert.deepEqual(targets(r.json), [
      ['mail1.domain.test', 10, ['127.0.1.1']],
      ['mail2.domain.test', 20, ['127.0.1.2']],
    ]);
    assert.match(r.text, /1\. mail1\.domain\.test {2}preference 10 {2}127\.0\.1\.1\n\s+2\. mail2\.domain\.test {2}preference 20 {2}127\.0\.1\.2/);
  });

  it('as mail2 (the backup), holds the mail and forwards only to mail1', async () => {
    const config = s.config('hostname = "mail2.domain.test"\n[[domain]]\nname = "domain.test"\nrole = "backup"');
    const r = await route(config, 'anyone@domain.test');
    assert.equal(r.status, 0);
    assert.equal(r.json.route, 'backup-hold');
    assert.equal(r.json.outcome, 'hold');
    assert.equal(r.json.plan.selfPreference, 20);
    assert.deepEqual(targets(r.json), [['mail1.domain.test', 10, ['127.0.1.1']]]);
    assert.match(r.text, /hold here, forward when a more preferred host answers/);
  });

  it('as mail1 (the primary), delivers locally and says DNS agrees', async () => {
    const config = s.config('hostname = "mail1.domain.test"\n[[domain]]\nname = "domain.test"\nrole = "primary"');
    const r = await route(config, 'anyone@domain.test');
    assert.equal(r.status, 0);
    assert.equal(r.json.outcome, 'local');
    assert.match(r.text, /local delivery into mailboxes here \(DNS agrees: this node is the most preferred MX host\)/);
  });

  it('refuses to plan a backup domain when no host is more preferred than this node', async () => {
    // mail1 recognised by its listen address rather than its name.
    const config = s.config('[[domain]]\nname = "domain.test"\nrole = "backup"', 'listen = ["127.0.1.1:2525"]\n');
    const r = await route(config, 'anyone@domain.test');
    assert.equal(r.status, 1);
    assert.equal(r.json.outcome, 'configuration-error');
    assert.match(r.text, /configuration error: no MX host of domain\.test is more preferred than this node/);
  });
});

describe('postern route: 2-datacenters', () => {
  const s = withScenario('2-datacenters');
  it('tries Washington (smtp1, smtp2 at 10) before Dallas (smtp3, smtp4 at 20)', async () => {
    const r = await route(s.config(), 'user@domain.test');
    assert.equal(r.json.outcome, 'deliver');
    const t = targets(r.json);
    assert.deepEqual(t.slice(0, 2).map((x) => x[0]).sort(), ['smtp1.domain.test', 'smtp2.domain.test']);
    assert.deepEqual(t.slice(2).map((x) => x[0]).sort(), ['smtp3.domain.test', 'smtp4.otherdomain.test']);
    assert.deepEqual(t.find((x) => x[0] === 'smtp4.otherdomain.test'), ['smtp4.otherdomain.test', 20, ['127.30.30.2']]);
  });

  it('shares the load between smtp1 and smtp2: each comes first 40-60% of the time', async () => {
    const config = s.config();
    let smtp1First = 0;
    const runs = 200;
    for (let i = 0; i < runs; i++) {
      const r = await route(config, 'user@domain.test');
      if (r.json.plan.targets?.[0]?.host === 'smtp1.domain.test') smtp1First++;
    }
    assert.ok(smtp1First >= runs * 0.4 && smtp1First <= runs * 0.6, `smtp1 came first ${smtp1First} times out of ${runs}`);
  });

  it('as smtp4 in Dallas (another domain\'s name), holds and forwards only to Washington', async () => {
    const config = s.config('hostname = "smtp4.otherdomain.test"\n[[domain]]\nname = "domain.test"\nrole = "backup"');
    const r = await route(config, 'user@domain.test');
    assert.equal(r.json.outcome, 'hold');
    assert.deepEqual(targets(r.json).map((x) => x[0]).sort(), ['smtp1.domain.test', 'smtp2.domain.test']);
    const skipped = (r.json.plan.skipped ?? []).map((x) => [x.host, x.reason]).sort();
    assert.deepEqual(skipped, [
      ['smtp3.domain.test', 'not-more-preferred'],
      ['smtp4.otherdomain.test', 'self'],
    ]);
  });
});

describe('postern route: 3-hosted', () => {
  const s = withScenario('3-hosted');
  it('finds the hosting servers\' addresses through the other zone', async () => {
    const r = await route(s.config(), 'someone@domain.test');
    assert.equal(r.json.outcome, 'deliver');
    assert.deepEqual(
      targets(r.json).sort((a, b) => a[0].localeCompare(b[0])),
      [
        ['smtp1.mailhost.test', 10, ['127.40.0.1']],
        ['smtp2.mailhost.test', 10, ['127.40.0.2']],
      ],
    );
  });

  it('on a hosting server that takes domain.test as its own, delivers locally', async () => {
    const config = s.config('hostname = "smtp1.mailhost.test"\n[[domain]]\nname = "domain.test"\nrole = "primary"');
    const r = await route(config, 'someone@domain.test');
    assert.equal(r.json.outcome, 'local');
    assert.equal(r.json.plan.kind, 'self-most-preferred');
  });
});

describe('postern route: 4-subdomains', () => {
  const s = withScenario('4-subdomains');
  const cases: Array<[string, string, number, Array<[string, number, string[]]>, RegExp]> = [
    ['anyone@planespotting.test', 'deliver', 0, [['mail.planespotting.test', 10, ['127.50.0.1']]], /1\. mail\.planespotting\.test/],
    ['info@bill.planespotting.test', 'deliver', 0, [['smtp1.mailhost.test', 10, ['127.40.0.1']]], /1\. smtp1\.mailhost\.test/],
    ['info@andy.planespotting.test', 'deliver', 0, [['mail.andy.planespotting.test', 10, ['127.50.0.12']]], /1\. mail\.andy\.planespotting\.test/],
    ['info@terry.planespotting.test', 'deliver', 0, [['terry.planespotting.test', 0, ['127.50.0.13']]], /implicit MX, RFC 5321 §5\.1/],
    ['nobody@nosuch.planespotting.test', 'bounce', 1, [], /bounce: nosuch\.planespotting\.test does not exist \(NXDOMAIN\)/],
  ];
  for (const [address, outcome, status, want, text] of cases) {
    it(`routes ${address}: ${outcome}`, async () => {
      const r = await route(s.config(), address);
      assert.equal(r.json.outcome, outcome);
      assert.equal(r.status, status);
      assert.deepEqual(targets(r.json), want);
      assert.match(r.text, text);
    });
  }
});

describe('postern route: 5-vps', () => {
  const s = withScenario('5-vps');
  it('on the one server of the basic configuration, delivers locally', async () => {
    const config = s.config('hostname = "mail.domain.test"\n[[domain]]\nname = "domain.test"\nrole = "primary"');
    const r = await route(config, 'me@domain.test');
    assert.equal(r.status, 0);
    assert.equal(r.json.outcome, 'local');
  });
  it('from elsewhere, sends to mail.domain.test at the one address', async () => {
    const r = await route(s.config(), 'me@domain.test');
    assert.deepEqual(targets(r.json), [['mail.domain.test', 10, ['127.60.0.1']]]);
  });
});

describe('postern route: 6-edge', () => {
  const s = withScenario('6-edge');
  it('bounces at once for a null MX', async () => {
    const r = await route(s.config(), 'x@nullmx.edge.test');
    assert.equal(r.status, 1);
    assert.equal(r.json.outcome, 'bounce');
    assert.equal(r.json.plan.kind, 'null-mx');
    assert.match(r.text, /null MX \(MX 0 \.\): it accepts no mail \(RFC 7505\)/);
  });
  it('skips an MX host without an address and uses the next', async () => {
    const r = await route(s.config(), 'x@skip.edge.test');
    assert.equal(r.json.outcome, 'deliver');
    assert.deepEqual(targets(r.json), [['real.edge.test', 20, ['127.70.0.2']]]);
    assert.deepEqual(r.json.plan.skipped, [{ host: 'ghost.edge.test', preference: 10, reason: 'no-address' }]);
    assert.match(r.text, /ghost\.edge\.test \(preference 10\): no address record \(A or AAAA\)/);
  });
  it('follows an MX that names a CNAME, and flags it', async () => {
    const r = await route(s.config(), 'x@alias.edge.test');
    assert.equal(r.json.outcome, 'deliver');
    assert.deepEqual(targets(r.json), [['mx-alias.edge.test', 10, ['127.70.0.2']]]);
    assert.equal(r.json.plan.targets?.[0]?.viaCname, true);
    assert.match(r.text, /an alias of real\.edge\.test: MX records should name the host itself, RFC 2181 §10\.3/);
  });
  it('retries later, never bounces, when the MX host\'s DNS server does not answer', async () => {
    const r = await route(s.config(), 'x@lame.edge.test');
    assert.equal(r.status, 2);
    assert.equal(r.json.outcome, 'retry');
    assert.equal(r.json.plan.kind, 'temporary');
    assert.match(r.text, /retry later, never bounce for this/);
  });
  it('bounces for a domain that does not exist', async () => {
    const r = await route(s.config(), 'x@nosuch.edge.test');
    assert.equal(r.status, 1);
    assert.equal(r.json.plan.kind, 'no-such-domain');
  });
});

describe('postern route: bad input and the loopback guard', () => {
  it('names a recipient domain that is not a domain', async () => {
    const config = writeConfig('[dns]\nresolvers = ["127.0.0.1:9"]\n');
    const r = await runCommand(['route', 'bob@bad..domain', '--config', config]);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /"bob@bad\.\.domain": the domain "bad\.\.domain" has an empty label/);
  });
  it('refuses to send a query off the machine under POSTERN_LOOPBACK_ONLY=1', async () => {
    const config = writeConfig('[dns]\nresolvers = ["192.0.2.1"]\n');
    const r = await runCommand(['route', 'bob@example.test', '--config', config]);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /192\.0\.2\.1 refused: POSTERN_LOOPBACK_ONLY=1 allows only 127\.0\.0\.0\/8 and ::1/);
  });
});
