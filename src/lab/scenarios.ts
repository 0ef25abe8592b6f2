/**
 * One script per folder of scenarios/: the hosts of the tutorial's example on their 127.x
 * addresses, and the steps that show what the scenarios README says must happen. Every scenario
 * has a sender host (sender.test, 127.0.9.1) that users submit through and that delivers by the MX
 * walk, as any other mail server on the Internet would.
 */
import { rcptProbe, readGreeting } from './submit.ts';
import { servicePort, type HostSpec } from './topology.ts';
import { sharesWithin, shareText, tally, tallyOk, tallyText } from './report.ts';
import type { LabContext, ScenarioScript, Step, StepResult } from './script.ts';

export const LAB_USER = 'alice@sender.test';
const USER = 'user@domain.test';
const BOUNCE_SUBJECT = 'Undelivered Mail Returned to Sender';

const DNS: HostSpec = { name: 'dns', hostname: 'ns1.test', address: '127.0.0.53', role: 'authoritative DNS for the scenario\'s zones', services: ['dns'] };
const SENDER: HostSpec = {
  name: 'sender',
  hostname: 'sender.test',
  address: '127.0.9.1',
  role: 'an outside mail server: users submit here, it delivers by MX',
  services: ['smtp', 'submission'],
  domains: [['sender.test', 'primary']],
  accounts: [LAB_USER],
};

const sum = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0);
const count = (subjects: readonly string[], wanted: readonly string[]): number => {
  const w = new Set(wanted);
  return subjects.filter((s) => w.has(s)).length;
};

/** Sends, then waits until `hosts` together have every one of them in `address`'s INBOX. */
async function sendAndCount(ctx: LabContext, o: { to: string; count: number; prefix: string; hosts: readonly string[]; timeoutMs?: number }): Promise<{ subjects: string[]; per: number[]; done: boolean }> {
  const subjects = await ctx.send(o.to, o.count, o.prefix);
  const r = await ctx.waitFor({ what: `${o.count} delivered`, total: o.count, timeoutMs: o.timeoutMs ?? 90_000 }, async () => {
    const per = await Promise.all(o.hosts.map(async (h) => count(await ctx.inbox(h, o.to), subjects)));
    return { done: sum(per) >= o.count, value: per, progress: sum(per) };
  });
  return { subjects, per: r.value, done: r.done };
}

/** Waits until the lab user's INBOX at the sender holds at least `atLeast` bounces; their number. */
async function waitBounces(ctx: LabContext, atLeast: number, timeoutMs = 30_000): Promise<number> {
  const r = await ctx.waitFor({ what: 'the bounce', timeoutMs }, async () => {
    const n = (await ctx.inbox('sender', LAB_USER)).filter((s) => s === BOUNCE_SUBJECT).length;
    return { done: n >= atLeast, value: n };
  });
  return r.value;
}

async function routeLines(ctx: LabContext, address: string): Promise<string[]> {
  const r = await ctx.topology.cli('sender', ['route', address]);
  return r.stdout.split('\n').filter((l) => /^\s+(MX |\d+\. )/.test(l)).map((l) => l.trim().replace(/\s+/g, ' '));
}

/** Counts the steps of a script that went as expected, for its conclusion. */
interface Score {
  ok: number;
}

function oneDelivery(to: string, host: string, expected: string, title: string, score: Score): Step {
  return {
    title,
    expected,
    async run(ctx) {
      const r = await sendAndCount(ctx, { to, count: 1, prefix: `to ${to}`, hosts: [host], timeoutMs: 30_000 });
      ctx.say(`${host} (${ctx.topology.host(host).hostname}, ${ctx.topology.host(host).address}) has it: ${r.done ? 'yes' : 'no'}`);
      if (r.done) score.ok++;
      return { observed: r.done ? `delivered to ${host}` : `not at ${host} in time`, ok: r.done };
    },
  };
}

// ---------------------------------------------------------------------------------------------

export function priority(): ScenarioScript {
  const sentHere: string[] = [];
  return {
    name: '1-priority',
    title: 'the first example: MX 10 mail1, MX 20 mail2',
    story: 'Mail goes to mail1; with mail1 down, to mail2, which holds it as backup MX; with both down the sender queues and retries until one answers. Nothing is lost.',
    dnsHost: 'dns',
    senderHost: 'sender',
    hosts: [
      DNS,
      SENDER,
      { name: 'mail1', hostname: 'mail1.domain.test', address: '127.0.1.1', role: 'MX 10: primary, final delivery', services: ['smtp'], domains: [['domain.test', 'primary']], accounts: [USER] },
      { name: 'mail2', hostname: 'mail2.domain.test', address: '127.0.1.2', role: 'MX 20: backup, holds and forwards', services: ['smtp'], domains: [['domain.test', 'backup']], backupRecipients: [USER] },
    ],
    steps: [
      {
        title: 'Send 10 messages with both hosts up',
        expected: 'all 10 at mail1 (MX 10), none at mail2',
        async run(ctx) {
          const r = await sendAndCount(ctx, { to: USER, count: 10, prefix: 'first', hosts: ['mail1'] });
          sentHere.push(...r.subjects);
          const held = (await ctx.queue('mail2')).length;
          ctx.say(`mail1 took ${r.per[0]}, mail2 holds ${held}`);
          return { observed: `mail1 took ${r.per[0]}, mail2 holds ${held}`, ok: r.done && held === 0 };
        },
      },
      {
        title: 'Stop mail1 and send 10 more',
        expected: 'mail2 (MX 20) accepts and holds all 10',
        async run(ctx) {
          await ctx.stop('mail1');
          ctx.say('mail1 stopped: connections to 127.0.1.1 are refused');
          const subjects = await ctx.send(USER, 10, 'second');
          sentHere.push(...subjects);
          const r = await ctx.waitFor({ what: 'held at mail2', total: 10, timeoutMs: 60_000 }, async () => {
            const held = (await ctx.queue('mail2')).length;
            return { done: held >= 10, value: held, progress: held };
          });
          const waiting = (await ctx.queue('sender')).length;
          ctx.say(`mail2 holds ${r.value}, the sender's queue has ${waiting}`);
          return { observed: `mail2 holds ${r.value}, sender holds ${waiting}`, ok: r.value === 10 && waiting === 0 };
        },
      },
      {
        title: 'Stop mail2 as well and send 5 more',
        expected: 'the sender keeps all 5 and retries',
        async run(ctx) {
          await ctx.stop('mail2');
          ctx.say('mail2 stopped too: no MX host of domain.test answers');
          const subjects = await ctx.send(USER, 5, 'third');
          sentHere.push(...subjects);
          const r = await ctx.waitFor({ what: 'two attempts each at the sender', timeoutMs: 60_000 }, async () => {
            const q = await ctx.queue('sender');
            const tried = q.filter((m) => m.recipients.every((x) => x.attempts >= 2)).length;
            return { done: q.length === 5 && tried === 5, value: q };
          });
          const reply = r.value[0]?.recipients[0]?.lastReply ?? '';
          ctx.say(`the sender holds ${r.value.length}; last reply: ${reply}`);
          return { observed: `sender holds ${r.value.length}, retrying (${reply.slice(0, 40)})`, ok: r.done };
        },
      },
      {
        title: 'Bring mail1 and mail2 back',
        expected: 'everything reaches mail1, once',
        async run(ctx) {
          await ctx.start('mail1', 'mail2');
          const r = await ctx.waitFor({ what: 'every message at mail1', total: sentHere.length, timeoutMs: 90_000 }, async () => {
            const t = tally(sentHere, await ctx.inbox('mail1', USER));
            const queues = (await ctx.queue('sender')).length + (await ctx.queue('mail2')).length;
            return { done: t.delivered === t.sent && queues === 0, value: t, progress: t.delivered };
          });
          const text = tallyText(r.value);
          ctx.say(text);
          ctx.conclusion = text;
          return { observed: text, ok: r.done && tallyOk(r.value) };
        },
      },
    ],
  };
}

export interface DatacenterCounts {
  /** Messages sent with every host up (200 in the lab). */
  load: number;
  /** Messages sent with Washington down (50). */
  held: number;
}

export function datacenters(counts: DatacenterCounts = { load: 200, held: 50 }): ScenarioScript {
  const washington = (n: string, address: string): HostSpec => ({
    name: n,
    hostname: `${n}.domain.test`,
    address,
    role: 'MX 10, Washington: primary, shares the load',
    services: ['smtp'],
    domains: [['domain.test', 'primary']],
    accounts: [USER],
  });
  const dallas = (n: string, hostname: string, address: string): HostSpec => ({
    name: n,
    hostname,
    address,
    role: 'MX 20, Dallas: backup, holds and forwards',
    services: ['smtp'],
    domains: [['domain.test', 'backup']],
    // The primaries' recipient list, synced to the backups: they refuse whom Washington would refuse.
    backupRecipients: [USER],
  });
  const primaries = ['smtp1', 'smtp2'];
  const backups = ['smtp3', 'smtp4'];
  const all: string[] = [];
  let load: string[] = [];
  return {
    name: '2-datacenters',
    title: '"Let\'s get a little more complicated" and "Backup MX Servers"',
    story:
      'smtp1 and smtp2 (MX 10, Washington) share the load at random; with both down, smtp3 and smtp4 (MX 20, Dallas, on two domains\' names) accept and hold the mail, and when Washington returns they forward it all there at a limited rate. Nothing is lost or duplicated.',
    dnsHost: 'dns',
    senderHost: 'sender',
    hosts: [DNS, SENDER, washington('smtp1', '127.20.20.1'), washington('smtp2', '127.20.20.2'), dallas('smtp3', 'smtp3.domain.test', '127.30.30.1'), dallas('smtp4', 'smtp4.otherdomain.test', '127.30.30.2')],
    steps: [
      {
        title: `Send ${counts.load} messages to ${USER}`,
        expected: 'smtp1 and smtp2 (both MX 10) share them, each 30-70%; Dallas holds none',
        async run(ctx) {
          const r = await sendAndCount(ctx, { to: USER, count: counts.load, prefix: 'load', hosts: primaries, timeoutMs: 120_000 });
          load = r.subjects;
          all.push(...r.subjects);
          const heldInDallas = sum(await Promise.all(backups.map(async (h) => (await ctx.queue(h)).length)));
          const split = shareText([
            ['smtp1', r.per[0] ?? 0],
            ['smtp2', r.per[1] ?? 0],
          ]);
          ctx.say(split);
          ctx.say(`Dallas holds ${heldInDallas}`);
          return { observed: `${split}; Dallas ${heldInDallas}`, ok: r.done && sharesWithin(r.per, 0.3, 0.7) && heldInDallas === 0 };
        },
      },
      {
        title: 'Stop Washington (smtp1 and smtp2)',
        expected: 'both stop; their mail stays in their stores',
        async run(ctx) {
          await ctx.stop(...primaries);
          const down = primaries.filter((h) => !ctx.topology.isRunning(h));
          ctx.say(`stopped ${down.join(' and ')}: 127.20.20.1 and 127.20.20.2 refuse connections`);
          return { observed: `${down.join(', ')} stopped`, ok: down.length === 2 };
        },
      },
      {
        title: `Send ${counts.held} messages while Washington is down`,
        expected: `Dallas (MX 20) accepts and holds all ${counts.held}, filing none in mailboxes`,
        async run(ctx) {
          const subjects = await ctx.send(USER, counts.held, 'held');
          all.push(...subjects);
          const r = await ctx.waitFor({ what: `${counts.held} held at Dallas`, total: counts.held, timeoutMs: 60_000 }, async () => {
            const per = await Promise.all(backups.map(async (h) => (await ctx.queue(h)).filter((m) => m.recipients.every((x) => x.route === 'backup')).length));
            return { done: sum(per) >= counts.held, value: per, progress: sum(per) };
          });
          const waiting = (await ctx.queue('sender')).length;
          const split = shareText(
            [
              ['smtp3', r.value[0] ?? 0],
              ['smtp4', r.value[1] ?? 0],
            ],
            'holds',
          );
          ctx.say(`${split}; the sender's queue has ${waiting}`);
          return { observed: `${split}; sender ${waiting}`, ok: sum(r.value) === counts.held && waiting === 0 };
        },
      },
      {
        title: 'Ask Dallas to take mail for a recipient Washington does not have',
        expected: 'both refuse nobody@domain.test at RCPT (550), as the primaries would',
        async run(ctx) {
          const replies = await Promise.all(backups.map((h) => rcptProbe({ host: ctx.topology.host(h).address, port: ctx.topology.port, from: LAB_USER, to: 'nobody@domain.test' })));
          backups.forEach((h, i) => ctx.say(`${h}: RCPT TO:<nobody@domain.test> → ${replies[i]}`));
          return { observed: backups.map((h, i) => `${h} ${(replies[i] ?? '').slice(0, 9)}`).join(', '), ok: replies.every((r) => r.startsWith('550')) };
        },
      },
      {
        title: 'Bring Washington back',
        expected: 'Dallas forwards everything to Washington at its drain rate, and empties',
        async run(ctx) {
          const started = Date.now();
          await ctx.start(...primaries);
          const heldSubjects = all.filter((s) => !load.includes(s));
          const r = await ctx.waitFor({ what: 'the drain', total: heldSubjects.length, timeoutMs: 120_000 }, async () => {
            const per = await Promise.all(primaries.map(async (h) => count(await ctx.inbox(h, USER), heldSubjects)));
            const dallasLeft = sum(await Promise.all(backups.map(async (h) => (await ctx.queue(h)).length)));
            return { done: sum(per) >= heldSubjects.length && dallasLeft === 0, value: { per, dallasLeft }, progress: sum(per) };
          });
          const seconds = ((Date.now() - started) / 1000).toFixed(1);
          const split = shareText([
            ['smtp1', r.value.per[0] ?? 0],
            ['smtp2', r.value.per[1] ?? 0],
          ]);
          ctx.say(`drained within ${seconds} s (hosts' start included): ${split}; Dallas holds ${r.value.dallasLeft}`);
          return { observed: `${split} in ${seconds} s; Dallas ${r.value.dallasLeft} left`, ok: r.done };
        },
      },
      {
        title: 'Count every message in Washington\'s mailboxes',
        expected: `${counts.load + counts.held} of ${counts.load + counts.held} delivered, 0 lost, 0 duplicated`,
        async run(ctx) {
          const found = (await Promise.all(primaries.map((h) => ctx.inbox(h, USER)))).flat();
          const t = tally(all, found);
          const text = tallyText(t);
          ctx.say(text);
          ctx.conclusion = text;
          return { observed: text, ok: tallyOk(t) };
        },
      },
    ],
  };
}

export function hosted(): ScenarioScript {
  const mailhost = (n: string, address: string): HostSpec => ({
    name: n,
    hostname: `${n}.mailhost.test`,
    address,
    role: 'MX 10 of domain.test, in the hosting company\'s domain',
    services: ['smtp'],
    domains: [
      ['mailhost.test', 'primary'],
      ['domain.test', 'primary'],
    ],
    accounts: [USER],
  });
  return {
    name: '3-hosted',
    title: '"Hosting outside your domain"',
    story: "domain.test's MX records name hosts in another domain (mailhost.test); the sender finds their addresses through that zone and delivers there; the hosting servers accept domain.test as one of their own domains.",
    dnsHost: 'dns',
    senderHost: 'sender',
    hosts: [DNS, SENDER, mailhost('smtp1', '127.40.0.1'), mailhost('smtp2', '127.40.0.2')],
    steps: [
      {
        title: `Ask where mail for ${USER} goes (postern route, at the sender)`,
        expected: 'MX 10 smtp1.mailhost.test and smtp2.mailhost.test, addresses from the mailhost.test zone',
        async run(ctx) {
          const lines = await routeLines(ctx, USER);
          for (const l of lines) ctx.say(l);
          const text = lines.join('; ');
          return { observed: text || 'no route printed', ok: text.includes('smtp1.mailhost.test') && text.includes('127.40.0.1') && text.includes('127.40.0.2') };
        },
      },
      {
        title: `Send 20 messages to ${USER}`,
        expected: 'all 20 accepted by the hosting servers as their own domain',
        async run(ctx) {
          const r = await sendAndCount(ctx, { to: USER, count: 20, prefix: 'hosted', hosts: ['smtp1', 'smtp2'] });
          const split = shareText([
            ['smtp1', r.per[0] ?? 0],
            ['smtp2', r.per[1] ?? 0],
          ]);
          const t = tally(r.subjects, (await Promise.all(['smtp1', 'smtp2'].map((h) => ctx.inbox(h, USER)))).flat());
          ctx.say(split);
          ctx.conclusion = tallyText(t);
          return { observed: `${split}; ${tallyText(t)}`, ok: r.done && tallyOk(t) };
        },
      },
    ],
  };
}

export function subdomains(): ScenarioScript {
  const P = 'planespotting.test';
  const delivered: Score = { ok: 0 };
  return {
    name: '4-subdomains',
    title: '"Subdomain Email"',
    story: `Each subdomain of ${P} gets its mail where its own records say: the owner's server, a hosting company, Andy's own server, Terry's address (implicit MX); a subdomain that does not exist bounces.`,
    dnsHost: 'dns',
    senderHost: 'sender',
    hosts: [
      DNS,
      SENDER,
      { name: 'owner', hostname: `mail.${P}`, address: '127.50.0.1', role: `MX 10 of ${P}`, services: ['smtp'], domains: [[P, 'primary']], accounts: [`anyone@${P}`] },
      { name: 'mailhost', hostname: 'smtp1.mailhost.test', address: '127.40.0.1', role: `MX 10 of bill.${P} (hosted)`, services: ['smtp'], domains: [[`bill.${P}`, 'primary']], accounts: [`info@bill.${P}`] },
      { name: 'andy', hostname: `mail.andy.${P}`, address: '127.50.0.12', role: `MX 10 of andy.${P} (his own)`, services: ['smtp'], domains: [[`andy.${P}`, 'primary']], accounts: [`info@andy.${P}`] },
      { name: 'terry', hostname: `terry.${P}`, address: '127.50.0.13', role: `terry.${P}'s A record, no MX (implicit MX)`, services: ['smtp'], domains: [[`terry.${P}`, 'primary']], accounts: [`info@terry.${P}`] },
    ],
    steps: [
      oneDelivery(`anyone@${P}`, 'owner', "delivered at the owner's server (MX 10 mail)", `Mail to anyone@${P}`, delivered),
      oneDelivery(`info@bill.${P}`, 'mailhost', 'delivered at smtp1.mailhost.test', `Mail to info@bill.${P}`, delivered),
      oneDelivery(`info@andy.${P}`, 'andy', "delivered at Andy's own server", `Mail to info@andy.${P}`, delivered),
      oneDelivery(`info@terry.${P}`, 'terry', "delivered to terry's address (no MX: implicit MX)", `Mail to info@terry.${P}`, delivered),
      {
        title: `Mail to nobody@nosuch.${P}`,
        expected: 'bounces to the sender (the name does not exist)',
        async run(ctx) {
          await ctx.send(`nobody@nosuch.${P}`, 1, 'to nosuch');
          const n = await waitBounces(ctx, 1);
          ctx.say(`${LAB_USER} has ${n} bounce${n === 1 ? '' : 's'} ("${BOUNCE_SUBJECT}")`);
          ctx.conclusion = `${delivered.ok} of 4 delivered where their records say; ${n === 1 ? 'the fifth bounced, as it must' : `${n} bounces for the fifth, where 1 was expected`}`;
          return { observed: `${n} bounce at the sender`, ok: n === 1 };
        },
      },
    ],
  };
}

export function vps(): ScenarioScript {
  const friend = 'friend@domain.test';
  return {
    name: '5-vps',
    title: '"Basic configuration"',
    story: 'One server at one address (127.60.0.1) serves DNS, SMTP as the MX, submission, IMAP and POP3 for domain.test.',
    dnsHost: 'vps',
    senderHost: 'sender',
    hosts: [
      { name: 'vps', hostname: 'mail.domain.test', address: '127.60.0.1', role: 'everything for domain.test: DNS, MX, submission, IMAP, POP3', services: ['dns', 'smtp', 'submission', 'imap', 'pop3'], domains: [['domain.test', 'primary']], accounts: [USER, friend] },
      SENDER,
    ],
    steps: [
      {
        title: `Ask where mail for ${USER} goes (postern route, at the sender)`,
        expected: 'MX 10 mail.domain.test, 127.60.0.1',
        async run(ctx) {
          const lines = await routeLines(ctx, USER);
          for (const l of lines) ctx.say(l);
          const text = lines.join('; ');
          return { observed: text || 'no route printed', ok: text.includes('mail.domain.test') && text.includes('127.60.0.1') };
        },
      },
      {
        title: 'Send 5 messages from outside',
        expected: `all 5 in ${USER}'s INBOX on the VPS`,
        async run(ctx) {
          const r = await sendAndCount(ctx, { to: USER, count: 5, prefix: 'from outside', hosts: ['vps'] });
          ctx.say(`${USER} has ${r.per[0]} of them`);
          return { observed: `${r.per[0]} of 5 in the INBOX`, ok: r.done };
        },
      },
      {
        title: `${USER} sends to ${friend} through the VPS's submission service`,
        expected: `in ${friend}'s INBOX`,
        async run(ctx) {
          await ctx.submit('vps', { username: USER, password: ctx.password }, friend, ['hello friend']);
          const r = await ctx.waitFor({ what: 'delivery', timeoutMs: 30_000 }, async () => {
            const n = count(await ctx.inbox('vps', friend), ['hello friend']);
            return { done: n === 1, value: n };
          });
          ctx.say(`${friend} has it: ${r.done ? 'yes' : 'no'}`);
          return { observed: r.done ? 'delivered' : 'not delivered in time', ok: r.done };
        },
      },
      {
        title: 'Connect to IMAP and POP3 on the same address',
        expected: 'both greet: "* OK" and "+OK"',
        async run(ctx) {
          const port = ctx.topology.port;
          const imap = await readGreeting('127.60.0.1', servicePort('imap', port));
          const pop3 = await readGreeting('127.60.0.1', servicePort('pop3', port));
          ctx.say(`IMAP 127.60.0.1:${servicePort('imap', port)}: ${imap}`);
          ctx.say(`POP3 127.60.0.1:${servicePort('pop3', port)}: ${pop3}`);
          const ok = imap.startsWith('* OK') && pop3.startsWith('+OK');
          ctx.conclusion = ok ? 'one address serves DNS, the MX, submission, IMAP and POP3' : null;
          return { observed: `IMAP "${imap.slice(0, 30)}", POP3 "${pop3.slice(0, 30)}"`, ok };
        },
      },
    ],
  };
}

export function edge(): ScenarioScript {
  let bounces = 0;
  const score: Score = { ok: 0 };
  const bounceStep = (to: string, title: string, expected: string): Step => ({
    title,
    expected,
    async run(ctx): Promise<StepResult> {
      await ctx.send(to, 1, `to ${to}`);
      const n = await waitBounces(ctx, bounces + 1);
      const ok = n === bounces + 1;
      bounces = n;
      if (ok) score.ok++;
      ctx.say(`${LAB_USER} now has ${n} bounce${n === 1 ? '' : 's'}`);
      return { observed: ok ? 'bounced to the sender' : `${n} bounces at the sender`, ok };
    },
  });
  return {
    name: '6-edge',
    title: 'the standards the tutorial takes for granted',
    story: 'A null MX (RFC 7505) fails at once with a bounce; an MX host with no address is skipped; an MX naming a CNAME is followed; a domain that does not exist bounces; a DNS server that does not answer means retry later, never bounce.',
    dnsHost: 'dns',
    senderHost: 'sender',
    hosts: [
      DNS,
      SENDER,
      {
        name: 'real',
        hostname: 'real.edge.test',
        address: '127.70.0.2',
        role: 'the one MX host that exists',
        services: ['smtp'],
        domains: [
          ['skip.edge.test', 'primary'],
          ['alias.edge.test', 'primary'],
        ],
        accounts: ['info@skip.edge.test', 'info@alias.edge.test'],
      },
    ],
    steps: [
      oneDelivery('info@skip.edge.test', 'real', 'ghost (no address) skipped; delivered at real', 'Mail to skip.edge.test (MX 10 ghost, MX 20 real)', score),
      oneDelivery('info@alias.edge.test', 'real', 'the CNAME followed; delivered at real', 'Mail to alias.edge.test (MX names a CNAME)', score),
      bounceStep('info@nullmx.edge.test', 'Mail to nullmx.edge.test (MX 0 .)', 'bounces at once (RFC 7505)'),
      bounceStep('info@nosuch.edge.test', 'Mail to nosuch.edge.test (no such name)', 'bounces (NXDOMAIN)'),
      {
        title: 'Mail to lame.edge.test (its MX host\'s zone has no server)',
        expected: 'kept and retried, never bounced',
        async run(ctx) {
          await ctx.send('info@lame.edge.test', 1, 'to lame');
          const r = await ctx.waitFor({ what: 'two attempts', timeoutMs: 30_000 }, async () => {
            const q = (await ctx.queue('sender')).filter((m) => m.recipients.some((x) => x.address === 'info@lame.edge.test'));
            const attempts = q[0]?.recipients[0]?.attempts ?? 0;
            return { done: attempts >= 2, value: q[0]?.recipients[0] };
          });
          const n = (await ctx.inbox('sender', LAB_USER)).filter((s) => s === BOUNCE_SUBJECT).length;
          ctx.say(`queued at the sender after ${r.value?.attempts ?? 0} attempts: ${r.value?.lastReply ?? '-'}`);
          if (r.done && n === bounces) score.ok++;
          ctx.conclusion = `${score.ok} of 5 edge cases went the way the standards say`;
          return { observed: `still queued after ${r.value?.attempts ?? 0} attempts; bounces ${n - bounces}`, ok: r.done && n === bounces };
        },
      },
    ],
  };
}

export interface ScenarioOptions {
  datacenters?: DatacenterCounts;
}

/** Every scenario's script, in folder order. Fresh objects each call: scripts keep state while they run. */
export function labScenarios(o: ScenarioOptions = {}): ScenarioScript[] {
  return [priority(), datacenters(o.datacenters), hosted(), subdomains(), vps(), edge()];
}
