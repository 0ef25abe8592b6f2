/**
 * The report for people (a table per section, a verdict per line, what to change under it) and for
 * scripts (JSON).
 */
import type { CheckReport, CheckRow, Verdict } from './types.ts';

const LABEL: Record<Verdict, string> = { ok: 'ok', warn: 'WARN', fail: 'FAIL' };

const CHECK_NAMES: Record<CheckRow['check'], string> = {
  'mx.records': 'MX records',
  'mx.group': 'group',
  'mx.host': 'host',
  'smtp.connect': 'SMTP',
  'smtp.tls': 'TLS',
  'smtp.ptr': 'reverse DNS',
  'backup.rcpt': 'RCPT',
  spf: 'SPF',
  dmarc: 'DMARC',
};

export function formatReport(report: CheckReport): string {
  const out: string[] = [`Mail health check of ${report.domain} (SMTP port ${report.port})`];
  // An address's rows sit under a heading that names it: no subject column for them.
  const shown = (r: CheckRow): string => (r.check.startsWith('smtp.') ? '' : r.subject);
  const subjectWidth = Math.min(40, Math.max(0, ...report.rows.map((r) => shown(r).length)));
  const checkWidth = Math.max(...report.rows.map((r) => CHECK_NAMES[r.check].length));
  let section: string | null = null;
  for (const r of report.rows) {
    if (r.section !== section) {
      section = r.section;
      out.push('', r.section);
    }
    const subject = shown(r);
    const head = `  ${LABEL[r.verdict].padEnd(4)}  ${CHECK_NAMES[r.check].padEnd(checkWidth)}  ${subject === '' ? '' : `${subject.padEnd(subjectWidth)}  `}`;
    out.push(`${head}${r.finding}`);
    if (r.fix !== null) out.push(`${' '.repeat(8 + checkWidth)}→ ${r.fix}`);
  }
  const count = (v: Verdict): number => report.rows.filter((r) => r.verdict === v).length;
  const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? '' : 's'}`;
  out.push('', `${LABEL[report.verdict]}: ${count('ok')} ok, ${plural(count('warn'), 'warning')}, ${plural(count('fail'), 'failure')}`);
  return out.join('\n') + '\n';
}

export function reportJson(report: CheckReport): string {
  return (
    JSON.stringify(
      {
        domain: report.domain,
        port: report.port,
        verdict: report.verdict,
        counts: { ok: report.rows.filter((r) => r.verdict === 'ok').length, warn: report.rows.filter((r) => r.verdict === 'warn').length, fail: report.rows.filter((r) => r.verdict === 'fail').length },
        rows: report.rows,
      },
      null,
      2,
    ) + '\n'
  );
}
