/**
 * Is a domain's DMARC policy (RFC 7489) there and usable? The record lives in TXT at
 * `_dmarc.DOMAIN` and tells receivers what to do with mail that fails SPF and DKIM alignment
 * (`p=none | quarantine | reject`) and where to send reports (`rua=`). This reads the record as a
 * receiver would (RFC 7489 §6.3, §6.6.3) and says what would make receivers ignore it.
 *
 * TXT text comes off the network, so nothing here throws: every outcome is a value.
 */

export type DmarcPolicy = 'none' | 'quarantine' | 'reject';

export interface DmarcFinding {
  severity: 'note' | 'warn' | 'fail';
  text: string;
  fix: string | null;
}

export type DmarcAssessment =
  | { kind: 'none' }
  /** RFC 7489 §6.6.3: more than one record means no DMARC policy at all. */
  | { kind: 'multiple'; records: string[] }
  | {
      kind: 'record';
      record: string;
      /** Lower-cased tag names to their values, as written. */
      tags: Record<string, string>;
      /** null when p= is missing or invalid: receivers then ignore the record (§6.6.3). */
      policy: DmarcPolicy | null;
      findings: DmarcFinding[];
    };

const POLICIES: readonly string[] = ['none', 'quarantine', 'reject'];
const KNOWN_TAGS = new Set(['v', 'p', 'sp', 'rua', 'ruf', 'adkim', 'aspf', 'pct', 'fo', 'rf', 'ri', 'np', 't', 'psd']);

/** RFC 7489 §6.6.3: only records that begin with "v=DMARC1" count (whitespace around "=" allowed). */
export function isDmarcRecord(text: string): boolean {
  return /^v\s*=\s*DMARC1\s*(;|$)/.test(text);
}

/** `texts`: every TXT record at `_dmarc.DOMAIN`, each one's strings joined. */
export function assessDmarc(texts: readonly string[]): DmarcAssessment {
  const records = texts.filter(isDmarcRecord);
  if (records.length === 0) return { kind: 'none' };
  if (records.length > 1) return { kind: 'multiple', records };
  const record = records[0] ?? '';
  // No prototype: a tag named "constructor" or "__proto__" is just a tag.
  const tags = Object.create(null) as Record<string, string>;
  const findings: DmarcFinding[] = [];
  for (const part of record.split(';')) {
    if (part.trim() === '') continue;
    const eq = part.indexOf('=');
    if (eq === -1) {
      findings.push({ severity: 'warn', text: `"${part.trim()}" is not a tag=value pair`, fix: 'write every part as tag=value, separated by ";"' });
      continue;
    }
    const name = part.slice(0, eq).trim().toLowerCase();
    const value = part.slice(eq + 1).trim();
    if (name in tags) {
      findings.push({ severity: 'warn', text: `"${name}=" appears twice`, fix: `keep one "${name}="` });
      continue;
    }
    tags[name] = value;
    if (!KNOWN_TAGS.has(name)) findings.push({ severity: 'note', text: `unknown tag "${name}=" (ignored by receivers)`, fix: null });
  }
  const p = tags['p']?.toLowerCase();
  const policy = p !== undefined && POLICIES.includes(p) ? (p as DmarcPolicy) : null;
  if (policy === null) {
    findings.push({
      severity: 'fail',
      text: p === undefined ? 'no "p=" tag' : `"p=${tags['p'] ?? ''}" is not none, quarantine or reject`,
      fix: 'add "p=none" right after "v=DMARC1;" (then quarantine, then reject once reports look clean): without a valid p= receivers ignore the record (RFC 7489 §6.6.3)',
    });
  } else if (policy === 'none') {
    findings.push({ severity: 'note', text: 'p=none: receivers only report, they do not act on failures', fix: 'move to p=quarantine, then p=reject, once the reports show only your own servers' });
  }
  const sp = tags['sp']?.toLowerCase();
  if (sp !== undefined && !POLICIES.includes(sp)) findings.push({ severity: 'warn', text: `"sp=${tags['sp'] ?? ''}" is not none, quarantine or reject`, fix: 'correct or remove sp=' });
  const pct = tags['pct'];
  if (pct !== undefined) {
    if (!/^\d{1,3}$/.test(pct) || Number(pct) > 100) findings.push({ severity: 'warn', text: `"pct=${pct}" is not a number from 0 to 100`, fix: 'correct or remove pct=' });
    else if (Number(pct) < 100) findings.push({ severity: 'note', text: `pct=${pct}: the policy applies to ${pct}% of failing mail`, fix: null });
  }
  for (const name of ['adkim', 'aspf']) {
    const v = tags[name]?.toLowerCase();
    if (v !== undefined && v !== 'r' && v !== 's') findings.push({ severity: 'warn', text: `"${name}=${tags[name] ?? ''}" is not r or s`, fix: `correct or remove ${name}=` });
  }
  for (const name of ['rua', 'ruf']) {
    const v = tags[name];
    if (v === undefined) continue;
    const bad = v.split(',').map((u) => u.trim()).filter((u) => !/^[a-z][a-z0-9+.-]*:\S+$/i.test(u));
    if (bad.length > 0) findings.push({ severity: 'warn', text: `"${name}=" holds ${bad.map((b) => `"${b}"`).join(', ')}, not URIs`, fix: `write addresses as mailto: URIs (${name}=mailto:dmarc@example.com)` });
  }
  if (tags['rua'] === undefined) findings.push({ severity: 'note', text: 'no "rua=": nobody receives aggregate reports', fix: 'add rua=mailto:ADDRESS to learn who sends mail as this domain' });
  return { kind: 'record', record, tags, policy, findings };
}
