/**
 * A private Postfix instance for interoperability tests: its own config_directory, queue_directory,
 * data_directory and Maildirs under a temporary folder, smtpd on one loopback address and port, the
 * final destination (virtual(8) mailboxes) of one domain, its log in a file of its own. It never
 * touches the system's /etc/postfix or a system mail service, and it never asks DNS: no client name
 * lookups, no MX lookups (it only receives). `postfix start` needs root: Postfix itself drops to its
 * `postfix` user, and virtual(8) writes the Maildirs as `nobody`.
 */
import { execFile } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { generate } from 'selfsigned';
import { tempDir } from './postern.ts';

const run = promisify(execFile);
const POSTFIX = '/usr/sbin/postfix';
const POSTCONF = '/usr/sbin/postconf';
/** virtual(8) delivers as this user and group (Debian's nobody:nogroup). */
const MAILBOX_ID = 65534;

export interface PostfixOptions {
  /** The loopback address smtpd listens on (and the only interface Postfix uses). */
  address: string;
  port: number;
  /** The domain Postfix is the final destination of. */
  domain: string;
  /** Local parts with a Maildir; any other recipient of the domain is refused at RCPT time. */
  mailboxes: string[];
  hostname?: string;
  /** Offer STARTTLS with a self-signed certificate (default true). */
  tls?: boolean;
}

export interface PrivatePostfix {
  dir: string;
  /** The files in a mailbox's Maildir/new, full paths. */
  newMessages(localPart: string): string[];
  /** The instance's log (maillog_file) as it is now. */
  log(): string;
  /** Stops master and its children; safe to call twice and after a failed start. */
  stop(): Promise<void>;
}

/** Why a private Postfix cannot run here, or null when it can. */
export function postfixUnavailable(): string | null {
  if (!existsSync(POSTFIX)) return `${POSTFIX} is missing: apt-get install postfix (with a policy-rc.d guard, see .ci/run)`;
  if (process.getuid?.() !== 0) return 'a private Postfix must be started as root (it drops privileges to its postfix user)';
  return null;
}

function mainCf(dir: string, o: Required<PostfixOptions>): string {
  const lines = [
    '# private Postfix instance for a Postern interoperability test',
    'compatibility_level = 3.6',
    `queue_directory = ${dir}/spool`,
    `data_directory = ${dir}/data`,
    'mail_owner = postfix',
    'setgid_group = postdrop',
    `myhostname = ${o.hostname}`,
    `mydomain = ${o.domain}`,
    'myorigin = $mydomain',
    // The domain is a virtual mailbox domain, so it must not be in mydestination too.
    'mydestination =',
    'relay_domains =',
    // Postfix refuses an inet_interfaces address that no interface carries, and lo carries only
    // 127.0.0.1/8: the smtpd line of master.cf names the instance's own address instead.
    'inet_interfaces = loopback-only',
    'inet_protocols = ipv4',
    'mynetworks =',
    // No DNS anywhere: Postfix must never ask the system resolver, which leads off the machine.
    'smtpd_peername_lookup = no',
    'smtp_dns_support_level = disabled',
    'smtp_host_lookup = native',
    'alias_maps =',
    'alias_database =',
    'local_recipient_maps =',
    'biff = no',
    'append_dot_mydomain = no',
    `maillog_file = ${dir}/maillog`,
    `maillog_file_prefixes = ${dir}`,
    `virtual_mailbox_domains = ${o.domain}`,
    `virtual_mailbox_base = ${dir}/mail`,
    `virtual_mailbox_maps = inline:{ ${o.mailboxes.map((m) => `${m}@${o.domain}=${m}/`).join(', ')} }`,
    `virtual_uid_maps = static:${MAILBOX_ID}`,
    `virtual_gid_maps = static:${MAILBOX_ID}`,
    'smtpd_relay_restrictions = reject_unauth_destination',
  ];
  if (o.tls) {
    lines.push('smtpd_tls_security_level = may', `smtpd_tls_cert_file = ${dir}/etc/cert.pem`, `smtpd_tls_key_file = ${dir}/etc/key.pem`, 'smtpd_tls_received_header = yes');
  }
  return lines.join('\n') + '\n';
}

function masterCf(o: Required<PostfixOptions>): string {
  // chroot "n" everywhere: the instance's folders are outside any chroot jail.
  return `${o.address}:${o.port} inet n - n - - smtpd
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
proxywrite unix -       -       n       -       1       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
local     unix  -       n       n       -       -       local
virtual   unix  -       n       n       -       -       virtual
lmtp      unix  -       -       n       -       -       lmtp
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
`;
}

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function listening(address: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host: address, port });
    const done = (ok: boolean) => {
      s.destroy();
      resolve(ok);
    };
    s.setTimeout(500, () => done(false));
    // The greeting proves smtpd itself answers, not just master's listening socket.
    s.once('data', () => {
      s.end('QUIT\r\n');
      done(true);
    });
    s.once('error', () => done(false));
  });
}

function masterPid(dir: string): number | null {
  try {
    const pid = Number(readFileSync(join(dir, 'spool', 'pid', 'master.pid'), 'utf8').trim());
    return Number.isInteger(pid) && pid > 0 ? pid : null;
  } catch {
    return null;
  }
}

/** Process ids whose parent is `pid`, from /proc (no ps needed). */
function childrenOf(pid: number): number[] {
  const out: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      // The fields after the command name, which is in parentheses and may hold spaces.
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[1]) === pid) out.push(Number(name));
    } catch {
      // The process ended while we looked.
    }
  }
  return out;
}

/**
 * postfix(1) writes its complaints to stderr only when that is a terminal (else to syslog, which
 * may not run here): `postfix check` under script(1) shows them.
 */
async function whyNot(dir: string): Promise<string> {
  if (!existsSync('/usr/bin/script')) return '';
  const r = await run('/usr/bin/script', ['-qc', `${POSTFIX} -c ${join(dir, 'etc')} check`, '/dev/null'], { timeout: 10_000 }).catch((e: { stdout?: string }) => ({ stdout: e.stdout ?? '' }));
  return r.stdout;
}

export async function startPostfix(options: PostfixOptions): Promise<PrivatePostfix> {
  const reason = postfixUnavailable();
  if (reason !== null) throw new Error(reason);
  const o: Required<PostfixOptions> = { hostname: `mx.${options.domain}`, tls: true, ...options };
  const dir = tempDir('postfix');
  // Postfix's daemons run as postfix and nobody: they must be able to walk down from the temp dir.
  chmodSync(dir, 0o755);
  for (const d of ['etc', 'spool', 'data', 'mail']) mkdirSync(join(dir, d), { recursive: true });
  const uid = await run('id', ['-u', 'postfix']).then((r) => Number(r.stdout.trim()));
  const gid = await run('id', ['-g', 'postfix']).then((r) => Number(r.stdout.trim()));
  chownSync(join(dir, 'data'), uid, gid);
  for (const m of o.mailboxes) {
    for (const sub of ['', 'tmp', 'new', 'cur']) mkdirSync(join(dir, 'mail', m, sub), { recursive: true });
    for (const sub of ['', 'tmp', 'new', 'cur']) chownSync(join(dir, 'mail', m, sub), MAILBOX_ID, MAILBOX_ID);
  }
  chownSync(join(dir, 'mail'), MAILBOX_ID, MAILBOX_ID);
  if (o.tls) {
    const pems = await generate([{ name: 'commonName', value: o.hostname }], { keySize: 2048, algorithm: 'sha256' });
    writeFileSync(join(dir, 'etc', 'cert.pem'), pems.cert);
    writeFileSync(join(dir, 'etc', 'key.pem'), pems.private, { mode: 0o600 });
  }
  writeFileSync(join(dir, 'etc', 'main.cf'), mainCf(dir, o));
  writeFileSync(join(dir, 'etc', 'master.cf'), masterCf(o));

  const log = (): string => {
    try {
      return readFileSync(join(dir, 'maillog'), 'utf8');
    } catch {
      return '';
    }
  };
  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    const master = masterPid(dir);
    if (master === null || !alive(master)) return;
    const children = childrenOf(master);
    await run(POSTFIX, ['-c', join(dir, 'etc'), 'stop'], { timeout: 10_000 }).catch(() => undefined);
    // Bounded: master gets 5 s to take its children down, then each recorded process is killed.
    for (let i = 0; i < 100 && alive(master); i++) await pause(50);
    for (const pid of [master, ...children]) {
      if (alive(pid)) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // Gone meanwhile.
        }
      }
    }
  };

  try {
    await run(POSTCONF, ['-c', join(dir, 'etc'), '-n'], { timeout: 10_000 });
    await run(POSTFIX, ['-c', join(dir, 'etc'), 'start'], { timeout: 30_000 });
    let up = false;
    for (let i = 0; i < 100 && !up; i++) {
      up = await listening(o.address, o.port);
      if (!up) await pause(100);
    }
    if (!up) throw new Error(`Postfix did not answer on ${o.address}:${o.port}`);
  } catch (err) {
    await stop();
    const detail = err instanceof Error ? err.message : String(err);
    throw new Error(`the private Postfix in ${dir} did not start: ${detail}\n${await whyNot(dir)}${log()}`, { cause: err });
  }

  return {
    dir,
    newMessages: (localPart) => {
      const newDir = join(dir, 'mail', localPart, 'new');
      return existsSync(newDir) ? readdirSync(newDir).map((f) => join(newDir, f)) : [];
    },
    log,
    stop,
  };
}
