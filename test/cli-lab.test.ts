/**
 * `postern lab`: the list in-process, and whole scenario runs through the real bin/postern.js, as
 * a person would start them: every host a process of its own on loopback.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { ROOT, runCommand } from './helpers/postern.ts';

process.env['POSTERN_LOOPBACK_ONLY'] = '1';

/** Runs `postern ARGS` as a child; kills it (and so fails) after `ms`. */
function runBin(args: string[], ms: number): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [join(ROOT, 'bin/postern.js'), ...args], { cwd: ROOT, env: { ...process.env, POSTERN_LOOPBACK_ONLY: '1' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString('utf8')));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
    // SIGINT first: the lab then stops every host it started.
    const timer = setTimeout(() => child.kill('SIGINT'), ms);
    child.on('close', (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr });
    });
  });
}

describe('postern lab', () => {
  it('lists all six scenarios when given none', async () => {
    const r = await runCommand(['lab']);
    assert.equal(r.status, 0, r.stderr);
    for (const name of ['1-priority', '2-datacenters', '3-hosted', '4-subdomains', '5-vps', '6-edge']) assert.match(r.stdout, new RegExp(`^  ${name} `, 'm'));
  });

  it('refuses an unknown scenario with the list', async () => {
    const r = await runCommand(['lab', '7-nothing']);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /no scenario "7-nothing"/);
    assert.match(r.stderr, /2-datacenters/);
  });

  it('runs 2-datacenters to its summary: 250 of 250 delivered, 0 lost, 0 duplicated', { timeout: 200_000 }, async () => {
    const r = await runBin(['lab', '2-datacenters'], 180_000);
    assert.equal(r.status, 0, `${r.stdout}\n${r.stderr}`);
    assert.match(r.stdout, /smtp1 took \d+ \(\d+%\), smtp2 took \d+ \(\d+%\)/);
    assert.match(r.stdout, /smtp3 holds \d+ \(\d+%\), smtp4 holds \d+ \(\d+%\)/);
    assert.match(r.stdout, /^Summary of 2-datacenters\n#\s+STEP\s+EXPECTED\s+OBSERVED\s+OK/m);
    assert.match(r.stdout, /^250 of 250 delivered, 0 lost, 0 duplicated$/m);
    assert.doesNotMatch(r.stdout, /FAIL/);
    assert.doesNotMatch(r.stderr, /\x1b/, 'no escape codes when stderr is not a terminal');
  });

  it('runs 1-priority to its summary', { timeout: 200_000 }, async () => {
    const r = await runBin(['lab', '1-priority'], 180_000);
    assert.equal(r.status, 0, `${r.stdout}\n${r.stderr}`);
    assert.match(r.stdout, /mail2 holds 10/);
    assert.match(r.stdout, /the sender holds 5/);
    assert.match(r.stdout, /^25 of 25 delivered, 0 lost, 0 duplicated$/m);
    assert.doesNotMatch(r.stdout, /FAIL/);
  });
});
