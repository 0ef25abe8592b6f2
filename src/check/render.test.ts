import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { formatReport, reportJson } from './render.ts';
import type { CheckReport } from './types.ts';

const report: CheckReport = {
  domain: 'x.test',
  port: 25,
  verdict: 'fail',
  rows: [
    { check: 'mx.records', section: 'MX', subject: 'x.test', verdict: 'ok', finding: '10 mx.x.test', fix: null },
    { check: 'smtp.connect', section: 'mx.x.test [192.0.2.1]:25', subject: '192.0.2.1:25', verdict: 'fail', finding: 'connect: refused', fix: 'open port 25' },
    { check: 'spf', section: 'SPF and DMARC', subject: 'x.test', verdict: 'warn', finding: 'no SPF record', fix: 'publish one' },
  ],
};

describe('the report', () => {
  it('prints a section per heading, a verdict per line and what to change under it', () => {
    assert.equal(
      formatReport(report),
      [
        'Mail health check of x.test (SMTP port 25)',
        '',
        'MX',
        '  ok    MX records  x.test  10 mx.x.test',
        '',
        'mx.x.test [192.0.2.1]:25',
        '  FAIL  SMTP        connect: refused',
        '                  → open port 25',
        '',
        'SPF and DMARC',
        '  WARN  SPF         x.test  no SPF record',
        '                  → publish one',
        '',
        'FAIL: 1 ok, 1 warning, 1 failure',
        '',
      ].join('\n'),
    );
  });

  it('gives scripts the verdict, the counts and every row as JSON', () => {
    const json = JSON.parse(reportJson(report)) as { verdict: string; counts: Record<string, number>; rows: unknown[] };
    assert.equal(json.verdict, 'fail');
    assert.deepEqual(json.counts, { ok: 1, warn: 1, fail: 1 });
    assert.deepEqual(json.rows, report.rows);
  });
});
