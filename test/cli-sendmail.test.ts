/**
 * `postern sendmail`: its getopt-style arguments and message reading as pure tables, then the
 * command in-process against a temporary config and data_dir (what it queues, byte for byte), and
 * once the real bin as a child process with the message piped in, as cron would run it.
 */
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import fc from 'fast-check';
import { defaultSendmailOptions, parseSendmailArgs, parseAddressList, readInputMessage, SendmailExit, type SendmailOptions } from '../src/cli/sendmail.ts';
import { loadConfig } from '../src/config/load.ts';
import { silentLogger } from '../src/core/logger.ts';
import { openConfiguredStore } from '../src/main.ts';
import { parseHeaderFields, headerValue, headerValues, splitMessage } from '../src/message/headers.ts';
import type { QueuedMessage, Store } from '../src/store/types.ts';
import { ROOT, runCommand, tempDir, writeConfig, type CommandResult } from './helpers/postern.ts';

process.env['POSTERN_LOOPBACK_ONLY'] = '1';

describe('sendmail arguments', () => {
  const base: SendmailOptions = defaultSendmailOptions();
  const cases: Array<[string[], Partial<SendmailOptions>]> = [
    [['bob@example.test'], { recipients: ['bob@example.test'] }],
    // Debian's and cronie's cron.
    [['-FCronDaemon', '-i', '-B8BITMIME', '-oem', 'root'], { fullName: 'CronDaemon', ignoreDots: true, recipients: ['root'] }],
    [['-f', 'a@example.test', 'b@example.test'], { sender: 'a@example.test', recipients: ['b@example.test'] }],
    [['-fa@example.test', 'b@example.test'], { sender: 'a@example.test', recipients: ['b@example.test'] }],
    [['-r', '<a@example.test>', 'b@example.test'], { sender: 'a@example.test', recipients: ['b@example.test'] }],
    [['-f', '<>', 'b@example.test'], { sender: '', recipients: ['b@example.test'] }],
    [['-ti'], { extractRecipients: true, ignoreDots: true }],
    [['-t', '-oi', '-odq', '-oee', '-om', '-o7'], { extractRecipients: true, ignoreDots: true }],
    [['-odb', '-h', '20', '-L', 'label', '-v', '-bm', 'x@y.test'], { recipients: ['x@y.test'], verbose: true }],
    [['b@example.test', '-f', 'a@example.test'], { sender: 'a@example.test', recipients: ['b@example.test'] }],
    [['--', '-dash@example.test', '-t'], { recipients: ['-dash@example.test', '-t'] }],
    [['-c', '/etc/postern.toml', '--config=/x.toml', 'b@example.test'], { config: '/x.toml', recipients: ['b@example.test'] }],
    [['-C', '/etc/postern.toml', 'b@example.test'], { config: '/etc/postern.toml', recipients: ['b@example.test'] }],
    [['-N', 'success,DELAY', '-R', 'hdrs', '-V', 'env-1', 'b@example.test'], { notify: ['SUCCESS', 'DELAY'], ret: 'hdrs', envid: 'env-1', recipients: ['b@example.test'] }],
    [['-N', 'never', 'b@example.test'], { notify: ['NEVER'], recipients: ['b@example.test'] }],
    [['--help'], { help: true }],
  ];
  for (const [args, want] of cases) {
    it(`reads ${args.join(' ')}`, () => {
      assert.deepEqual(parseSendmailArgs(args), { kind: 'ok', options: { ...base, ...want } });
    });
  }

  const errors: Array<[string[], RegExp]> = [
    [['-bs'], /-bs is not offered/],
    [['-bp'], /postern queue list/],
    [['-q'], /postern queue retry --all/],
    [['-I'], /newaliases/],
    [['-Z', 'b@example.test'], /unknown option -Z/],
    [['--verbose'], /unknown option --verbose/],
    [['-f'], /-f needs a value/],
    [['-N', 'sometimes', 'x@y.test'], /-N sometimes/],
    [['-R', 'body', 'x@y.test'], /-R body: give full or hdrs/],
  ];
  for (const [args, want] of errors) {
    it(`refuses ${args.join(' ')}`, () => {
      const r = parseSendmailArgs(args);
      assert.equal(r.kind, 'error');
      if (r.kind === 'error') assert.match(r.message, want);
    });
  }
});

describe('sendmail message reading', () => {
  const read = (text: string, ignoreDots = false) => readInputMessage(new TextEncoder().encode(text), { ignoreDots });
  const cases: Array<[string, string, boolean, { fields: string[][]; body: string[] }]> = [
    ['LF line endings', 'Subject: a\nTo: b@x.test\n\nline 1\nline 2\n', false, { fields: [['Subject: a'], ['To: b@x.test']], body: ['line 1', 'line 2'] }],
    ['CRLF and lone CR line endings', 'Subject: a\r\n\rbody\r', false, { fields: [['Subject: a']], body: ['body'] }],
    ['folded fields', 'Subject: a\n  b\n\tc\nX: y\n\nz', false, { fields: [['Subject: a', '  b', '\tc'], ['X: y']], body: ['z'] }],
    ['a leading mbox From line', 'From alice@x.test Mon Dec  1 10:00:00 2026\nSubject: a\n\nb\n', false, { fields: [['Subject: a']], body: ['b'] }],
    ['a dot line ending the input', 'Subject: a\n\nb\n.\nafter\n', false, { fields: [['Subject: a']], body: ['b'] }],
    ['a dot line kept with -i', 'Subject: a\n\nb\n.\nafter\n', true, { fields: [['Subject: a']], body: ['b', '.', 'after'] }],
    ['a dot-stuffed line left as written', 'Subject: a\n\n..x\n', false, { fields: [['Subject: a']], body: ['..x'] }],
    ['text without a header', 'just text\nmore\n', false, { fields: [], body: ['just text', 'more'] }],
    ['a header that stops at a line that is no field', 'Subject: a\nnot a field\nmore\n', false, { fields: [['Subject: a']], body: ['not a field', 'more'] }],
    ['nothing at all', '', false, { fields: [], body: [] }],
    ['a body line that looks like a field', '\nSubject: not a header\n', false, { fields: [], body: ['Subject: not a header'] }],
  ];
  for (const [what, input, ignoreDots, want] of cases) {
    it(`reads ${what}`, () => assert.deepEqual(read(input, ignoreDots), want));
  }
  it('keeps 8-bit bytes as they were', () => {
    const m = readInputMessage(new Uint8Array([0x53, 0x3a, 0x20, 0xe9, 0x0a, 0x0a, 0xff, 0x0a]), { ignoreDots: false });
    assert.deepEqual(m, { fields: [['S: \u00e9']], body: ['\u00ff'] });
  });
});

describe('sendmail address lists', () => {
  const cases: Array<[string, string[]]> = [
    ['bob@example.test', ['bob@example.test']],
    ['Ann Smith <ann@example.test>, bob@example.test (Bob)', ['ann@example.test', 'bob@example.test']],
    ['"Smith, Ann" <ann@example.test>', ['ann@example.test']],
    ['team: a@example.test, b@example.test;, c@example.test', ['a@example.test', 'b@example.test', 'c@example.test']],
    ['undisclosed-recipients:;', []],
    ['<@relay.test:user@example.test>', ['user@example.test']],
    ['"odd local"@example.test', ['"odd local"@example.test']],
    ['root', ['root']],
    ['Ann Smith', []],
    ['a@x.test,,b@x.test', ['a@x.test', 'b@x.test']],
    ['(only a comment)', []],
  ];
  for (const [input, want] of cases) it(`reads ${JSON.stringify(input)}`, () => assert.deepEqual(parseAddressList(input), want));

  it('never throws, and yields no empty address, whatever the header says', () => {
    fc.assert(
      fc.property(fc.string({ unit: fc.constantFrom('a', '@', '.', ',', ';', ':', '<', '>', '(', ')', '"', '\\', ' ', 'x') , maxLength: 40 }), (s) => {
        for (const a of parseAddressList(s)) assert.ok(a.length > 0);
      }),
    );
  });
});

// ---------------------------------------------------------------------------------------------

function node(extra = '', domains = `[[domain]]\nname = "example.test"\nrole = "primary"\n[[domain]]\nname = "backup.test"\nrole = "backup"\n`) {
  const dir = tempDir('cli-sendmail');
  const config = writeConfig(
    `hostname = "mx.example.test"\ndata_dir = ${JSON.stringify(join(dir, 'data'))}\n[log]\nlevel = "silent"\n${extra}` + domains,
    dir,
  );
  // -v, so that sendmail says which queue id it gave (it is quiet without, as cron needs).
  const run = (args: string[], stdin?: string | Uint8Array): Promise<CommandResult> =>
    runCommand([...(args[0] === 'sendmail' ? ['sendmail', '-v', ...args.slice(1)] : args), '-c', config], {}, stdin);
  return {
    config,
    run,
    async withStore<T>(f: (store: Store) => Promise<T>): Promise<T> {
      const store = await openConfiguredStore(loadConfig(config), silentLogger);
      try {
        return await f(store);
      } finally {
        await store.close();
      }
    },
    async accounts(...addresses: string[]): Promise<void> {
      for (const a of addresses) assert.equal((await run(['account', 'add', a, '--password', 'pw'])).status, 0);
    },
    /** The queued message sendmail printed the id of, with its bytes as text. */
    async queued(result: CommandResult): Promise<{ message: QueuedMessage; text: string }> {
      assert.equal(result.status, 0, result.stderr);
      const id = /^queued as (\S+)$/m.exec(result.stdout)?.[1] ?? '';
      return this.withStore(async (s) => {
        const message = await s.getQueued(id);
        const data = await s.readQueuedData(id);
        assert.ok(message !== null && data !== null, `${id} is in the queue`);
        return { message, text: Buffer.from(data).toString('latin1') };
      });
    },
  };
}

const rcpts = (m: QueuedMessage): Array<[string, string]> => m.recipients.map((r) => [r.address, r.route]);

describe('postern sendmail', () => {
  it('queues the message quietly without -v, as cron needs', async () => {
    const n = node();
    await n.accounts('bob@example.test');
    const r = await runCommand(['sendmail', 'bob@example.test', '-c', n.config], {}, 'Subject: hi\n\nhello\n');
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, '');
    assert.equal((await n.withStore((s) => s.listQueue())).length, 1);
  });

  it('queues the message for the named recipients from the -f sender, and with -v says its queue id', async () => {
    const n = node();
    await n.accounts('bob@example.test');
    const r = await n.run(['sendmail', '-f', 'alice@example.test', 'bob@example.test', 'carl@remote.test'], 'Subject: hi\nFrom: Alice <alice@example.test>\n\nhello\n');
    assert.match(r.stdout, /^queued as [0-9a-z]{16}\n$/);
    const { message, text } = await n.queued(r);
    assert.equal(message.sender, 'alice@example.test');
    assert.equal(message.source, 'local');
    assert.deepEqual(rcpts(message), [
      ['bob@example.test', 'local'],
      ['carl@remote.test', 'remote'],
    ]);
    assert.ok(!/[^\r]\n/.test(text), 'every line ends with CRLF');
    assert.ok(text.endsWith('\r\n\r\nhello\r\n'));
    const fields = parseHeaderFields(new TextEncoder().encode(text));
    assert.equal(fields[0]?.name, 'Received', 'our Received field is on top');
    assert.match(fields[0]?.value ?? '', new RegExp(`^by mx\\.example\\.test \\(Postern sendmail\\) id ${message.id}; \\w{3}, \\d{1,2} \\w{3} \\d{4} \\d\\d:\\d\\d:\\d\\d [+-]\\d{4}$`));
    assert.equal(headerValue(fields, 'From'), 'Alice <alice@example.test>', 'a From the message has is kept');
    assert.equal(headerValues(fields, 'From').length, 1);
  });

  it('adds From, Date and Message-ID when the message has none, and a "for" clause for one recipient', async () => {
    const n = node();
    await n.accounts('bob@example.test');
    const r = await n.run(['sendmail', '-F', 'Backup Job', 'bob@example.test'], 'Subject: nightly\n\nok\n');
    const { message, text } = await n.queued(r);
    assert.equal(message.sender, 'postmaster@example.test', 'the default sender is postmaster@ the first primary domain');
    const fields = parseHeaderFields(new TextEncoder().encode(text));
    assert.deepEqual(
      fields.map((f) => f.name),
      ['Received', 'Subject', 'From', 'Date', 'Message-ID'],
    );
    assert.equal(headerValue(fields, 'From'), 'Backup Job <postmaster@example.test>');
    assert.match(headerValue(fields, 'Message-ID') ?? '', /^<[0-9a-z.]+@mx\.example\.test>$/);
    assert.ok(Number.isFinite(Date.parse(headerValue(fields, 'Date') ?? '')));
    assert.match(headerValue(fields, 'Received') ?? '', /for <bob@example\.test>;/);
  });

  it('keeps the Date and Message-ID a message has', async () => {
    const n = node();
    await n.accounts('bob@example.test');
    const r = await n.run(['sendmail', 'bob@example.test'], 'Date: Tue, 1 Dec 2026 09:00:00 +0000\nMessage-ID: <mine@example.test>\nFrom: x@example.test\n\nb\n');
    const fields = parseHeaderFields(new TextEncoder().encode((await n.queued(r)).text));
    assert.deepEqual(headerValues(fields, 'Date'), ['Tue, 1 Dec 2026 09:00:00 +0000']);
    assert.deepEqual(headerValues(fields, 'Message-ID'), ['<mine@example.test>']);
  });

  it('gives a message without any header an empty one of its own before the text', async () => {
    const n = node();
    await n.accounts('bob@example.test');
    const { text } = await n.queued(await n.run(['sendmail', 'bob@example.test'], 'disk is full\n'));
    const { body } = splitMessage(Buffer.from(text, 'latin1'));
    assert.equal(Buffer.from(body).toString(), 'disk is full\r\n');
  });

  it('with -t, sends to To, Cc and Bcc and removes Bcc from the message', async () => {
    const n = node();
    await n.accounts('ann@example.test', 'bob@example.test', 'cat@example.test');
    const msg = 'From: me@example.test\nTo: Ann <ann@example.test>\nCc: bob@example.test,\n  "Far, Away" <far@remote.test>\nBcc: cat@example.test\nSubject: -t\n\nbody\n';
    const { message, text } = await n.queued(await n.run(['sendmail', '-t'], msg));
    assert.deepEqual(rcpts(message), [
      ['ann@example.test', 'local'],
      ['bob@example.test', 'local'],
      ['far@remote.test', 'remote'],
      ['cat@example.test', 'local'],
    ]);
    assert.doesNotMatch(text, /^Bcc:/im);
    assert.doesNotMatch(text, /cat@example\.test/, 'nothing of the Bcc line is left, not even a continuation');
    assert.doesNotMatch(headerValue(parseHeaderFields(new TextEncoder().encode(text)), 'Received') ?? '', / for </, 'no "for" clause with several recipients');
  });

  it('removes Bcc without -t too, and adds command-line recipients to those of -t', async () => {
    const n = node();
    await n.accounts('ann@example.test', 'bob@example.test');
    const { message, text } = await n.queued(await n.run(['sendmail', 'bob@example.test'], 'To: x@remote.test\nBcc: ann@example.test\n\nb\n'));
    assert.deepEqual(rcpts(message), [['bob@example.test', 'local']]);
    assert.doesNotMatch(text, /Bcc/i);
    const both = await n.queued(await n.run(['sendmail', '-t', 'bob@example.test'], 'To: ann@example.test\n\nb\n'));
    assert.deepEqual(rcpts(both.message), [
      ['bob@example.test', 'local'],
      ['ann@example.test', 'local'],
    ]);
  });

  it('ends the message at a line with a single dot, unless -i or -oi', async () => {
    const n = node();
    await n.accounts('bob@example.test');
    const input = 'Subject: dot\n\nbefore\n.\nafter\n';
    assert.ok((await n.queued(await n.run(['sendmail', 'bob@example.test'], input))).text.endsWith('\r\n\r\nbefore\r\n'));
    for (const flag of ['-i', '-oi']) {
      assert.ok((await n.queued(await n.run(['sendmail', flag, 'bob@example.test'], input))).text.endsWith('\r\n\r\nbefore\r\n.\r\nafter\r\n'), flag);
    }
  });

  it('drops a leading mbox From line and turns LF and CR line endings into CRLF', async () => {
    const n = node();
    await n.accounts('bob@example.test');
    const { text } = await n.queued(await n.run(['sendmail', 'bob@example.test'], 'From root Tue Dec  1 09:00:00 2026\nSubject: x\r\n\nl1\rl2\n'));
    assert.doesNotMatch(text, /^From root/m);
    assert.ok(text.endsWith('\r\n\r\nl1\r\nl2\r\n'));
    assert.ok(!/\r(?!\n)|(?<!\r)\n/.test(text), 'no bare CR or LF');
  });

  it('qualifies a bare name like "root" with the first primary domain, as cron sends it', async () => {
    const n = node();
    await n.accounts('admin@example.test');
    await n.run(['alias', 'add', 'root@example.test', 'admin@example.test']);
    const r = await n.run(['sendmail', '-FCronDaemon', '-i', '-B8BITMIME', '-oem', 'root'], 'From: root (Cron Daemon)\nTo: root\nSubject: Cron <root@host> backup\n\nout\n');
    const { message } = await n.queued(r);
    assert.deepEqual(rcpts(message), [['admin@example.test', 'local']]);
  });

  it('qualifies a bare name with a primary domain kept in the store when the config file lists none', async () => {
    const n = node('', '');
    assert.equal((await n.run(['domain', 'add', 'stored.test'])).status, 0);
    await n.accounts('admin@stored.test');
    await n.run(['alias', 'add', 'root@stored.test', 'admin@stored.test']);
    const { message } = await n.queued(await n.run(['sendmail', 'root'], 'Subject: x\n\nout\n'));
    assert.deepEqual(rcpts(message), [['admin@stored.test', 'local']]);
    assert.equal(message.sender, 'postmaster@stored.test', 'the default sender is postmaster@ that domain');
  });

  it('routes a backup domain\'s recipient to the hold, and expands aliases', async () => {
    const n = node();
    await n.accounts('ann@example.test');
    await n.run(['alias', 'add', 'list@example.test', 'ann@example.test']);
    await n.run(['alias', 'add', 'list@example.test', 'ext@remote.test']);
    const { message } = await n.queued(await n.run(['sendmail', 'someone@backup.test', 'list@example.test', 'ANN@example.test'], 'S: x\n\nb\n'));
    assert.deepEqual(rcpts(message), [
      ['someone@backup.test', 'backup'],
      ['ann@example.test', 'local'],
      ['ext@remote.test', 'remote'],
    ]);
  });

  it('keeps the DSN options -N, -R and -V', async () => {
    const n = node();
    await n.accounts('bob@example.test');
    const { message } = await n.queued(await n.run(['sendmail', '-N', 'failure,delay', '-R', 'hdrs', '-V', 'job-42', 'bob@example.test'], 'S: x\n\nb\n'));
    assert.equal(message.ret, 'hdrs');
    assert.equal(message.envid, 'job-42');
    assert.deepEqual(message.recipients[0]?.notify, ['FAILURE', 'DELAY']);
  });

  it('queues a message from the null sender with -f "<>"', async () => {
    const n = node();
    await n.accounts('bob@example.test');
    const { message, text } = await n.queued(await n.run(['sendmail', '-f', '<>', 'bob@example.test'], 'S: x\n\nb\n'));
    assert.equal(message.sender, '');
    assert.match(text, /^From: postmaster@example\.test\r$/m);
  });

  it('refuses an unknown local recipient with exit 1, naming it, and queues nothing', async () => {
    const n = node();
    await n.accounts('bob@example.test');
    const r = await n.run(['sendmail', 'bob@example.test', 'nobody@example.test', 'a%b@example.test'], 'S: x\n\nb\n');
    assert.equal(r.status, SendmailExit.Rejected);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /nobody@example\.test: 550 5\.1\.1 /);
    assert.match(r.stderr, /a%b@example\.test: 550 5\.7\.1 relaying denied/);
    assert.deepEqual(await n.withStore((s) => s.listQueue()), []);
  });

  const failures: Array<[string, string[], string, number, RegExp]> = [
    ['no recipients', [], 'S: x\n\nb\n', SendmailExit.Usage, /no recipients given/],
    ['-t finding no recipients', ['-t'], 'Subject: x\n\nb\n', SendmailExit.DataErr, /no recipient addresses found in the message header/],
    ['a recipient that is no address', ['bob@bad..domain'], 'S: x\n\nb\n', SendmailExit.Usage, /bob@bad\.\.domain: not an address/],
    ['a header recipient that is no address', ['-t'], 'To: bob@bad..domain\n\nb\n', SendmailExit.DataErr, /bob@bad\.\.domain: not an address \(in the message header\)/],
    ['a sender that is no address', ['-f', 'a@b..c', 'bob@example.test'], 'S: x\n\nb\n', SendmailExit.Usage, /-f a@b\.\.c: not an address/],
    ['an unsupported mode', ['-bs'], '', SendmailExit.Usage, /-bs is not offered/],
  ];
  for (const [what, args, input, status, stderr] of failures) {
    it(`exits ${status} for ${what}`, async () => {
      const n = node();
      await n.accounts('bob@example.test');
      const r = await n.run(['sendmail', ...args], input);
      assert.equal(r.status, status, r.stderr);
      assert.match(r.stderr, stderr);
      assert.deepEqual(await n.withStore((s) => s.listQueue()), []);
    });
  }

  it('exits 65 for a message larger than smtp.max_message_size', async () => {
    const n = node('[smtp]\nmax_message_size = 2000\n');
    await n.accounts('bob@example.test');
    const r = await n.run(['sendmail', 'bob@example.test'], `S: x\n\n${'y'.repeat(3000)}\n`);
    assert.equal(r.status, SendmailExit.DataErr);
    assert.match(r.stderr, /too large: \d+ bytes, smtp\.max_message_size is 2000/);
  });

  it('exits 78 when the config cannot be read', async () => {
    const r = await runCommand(['sendmail', '-c', join(tempDir('none'), 'missing.toml'), 'bob@example.test'], {}, 'x\n');
    assert.equal(r.status, SendmailExit.Config);
  });

  it('prints its usage with --help', async () => {
    const r = await runCommand(['sendmail', '--help']);
    assert.equal(r.status, 0);
    assert.match(r.stdout, /^usage: postern sendmail /);
  });
});

describe('postern sendmail beside a running server', () => {
  // The server runs as its own process, as in production: node:sqlite waits for a lock
  // synchronously, so a server and a CLI in one process could only wait for each other.
  it('is delivered into the mailbox by the running server\'s queue runner', async () => {
    const n = node('[smtp]\nlisten = ["127.61.0.1:0"]\n[queue]\npoll_interval = "100ms"\n[dns]\nresolvers = ["127.0.0.1:9"]\ntimeout_ms = 100\nattempts = 1\n');
    await n.accounts('bob@example.test');
    const server = spawn(join(ROOT, 'node_modules', '.bin', 'node'), [join(ROOT, 'bin', 'postern.js'), 'start', '-c', n.config], {
      env: { ...process.env, POSTERN_LOOPBACK_ONLY: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    server.stdout.on('data', (d: Buffer) => (out += d.toString()));
    server.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<void>((resolve) => server.on('exit', () => resolve()));
    try {
      for (let i = 0; i < 200 && !out.includes('Postern is running') && server.exitCode === null; i++) await new Promise((r) => setTimeout(r, 50));
      assert.match(out, /Postern is running/);

      const sent = await n.run(['sendmail', '-f', 'cron@example.test', 'bob@example.test'], 'Subject: via the queue\n\nhello\n');
      assert.equal(sent.status, 0, sent.stderr);
      let listed: Array<{ subject: string | null }> = [];
      for (let i = 0; i < 50 && listed.length === 0; i++) {
        await new Promise((r) => setTimeout(r, 100));
        listed = JSON.parse((await n.run(['mailbox', 'list', 'bob@example.test', '--json'])).stdout) as Array<{ subject: string | null }>;
      }
      assert.deepEqual(listed.map((m) => m.subject), ['via the queue'], out);
      assert.deepEqual(JSON.parse((await n.run(['queue', 'list', '--json'])).stdout), [], 'delivered and gone from the queue');
    } finally {
      server.kill('SIGTERM');
      await exited;
    }
  });
});

describe('postern sendmail as a program', () => {
  it('takes a message piped into bin/postern.js, and queue list --json shows it', async () => {
    const n = node();
    await n.accounts('b@example.test');
    const run = promisify(execFile);
    const bin = [join(ROOT, 'bin', 'postern.js')];
    const nodeBin = join(ROOT, 'node_modules', '.bin', 'node');
    const env = { ...process.env, POSTERN_LOOPBACK_ONLY: '1' };
    const child = execFile(nodeBin, [...bin, 'sendmail', '-v', '-f', 'a@example.test', 'b@example.test', '-c', n.config], { env, timeout: 20_000 });
    const done = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      let stdout = '';
      let stderr = '';
      child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
      child.on('close', (code) => resolve({ code, stdout, stderr }));
    });
    child.stdin?.end('Subject: from a pipe\nTo: b@example.test\n\nhello\n');
    const sent = await done;
    assert.equal(sent.code, 0, sent.stderr);
    const id = /^queued as (\S+)$/m.exec(sent.stdout)?.[1];

    const listed = await run(nodeBin, [...bin, 'queue', 'list', '--json', '-c', n.config], { env, timeout: 20_000 });
    const queue = JSON.parse(listed.stdout) as Array<{ id: string; sender: string; recipients: Array<{ address: string; state: string }> }>;
    assert.deepEqual(
      queue.map((m) => [m.id, m.sender, m.recipients.map((r) => [r.address, r.state])]),
      [[id, 'a@example.test', [['b@example.test', 'queued']]]],
    );
  });
});
