/**
 * From facts to verdicts: every row of the report is worked out here, without a network, so each
 * rule is a line in a table test. A verdict is `fail` when mail to the domain (or its protection)
 * is broken or dangerous now, `warn` when it works but something should change, `ok` otherwise;
 * each row that is not ok says what to change.
 */
import { formatHostPort } from '../core/host-port.ts';
import { replyText } from '../core/smtp-reply.ts';
import type { SmtpReply } from '../core/smtp-reply.ts';
import type { MxPlan, SkippedHost } from '../dns/mx.ts';
import { assessDmarc } from './dmarc.ts';
import { assessSpf } from './spf.ts';
import type { AddressFacts, CertificateInfo, CheckFacts, CheckReport, CheckRow, HostFacts, PtrFacts, SmtpProbeResult, TxtFacts, Verdict } from './types.ts';

export interface JudgeOptions {
  /** For certificate expiry. */
  now: Date;
}

/** A certificate this close to its end is worth a warning. */
const EXPIRY_WARNING_DAYS = 14;
/** An SMTP session slower than this to open is worth a warning (senders give up at 5 minutes). */
const SLOW_OPEN_MS = 5_000;
const DAY_MS = 86_400_000;

const RANK: Record<Verdict, number> = { ok: 0, warn: 1, fail: 2 };

export function worst(verdicts: Iterable<Verdict>): Verdict {
  let w: Verdict = 'ok';
  for (const v of verdicts) if (RANK[v] > RANK[w]) w = v;
  return w;
}

export function judge(facts: CheckFacts, options: JudgeOptions): CheckReport {
  const rows: CheckRow[] = [...mxRows(facts.plan)];
  for (const host of facts.hosts) {
    for (const a of host.addresses) rows.push(...addressRows(host, a, facts.port, options.now));
  }
  rows.push(...backupRows(facts));
  rows.push(spfRow(facts.domain, facts.spf), dmarcRow(facts.domain, facts.dmarc));
  return { domain: facts.domain, port: facts.port, verdict: worst(rows.map((r) => r.verdict)), rows };
}

// ---- MX records --------------------------------------------------------------------------------

const MX = 'MX';

export function mxRows(plan: MxPlan): CheckRow[] {
  const d = plan.domain;
  const row = (check: CheckRow['check'], subject: string, verdict: Verdict, finding: string, fix: string | null): CheckRow => ({ check, section: MX, subject, verdict, finding, fix });
  const mx = 'mx' in plan ? plan.mx : [];
  const listed = mx.map((m) => `${m.preference} ${m.exchange === '.' ? '.' : m.exchange}`).join(', ');
  switch (plan.kind) {
    case 'no-such-domain':
      return [row('mx.records', d, 'fail', `${d} does not exist (NXDOMAIN)`, `check the spelling, or create the zone for ${d} and delegate it to its name servers`)];
    case 'null-mx':
      return [row('mx.records', d, 'fail', `null MX (MX 0 .): ${d} says it accepts no mail at all (RFC 7505)`, `if ${d} should receive mail, replace "MX 0 ." with MX records naming its mail hosts`)];
    case 'self-most-preferred':
      // Never produced here (the check is nobody's MX host), but a plan is a plan.
      return [row('mx.records', d, 'fail', `no MX host is left to deliver to: ${listed}`, null)];
    case 'temporary':
      if (mx.length === 0) {
        return [row('mx.records', d, 'fail', `the MX lookup failed: ${plan.reason}`, `make the name servers of ${d} answer (a lame delegation, or a server down?)`)];
      }
      break;
    case 'no-mail-host':
      if (plan.implicit) {
        return [row('mx.records', d, 'fail', `${d} has no MX records and no address either: nobody can deliver mail to it`, `publish an MX record (@ IN MX 10 mail.${d}.) and an A record for that host`)];
      }
      break;
    case 'targets':
      if (plan.implicit) {
        const t = plan.targets[0];
        return [
          row(
            'mx.records',
            d,
            'warn',
            `no MX records: senders deliver to ${d} itself (${t?.addresses.join(', ') ?? ''}), the implicit MX of RFC 5321 §5.1`,
            `publish an MX record naming the mail host (@ IN MX 10 mail.${d}.): an implicit MX breaks when the web site moves, and some senders refuse it`,
          ),
        ];
      }
      break;
  }

  const rows: CheckRow[] = [];
  const worstHost = plan.kind === 'targets' ? 'warn' : 'fail';
  rows.push(row('mx.records', d, plan.kind === 'targets' ? 'ok' : 'fail', plan.kind === 'targets' ? listed : `${listed}: no MX host is usable${plan.kind === 'temporary' ? ' for now' : ''}`, plan.kind === 'targets' ? null : 'see the hosts below'));

  // Preference groups: the exchanges once each, "." left out.
  const groups = new Map<number, string[]>();
  const seen = new Set<string>();
  for (const m of mx) {
    if (m.exchange === '.' || seen.has(m.exchange)) continue;
    seen.add(m.exchange);
    groups.set(m.preference, [...(groups.get(m.preference) ?? []), m.exchange]);
  }
  const preferences = [...groups.keys()].sort((a, b) => a - b);
  const best = preferences[0];
  for (const p of preferences) {
    const hosts = groups.get(p) ?? [];
    const names = hosts.join(', ');
    const pick = 'senders pick among them at random, so each must accept the same recipients (one shared store, or the same accounts)';
    let meaning: string;
    if (p === best) {
      meaning = hosts.length > 1 ? `primary, load-balanced: ${pick}` : preferences.length === 1 ? 'the only mail host: while it is down, senders queue and retry (usually for days)' : 'primary: every sender tries it first';
    } else {
      const lower = preferences.filter((q) => q < p).join(' and ');
      meaning = `backup${hosts.length > 1 ? ' group' : ''}: used only when no host of preference ${lower} answers; it must hold the mail and refuse the recipients the primaries refuse${hosts.length > 1 ? `; ${pick}` : ''}`;
    }
    rows.push(row('mx.group', `preference ${p}`, 'ok', `${names}: ${meaning}`, null));
  }

  const skipped: SkippedHost[] = 'skipped' in plan ? plan.skipped : [];
  const targets = plan.kind === 'targets' ? plan.targets : [];
  const order = [...mx].filter((m, i, all) => all.findIndex((x) => x.exchange === m.exchange) === i);
  for (const m of order) {
    const target = targets.find((t) => t.host === m.exchange);
    const skip = skipped.find((s) => s.host === m.exchange);
    if (target !== undefined) {
      const found = target.addresses.join(', ');
      if (target.viaCname) {
        rows.push(
          row(
            'mx.host',
            m.exchange,
            'warn',
            `an alias (CNAME) of ${target.canonicalHost} (${found}): an MX must name the host itself (RFC 2181 §10.3); most senders follow the alias, some refuse`,
            `point the MX record at ${target.canonicalHost} itself`,
          ),
        );
      } else if (target.problems.length > 0) {
        rows.push(row('mx.host', m.exchange, 'warn', `${found}; but ${target.problems.join('; ')}`, `make every address lookup of ${m.exchange} answer`));
      } else {
        rows.push(row('mx.host', m.exchange, 'ok', found, null));
      }
    } else if (skip !== undefined) {
      rows.push(skippedRow(skip, worstHost, row));
    }
  }
  return rows;
}

function skippedRow(s: SkippedHost, severity: Verdict, row: (check: CheckRow['check'], subject: string, verdict: Verdict, finding: string, fix: string | null) => CheckRow): CheckRow {
  switch (s.reason) {
    case 'ip-literal':
      return row('mx.host', s.host, 'fail', 'an IP address, not a host name: MX records name hosts (RFC 1035 §3.3.9); senders look it up as a name and find nothing', `give the address a name (mail IN A ${s.host.replace(/^\[|\]$/g, '')}) and point the MX at that name`);
    case 'null-mx-among-others':
      return row('mx.host', '.', 'warn', 'a null MX (".") beside other MX records means nothing and is ignored (RFC 7505 §3)', 'remove the "MX 0 ." record');
    case 'no-address':
      return row('mx.host', s.host, severity, `no address: ${s.host} has no A or AAAA record${severity === 'warn' ? ', so senders skip it' : ''}`, `add an A (or AAAA) record for ${s.host}, or remove its MX record`);
    case 'temporary':
      return row('mx.host', s.host, severity, `its address lookup failed: ${s.detail}`, `make the name servers of ${s.host} answer (a lame delegation, or a server down?)`);
    case 'self':
    case 'not-more-preferred':
      return row('mx.host', s.host, 'ok', 'not checked', null);
  }
}

// ---- each address of each MX host --------------------------------------------------------------

function addressRows(host: HostFacts, a: AddressFacts, port: number, now: Date): CheckRow[] {
  const section = `${host.host} [${a.address}]:${port}`;
  const subject = formatHostPort({ host: a.address, port });
  const row = (check: CheckRow['check'], verdict: Verdict, finding: string, fix: string | null): CheckRow => ({ check, section, subject, verdict, finding, fix });
  const rows: CheckRow[] = [];
  const s = a.smtp;
  if (s.kind === 'failed') {
    rows.push(row('smtp.connect', 'fail', `${s.stage}: ${s.reason} (after ${s.ms} ms)`, connectFix(s, host.host, port)));
  } else {
    const offered = s.extensions.length > 0 ? s.extensions.join(' ') : 'nothing';
    const finding = `${firstLine(s.greeting)}; ${s.esmtp ? `EHLO offers ${offered}` : 'HELO only'}; ready in ${s.openMs} ms`;
    if (!s.esmtp) rows.push(row('smtp.connect', 'warn', finding, 'enable ESMTP (EHLO): without it there is no STARTTLS, SIZE or 8BITMIME'));
    else if (s.openMs > SLOW_OPEN_MS) rows.push(row('smtp.connect', 'warn', `${finding} (slow)`, 'find what delays the greeting (often a reverse DNS lookup of the client that times out)'));
    else rows.push(row('smtp.connect', 'ok', finding, null));
    rows.push(tlsRow(s, host.host, now, row));
  }
  rows.push(ptrRow(a.address, host.host, a.ptr, s.kind === 'open' ? greetingName(s.greeting) : null, row));
  return rows;
}

function connectFix(s: Extract<SmtpProbeResult, { kind: 'failed' }>, host: string, port: number): string {
  if (s.stage === 'connect') return `make ${host} accept TCP connections on port ${port} (is the server running, and the port open in the firewall?)`;
  if (s.reply !== null && s.reply.code >= 500) return `${host} refuses connections from this machine; if it refuses everyone, senders bounce mail for the domain`;
  return `make the SMTP server on ${host} greet and answer EHLO promptly`;
}

function tlsRow(s: Extract<SmtpProbeResult, { kind: 'open' }>, host: string, now: Date, row: (check: CheckRow['check'], verdict: Verdict, finding: string, fix: string | null) => CheckRow): CheckRow {
  if (!s.startTlsOffered) {
    return row('smtp.tls', 'warn', 'no STARTTLS: mail to this host crosses the network in clear', `give ${host} a certificate and offer STARTTLS (RFC 3207)`);
  }
  if (!s.tls) {
    return row('smtp.tls', 'fail', `STARTTLS offered, but it failed: ${s.tlsFailure ?? 'unknown'}`, 'fix the TLS setup (certificate, key, protocol versions): many senders do not retry in clear');
  }
  const c = s.certificate;
  if (c === null || c.kind === 'failed') {
    return row('smtp.tls', 'warn', `STARTTLS works, but the certificate could not be read${c === null ? '' : `: ${c.reason}`}`, null);
  }
  return certificateRow(c.certificate, host, now, row);
}

export function certificateRow(c: CertificateInfo, host: string, now: Date, row: (check: CheckRow['check'], verdict: Verdict, finding: string, fix: string | null) => CheckRow): CheckRow {
  const verdicts: Verdict[] = ['ok'];
  const fixes: string[] = [];
  const notes: string[] = [];
  const validTo = new Date(c.validTo);
  const validFrom = new Date(c.validFrom);
  const daysLeft = Math.floor((validTo.getTime() - now.getTime()) / DAY_MS);
  const date = Number.isNaN(validTo.getTime()) ? c.validTo : validTo.toISOString().slice(0, 10);
  if (validTo.getTime() < now.getTime()) {
    verdicts.push('fail');
    notes.push(`EXPIRED on ${date}`);
    fixes.push('renew the certificate');
  } else if (validFrom.getTime() > now.getTime()) {
    verdicts.push('fail');
    notes.push(`not valid before ${validFrom.toISOString().slice(0, 10)}`);
    fixes.push('check the certificate dates and the server clock');
  } else {
    notes.push(`valid until ${date} (${daysLeft} days)`);
    if (daysLeft < EXPIRY_WARNING_DAYS) {
      verdicts.push('warn');
      fixes.push('renew the certificate soon (automate it: ACME)');
    }
  }
  if (!c.nameMatches) {
    verdicts.push('warn');
    notes.push(`does not cover ${host}`);
    fixes.push(`get a certificate that names ${host}: senders that verify (MTA-STS, DANE) refuse it`);
  }
  if (!c.trusted) {
    verdicts.push('warn');
    notes.push(c.selfSigned ? 'self-signed' : `not trusted (${c.trustError ?? 'unknown issuer'})`);
    if (c.nameMatches) fixes.push(`use a certificate from a public CA (Let's Encrypt) for ${host}: senders that verify (MTA-STS) refuse ${c.selfSigned ? 'a self-signed one' : 'this one'}`);
  }
  const names = c.names.length > 0 ? c.names.join(', ') : 'no names';
  const finding = `${c.protocol ?? 'TLS'}, certificate for ${names}, ${notes.join(', ')}; handshake ${c.handshakeMs} ms`;
  const verdict = worst(verdicts);
  return row('smtp.tls', verdict, finding, fixes.length === 0 ? null : fixes.join('; '));
}

/** The name in a greeting: the first word after the code (RFC 5321 §4.3.1: "220 domain ..."). */
export function greetingName(greeting: SmtpReply): string | null {
  const word = (greeting.lines[0] ?? '').trim().split(/\s+/)[0] ?? '';
  return word === '' ? null : word.toLowerCase().replace(/\.$/, '');
}

export function ptrRow(address: string, host: string, ptr: PtrFacts, greeting: string | null, row: (check: CheckRow['check'], verdict: Verdict, finding: string, fix: string | null) => CheckRow): CheckRow {
  const greets = greeting === null ? '' : `; greets as ${greeting}`;
  const ask = `ask whoever runs the network of ${address} (the hosting provider) for a PTR record ${address} → ${greeting ?? host}`;
  if (ptr.kind === 'none') {
    return row('smtp.ptr', 'warn', `no PTR record for ${address}${greets}`, `${ask}: receivers distrust mail from an address without one, and this host sends too (bounces, forwarding)`);
  }
  if (ptr.kind === 'temporary') {
    return row('smtp.ptr', 'warn', `the PTR lookup for ${address} failed: ${ptr.reason}${greets}`, ask);
  }
  const names = ptr.names.map((n) => n.name);
  const confirmed = ptr.names.filter((n) => n.addresses.includes(address)).map((n) => n.name);
  const said = `PTR ${names.join(', ')}`;
  if (confirmed.length === 0) {
    const problems = ptr.names.filter((n) => n.problem !== null).map((n) => `${n.name}: ${n.problem ?? ''}`);
    return row(
      'smtp.ptr',
      'warn',
      `${said}, but ${names.length > 1 ? 'none of them resolves' : 'it does not resolve'} back to ${address}${problems.length > 0 ? ` (${problems.join('; ')})` : ''}${greets}`,
      `add an A/AAAA record ${names[0] ?? host} → ${address}, or change the PTR to a name that has it (forward-confirmed reverse DNS)`,
    );
  }
  if (greeting !== null && !names.includes(greeting)) {
    return row('smtp.ptr', 'warn', `${said} (forward-confirmed), but the server greets as ${greeting}`, `make the server greet with its PTR name ${confirmed[0] ?? ''} (its hostname setting), or change the PTR to ${greeting}`);
  }
  return row('smtp.ptr', 'ok', `${said} → ${address} (forward-confirmed)${greeting !== null ? ', matches the greeting' : ''}`, null);
}

// ---- backup MX sanity --------------------------------------------------------------------------

const BACKUP = 'Backup MX: unknown recipients';

function backupRows(facts: CheckFacts): CheckRow[] {
  const rows: CheckRow[] = [];
  for (const host of facts.hosts) {
    if (!host.backup) continue;
    for (const a of host.addresses) rows.push(backupRow(host.host, a.address, facts.port, a.smtp));
  }
  return rows;
}

export function backupRow(host: string, address: string, port: number, s: SmtpProbeResult): CheckRow {
  const subject = `${host} [${address}]:${port}`;
  const row = (verdict: Verdict, finding: string, fix: string | null): CheckRow => ({ check: 'backup.rcpt', section: BACKUP, subject, verdict, finding, fix });
  if (s.kind === 'failed' || s.rcpt === null) return row('warn', 'not checked: the host did not answer', 'run the check again once the host answers');
  const r = s.rcpt;
  if (r.kind === 'error') return row('warn', `could not ask RCPT TO:<${r.recipient}>: ${r.reason}`, 'run the check again');
  const said = `RCPT TO:<${r.recipient}> → ${replyText(r.reply)}`;
  if (r.reply.code >= 200 && r.reply.code < 300) {
    return row(
      'fail',
      `accepts a made-up recipient (${said}): a backup MX that accepts unknown recipients becomes a backscatter source and the spammers' way round your checks`,
      `make ${host} refuse unknown recipients at RCPT, as the primaries do: give it the list of valid recipients, or let it verify each one with the primary (in Postern: role = "backup" with backup.recipients, or verification by callout)`,
    );
  }
  if (r.reply.code >= 500) return row('ok', `refuses a made-up recipient (${said})`, null);
  return row('warn', `defers a made-up recipient (${said}): it cannot tell for now`, 'run the check again while the primaries are up: a backup that verifies recipients with them should then refuse with 550');
}

// ---- SPF and DMARC -----------------------------------------------------------------------------

const POLICY = 'SPF and DMARC';

export function spfRow(domain: string, txt: TxtFacts): CheckRow {
  const row = (verdict: Verdict, finding: string, fix: string | null): CheckRow => ({ check: 'spf', section: POLICY, subject: domain, verdict, finding, fix });
  if (txt.kind === 'temporary') return row('warn', `the TXT lookup failed: ${txt.reason}`, `make the name servers of ${domain} answer`);
  const spf = assessSpf(txt.kind === 'records' ? txt.texts : []);
  switch (spf.kind) {
    case 'none':
      return row('warn', 'no SPF record: anyone can send mail claiming to be from this domain', `publish TXT "v=spf1 mx -all" at ${domain} (the hosts that send its mail, then -all)`);
    case 'multiple':
      return row('fail', `${spf.records.length} SPF records (${spf.records.map((r) => `"${r}"`).join(', ')}): receivers treat that as a permerror, as if there were none (RFC 7208 §4.5)`, 'merge them into one v=spf1 record');
    case 'record': {
      const verdict = worst(spf.findings.map((f) => f.severity));
      const issues = spf.findings.map((f) => f.text).join('; ');
      const fix = spf.findings.map((f) => f.fix).join('; ');
      return row(verdict, `"${spf.record}"${issues === '' ? '' : `: ${issues}`}`, fix === '' ? null : fix);
    }
  }
}

export function dmarcRow(domain: string, txt: TxtFacts): CheckRow {
  const name = `_dmarc.${domain}`;
  const row = (verdict: Verdict, finding: string, fix: string | null): CheckRow => ({ check: 'dmarc', section: POLICY, subject: name, verdict, finding, fix });
  if (txt.kind === 'temporary') return row('warn', `the TXT lookup failed: ${txt.reason}`, `make the name servers of ${domain} answer`);
  const dmarc = assessDmarc(txt.kind === 'records' ? txt.texts : []);
  switch (dmarc.kind) {
    case 'none':
      return row('warn', 'no DMARC record: receivers have no policy for mail that fails SPF and DKIM', `publish TXT "v=DMARC1; p=none; rua=mailto:dmarc@${domain}" at ${name}, then tighten p= as reports allow`);
    case 'multiple':
      return row('fail', `${dmarc.records.length} DMARC records: receivers ignore them all (RFC 7489 §6.6.3)`, 'keep exactly one v=DMARC1 record');
    case 'record': {
      const verdict = worst(dmarc.findings.map((f) => (f.severity === 'note' ? 'ok' : f.severity)));
      const issues = dmarc.findings.map((f) => f.text).join('; ');
      const fixes = dmarc.findings.flatMap((f) => (f.fix === null ? [] : [f.fix])).join('; ');
      return row(verdict, `"${dmarc.record}"${issues === '' ? '' : `: ${issues}`}`, fixes === '' ? null : fixes);
    }
  }
}

function firstLine(r: SmtpReply): string {
  return `${r.code} ${r.lines[0] ?? ''}`.trimEnd();
}
