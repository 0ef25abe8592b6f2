/**
 * `npm start` as a newcomer runs it: the real `postern` bin in a fresh folder, no config anywhere.
 * It must create the development setup, answer DNS for example.test on 127.0.0.1:5353, reload on
 * SIGHUP (keeping a zone whose file broke), stop cleanly on SIGTERM, and reuse its setup next time.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { appendFileSync, copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { dirname, join } from 'node:path';
import { udpExchange } from './helpers/dns-client.ts';
import { decodeReply, query } from './helpers/dns-zones.ts';
import { ROOT, runCommand, tempDir, writeConfig } from './helpers/postern.ts';
import { sendPlain } from './helpers/smtp-socket-client.ts';
import { commandsOf, readmeText, runReadmeCommand, testedBlocks } from './helpers/readme-blocks.ts';

const NODE = join(ROOT, 'node_modules/.bin/node');
const BIN = join(ROOT, 'bin/postern.js');
const DEV_DNS = { host: '127.0.0.1', port: 5353 };

interface Running {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  exited: Promise<number | null>;
}

function startPostern(cwd: string): Running {
  const env: NodeJS.ProcessEnv = { ...process.env, POSTERN_LOOPBACK_ONLY: '1' };
  delete env['POSTERN_CONFIG'];
  const child = spawn(NODE, [BIN, 'start'], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, stdout: () => out, stderr: () => err, exited };
}

/** The first line a server says after connecting. */
const RawLineClient = {
  first(host: string, port: number): Promise<string> {
    return new Promise((resolve, reject) => {
      const s = connect({ host, port });
      let buf = '';
      const timer = setTimeout(() => (s.destroy(), reject(new Error(`no greeting on ${port}`))), 5000);
      s.on('data', (d: Buffer) => {
        buf += d.toString();
        const nl = buf.indexOf('\n');
        if (nl >= 0) {
          clearTimeout(timer);
          s.destroy();
          resolve(buf.slice(0, nl).trim());
        }
      });
      s.on('error', (e) => (clearTimeout(timer), reject(e)));
    });
  },
};

/** Polls `check` every 50 ms for at most `ms`; returns whether it became true. */
async function eventually(check: () => boolean | Promise<boolean>, ms = 10_000): Promise<boolean> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    if (await check()) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return false;
}

async function ask(name: string, type: 'A' | 'MX'): Promise<string[]> {
  const reply = await udpExchange(DEV_DNS, query(name, type), 1000);
  return reply === null ? [] : decodeReply(reply).answer;
}

async function stop(p: Running): Promise<number | null> {
  if (p.child.exitCode === null) p.child.kill('SIGTERM');
  return Promise.race([p.exited, new Promise<null>((r) => setTimeout(() => r(null), 10_000).unref())]);
}

describe('npm start on a fresh clone', () => {
  it('creates the development setup, serves example.test, reloads on SIGHUP and stops on SIGTERM', async (t) => {
    const cwd = tempDir('start');
    const p = startPostern(cwd);
    try {
      const ready = await eventually(() => p.stdout().includes('Postern is running') || p.child.exitCode !== null, 20_000);
      if (p.child.exitCode !== null && /EADDRINUSE|already in use/i.test(p.stderr())) {
        t.skip(`127.0.0.1:5353 is taken (another Postern running?): ${p.stderr().trim()}`);
        return;
      }
      assert.ok(ready && p.child.exitCode === null, `postern did not start:\n${p.stdout()}\n${p.stderr()}`);
      assert.match(p.stdout(), /created data\/postern\.toml\ncreated data\/zones\/example\.test\.zone\n/);
      assert.match(p.stdout(), /created account postmaster@example\.test with password \S{16} \(shown once\)/);
      assert.match(p.stdout(), /dns +udp\+tcp +127\.0\.0\.1:5353/);
      assert.match(p.stdout(), /smtp +starttls +127\.0\.0\.1:2525/);
      assert.match(p.stdout(), /submission +starttls +127\.0\.0\.1:5870\n +submission +tls +127\.0\.0\.1:4650/);
      assert.match(p.stdout(), /imap +starttls +127\.0\.0\.1:1143\n +imap +tls +127\.0\.0\.1:9930/);
      assert.match(p.stdout(), /pop3 +stls +127\.0\.0\.1:1110\n +pop3 +tls +127\.0\.0\.1:9950/);
      assert.match(p.stdout(), /TLS certificate SHA-256 [0-9A-F]{2}(:[0-9A-F]{2}){31} \(self-signed/);
      assert.match(p.stdout(), /swaks --server 127\.0\.0\.1:2525 --from you@example\.test --to postmaster@example\.test/);

      // The example domain takes mail for its postmaster.
      await sendPlain('127.0.0.1', 2525, { helo: 'newcomer.test', from: 'you@example.test', to: 'postmaster@example.test', message: 'Subject: first mail\r\n\r\nhello\r\n' });
      const config = join(cwd, 'data/postern.toml');
      assert.ok(
        await eventually(async () => (await runCommand(['mailbox', 'list', 'postmaster@example.test', '--config', config])).stdout.includes('first mail')),
        'the message reached the postmaster\'s INBOX',
      );
      assert.match(p.stdout(), /dig @127\.0\.0\.1 -p 5353 example\.test MX/);

      assert.deepEqual(await ask('example.test', 'MX'), ['example.test 300 MX 10 mail.example.test']);

      // Every command block of the README marked as tested works against this setup.
      const password = /created account postmaster@example\.test with password (\S+) /.exec(p.stdout())?.[1] ?? '';
      writeFileSync(join(cwd, 'message.txt'), 'From: postmaster@example.test\r\nTo: postmaster@example.test\r\nSubject: from the README\r\n\r\nhello\r\n');
      const blocks = testedBlocks(readmeText(ROOT));
      assert.ok(blocks.length >= 2, 'the README marks its command blocks as tested');
      const tools = ['dig', 'swaks', 'curl'].filter((tool) => spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0);
      let ran = 0;
      for (const block of blocks) {
        for (const command of commandsOf(block)) {
          const missing = tools.find((tool) => command.startsWith(`${tool} `));
          if (missing !== undefined) {
            t.diagnostic(`skipped because ${missing} is not installed: ${command}`);
            continue;
          }
          const run = await runReadmeCommand(command, { cwd, root: ROOT, password });
          assert.equal(run.status, 0, `README command failed: ${command}\n${run.stdout}\n${run.stderr}`);
          ran++;
        }
      }
      t.diagnostic(`ran ${ran} commands of the README`);

      // And the commands the banner itself suggests.
      const banner = p.stdout();
      const suggested = banner.slice(banner.indexOf('Try:\n') + 5, banner.indexOf('Ctrl-C stops')).split('\n').map((l) => l.trim()).filter((l) => l !== '');
      assert.ok(suggested.length >= 5, banner);
      for (const command of suggested) {
        if (tools.some((tool) => command.startsWith(`${tool} `))) continue;
        const run = await runReadmeCommand(command, { cwd, root: ROOT, password });
        assert.equal(run.status, 0, `banner command failed: ${command}\n${run.stdout}\n${run.stderr}`);
      }
      assert.ok(ran >= 2, 'at least the npx postern commands ran');

      // An edit published by SIGHUP.
      const zoneFile = join(cwd, 'data/zones/example.test.zone');
      appendFileSync(zoneFile, 'new     IN A    127.0.0.9\n');
      p.child.kill('SIGHUP');
      assert.ok(await eventually(async () => (await ask('new.example.test', 'A')).length > 0), 'the new record was not served after SIGHUP');
      assert.deepEqual(await ask('new.example.test', 'A'), ['new.example.test 300 A 127.0.0.9']);

      // A broken edit keeps the previous version on the air.
      const good = readFileSync(zoneFile, 'utf8');
      writeFileSync(zoneFile, good + 'broken  IN MX   mail\n');
      p.child.kill('SIGHUP');
      assert.ok(await eventually(() => p.stdout().includes('1 file(s) with errors')), p.stdout());
      assert.match(p.stderr(), /example\.test\.zone:\d+: MX needs a preference and a host/);
      assert.deepEqual(await ask('new.example.test', 'A'), ['new.example.test 300 A 127.0.0.9']);

      assert.equal(await stop(p), 0);
      assert.match(p.stdout(), /stopped\n$/);
    } finally {
      await stop(p);
    }

    // A second start reuses what the first created.
    writeFileSync(join(cwd, 'data/zones/example.test.zone'), readFileSync(join(cwd, 'data/zones/example.test.zone'), 'utf8').replace(/broken.*\n/, ''));
    const again = startPostern(cwd);
    try {
      assert.ok(await eventually(() => again.stdout().includes('Postern is running') || again.child.exitCode !== null, 20_000), again.stderr());
      assert.doesNotMatch(again.stdout(), /created/);
      assert.deepEqual(await ask('new.example.test', 'A'), ['new.example.test 300 A 127.0.0.9']);
    } finally {
      assert.equal(await stop(again), 0);
    }
  });

  it('npm start from a fresh copy of the repository answers DNS, SMTP, IMAP and POP3 within 30 seconds', async (t) => {
    const copy = tempDir('copy');
    const files = spawnSync('git', ['ls-files', '-z'], { cwd: ROOT, encoding: 'utf8' });
    if (files.status !== 0) {
      t.skip('not a git checkout: cannot make a copy of the repository');
      return;
    }
    for (const file of files.stdout.split('\0').filter((f) => f !== '')) {
      mkdirSync(dirname(join(copy, file)), { recursive: true });
      copyFileSync(join(ROOT, file), join(copy, file));
    }
    symlinkSync(join(ROOT, 'node_modules'), join(copy, 'node_modules'));
    const env: NodeJS.ProcessEnv = { ...process.env, POSTERN_LOOPBACK_ONLY: '1' };
    delete env['POSTERN_CONFIG'];
    // Its own process group, so that stopping it reaches npm and the server npm started.
    const child = spawn('npm', ['start'], { cwd: copy, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    let out = '';
    let err = '';
    child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (err += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    const started = Date.now();
    try {
      assert.ok(await eventually(() => out.includes('Postern is running') || child.exitCode !== null, 30_000), `not running within 30 s:\n${out}\n${err}`);
      assert.deepEqual(await ask('example.test', 'MX'), ['example.test 300 MX 10 mail.example.test']);
      for (const [port, greeting] of [[2525, /^220 /], [1143, /^\* OK/], [1110, /^\+OK/]] as const) {
        const c = await RawLineClient.first('127.0.0.1', port);
        assert.match(c, greeting, `port ${port}`);
      }
      t.diagnostic(`answering ${Date.now() - started} ms after npm start`);
    } finally {
      if (child.pid !== undefined) process.kill(-child.pid, 'SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000).unref())]);
    }
  });

  it('keeps running with nothing to listen on until told to stop', async () => {
    const dir = tempDir('idle');
    writeConfig('[log]\nlevel = "silent"\n[dns]\nresolvers = ["127.0.0.1:53"]\n', dir);
    const p = startPostern(dir);
    try {
      assert.ok(await eventually(() => p.stdout().includes('Postern is running') || p.child.exitCode !== null, 20_000), p.stderr());
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(p.child.exitCode, null, `exited on its own: ${p.stderr()}`);
      assert.match(p.stdout(), /no service is configured to listen/);
    } finally {
      assert.equal(await stop(p), 0);
    }
  });

  it('refuses to start on a zone file with errors, naming the file and line', async () => {
    const dir = tempDir('badzone');
    const zones = join(dir, 'zones');
    spawnSync('mkdir', ['-p', zones]);
    writeFileSync(join(zones, 'bad.test.zone'), '$ORIGIN bad.test.\n$TTL 300\n@ IN SOA ns1 host ( 1 2 3 4 5 )\n  IN NS ns1\nns1 IN A 127.0.0.300\n');
    const config = writeConfig('[log]\nlevel = "silent"\n[dns]\nlisten = ["127.0.0.54:0"]\nzones_dir = "zones"\n', dir);
    const r = await runCommand(['start', '--config', config]);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /bad\.test\.zone:5: "127\.0\.0\.300" is not an IPv4 address/);
  });

  it('refuses a config with an unknown key, naming it', async () => {
    const config = writeConfig('[dns]\nlisten = ["127.0.0.54:0"]\nzones = "zones"\n');
    const r = await runCommand(['start', '--config', config]);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /postern\.toml: dns\.zones: unknown key/);
  });

  it('says what to do when run by a Node older than 24', (t) => {
    const old = ['/usr/bin/node', '/usr/local/bin/node'].find((p) => existsSync(p) && Number(spawnSync(p, ['-p', 'process.versions.node.split(".")[0]']).stdout?.toString()) < 24);
    if (old === undefined) {
      t.skip('no Node older than 24 on this machine to try');
      return;
    }
    const r = spawnSync(old, [BIN, 'start'], { cwd: tempDir('oldnode'), encoding: 'utf8', timeout: 10_000 });
    assert.equal(r.status, 1);
    assert.match(r.stderr, /postern: needs Node\.js 24 or later, but this is Node\.js \d+/);
    assert.match(r.stderr, /npm start/);
  });

  it('prints help that lists the commands', async () => {
    const r = await runCommand(['--help']);
    assert.equal(r.status, 0);
    for (const command of ['start', 'route', 'check-zone']) assert.match(r.stdout, new RegExp(`\\n  ${command}`));
  });
});

describe('postern check-zone', () => {
  it('checks every zone of the config\'s zones_dir and names each broken line', async () => {
    const dir = tempDir('checkzone');
    spawnSync('mkdir', ['-p', join(dir, 'zones')]);
    writeFileSync(join(dir, 'zones/good.test.zone'), '$TTL 300\n@ IN SOA ns1 host ( 1 2 3 4 5 )\n  IN NS ns1\nns1 IN A 127.0.0.1\n@ IN MX 10 ns1\n');
    writeFileSync(join(dir, 'zones/bad.test.zone'), '$TTL 300\n@ IN SOA ns1 host ( 1 2 3 4 5 )\n  IN NS ns1\n@ IN MX mail\n');
    const config = writeConfig('[dns]\nzones_dir = "zones"\n', dir);
    const r = await runCommand(['check-zone', '--config', config]);
    assert.equal(r.status, 1);
    assert.match(r.stdout, /^FAIL {2}bad\.test\.zone\n {6}\S*bad\.test\.zone:4: MX needs a preference and a host\nok {4}good\.test\.zone: zone good\.test, 4 records \(1 SOA, 1 NS, 1 A, 1 MX\)\n$/);
  });

  it('passes every scenario zone', async () => {
    const files = readdirSync(join(ROOT, 'scenarios'), { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.zone'));
    assert.equal(files.length, 9);
    const r = await runCommand(['check-zone', ...files.map((f) => join(ROOT, 'scenarios', f))]);
    assert.equal(r.status, 0, r.stdout);
    assert.equal(r.stdout.split('\n').filter((l) => l.startsWith('ok ')).length, files.length);
  });
});
