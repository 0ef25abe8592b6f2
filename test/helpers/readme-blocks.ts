/**
 * The README's command blocks marked ```sh tested, run as a newcomer would type them: in the
 * folder where `npm start` runs, with `npx postern` meaning this checkout's bin (never the
 * registry), and PASSWORD replaced by the password the first start printed.
 */
import { execFile } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export function testedBlocks(readme: string): string[] {
  const blocks: string[] = [];
  const re = /^```sh tested\n([\s\S]*?)^```$/gm;
  for (const m of readme.matchAll(re)) blocks.push((m[1] ?? '').replace(/\\\n\s*/g, ''));
  return blocks;
}

/** The commands of a block, one per line, comments dropped. */
export function commandsOf(block: string): string[] {
  return block
    .split('\n')
    .map((l) => l.replace(/\s+#.*$/, '').trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
}

export interface CommandRun {
  command: string;
  status: number;
  stdout: string;
  stderr: string;
}

export async function runReadmeCommand(command: string, options: { cwd: string; root: string; password: string }): Promise<CommandRun> {
  const bin = mkdtempSync(join(tmpdir(), 'postern-readme-bin-'));
  const npx = join(bin, 'npx');
  // `npx postern …` must run this checkout, not fetch a package of that name.
  writeFileSync(npx, `#!/bin/sh\nif [ "$1" = postern ]; then shift; exec "${join(options.root, 'node_modules/.bin/node')}" "${join(options.root, 'bin/postern.js')}" "$@"; fi\necho "npx $1: not allowed in README tests" >&2; exit 127\n`);
  chmodSync(npx, 0o755);
  const line = command.replaceAll('PASSWORD', options.password);
  return new Promise((resolve) => {
    execFile('bash', ['-c', line], { cwd: options.cwd, timeout: 30_000, env: { ...process.env, PATH: `${bin}:${process.env['PATH'] ?? ''}`, POSTERN_LOOPBACK_ONLY: '1' } }, (err, stdout, stderr) => {
      resolve({ command, status: err === null ? 0 : typeof err.code === 'number' ? err.code : 1, stdout: String(stdout), stderr: String(stderr) });
    });
  });
}

export function readmeText(root: string): string {
  return readFileSync(join(root, 'README.md'), 'utf8');
}
