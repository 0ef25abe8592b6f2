/** The README's configuration reference is the schema's own: it cannot drift from the code. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { withReference } from '../scripts/update-readme.ts';
import { parseConfig } from '../src/config/load.ts';
import { spawn, type ChildProcess } from 'node:child_process';
import { ROOT, runCommand } from './helpers/postern.ts';

describe('README.md', () => {
  it('carries the configuration and command references generated from the code (npm run docs rewrites them)', async () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    assert.equal(readme, await withReference(readme), 'README.md is out of date: run npm run docs');
  });
  it('documents every command', () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    for (const command of ['start', 'route', 'check-zone', 'account add', 'alias add', 'queue retry', 'mailbox list', 'sendmail', 'quickstart', 'lab', 'check']) {
      assert.ok(readme.includes(`#### \`postern ${command}\``), command);
    }
  });
  it('documents every key of every section', () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    for (const key of ['`max_connections_per_host`', '`callout_negative_ttl`', '`tls_listen`', '`[[domain]]`', '`retry_schedule`']) assert.ok(readme.includes(key), key);
  });
});

describe('README.md transcripts', () => {
  it('prints exactly what its ```console tested blocks show', async () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    const blocks = [...readme.matchAll(/^```console tested\n([\s\S]*?)^```$/gm)].map((m) => m[1] ?? '');
    assert.ok(blocks.length >= 1);
    for (const block of blocks) {
      const steps: Array<{ command: string; expected: string }> = [];
      for (const line of block.split('\n')) {
        if (line.startsWith('$ ')) steps.push({ command: line.slice(2), expected: '' });
        else if (steps.length > 0 && line !== '') steps[steps.length - 1]!.expected += `${line}\n`;
      }
      const background: ChildProcess[] = [];
      try {
        for (const step of steps) {
          const args = step.command.replace(/^npx postern /, '').replace(/ &$/, '').split(' ');
          assert.ok(step.command.startsWith('npx postern '), `only postern commands are run here: ${step.command}`);
          if (step.command.endsWith(' &')) {
            const child = spawn(join(ROOT, 'node_modules/.bin/node'), [join(ROOT, 'bin/postern.js'), ...args], { cwd: ROOT, env: { ...process.env, POSTERN_LOOPBACK_ONLY: '1' }, stdio: ['ignore', 'pipe', 'pipe'] });
            background.push(child);
            let out = '';
            child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
            const until = Date.now() + 20_000;
            while (!out.includes('Postern is running') && child.exitCode === null && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
            assert.ok(out.includes('Postern is running'), `${step.command} did not start: ${out}`);
            continue;
          }
          const r = await runCommand(args);
          assert.equal(r.stdout, step.expected, step.command);
        }
      } finally {
        for (const child of background) child.kill('SIGTERM');
        await Promise.all(background.map((c) => new Promise((resolve) => (c.exitCode !== null ? resolve(null) : c.on('exit', resolve)))));
      }
    }
  });
});

describe('README.md config examples', () => {
  it('every ```toml block is a config that loads', () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    const blocks = [...readme.matchAll(/^```toml\n([\s\S]*?)^```$/gm)].map((m) => m[1] ?? '');
    assert.ok(blocks.length >= 3);
    for (const block of blocks) {
      assert.doesNotThrow(() => parseConfig(block, '/etc/postern/postern.toml'), block.slice(0, 200));
    }
  });
});
