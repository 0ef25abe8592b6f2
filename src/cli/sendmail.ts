/**
 * `postern sendmail`: the local submission program every Unix MTA provides as /usr/sbin/sendmail,
 * for cron jobs, scripts and programs that "send mail" by piping a message into it. The message
 * comes on standard input, the recipients on the command line (or, with -t, from its To, Cc and
 * Bcc fields); it is completed as a mail server would (From, Date, Message-ID when missing, a
 * Received field of our own, Bcc removed), each recipient is routed like mail from a trusted user,
 * and the message is committed to the queue that the running server delivers from.
 *
 * Options follow Postfix's sendmail(1): the ones that only made sense to the original sendmail
 * (-oem, -odq, -B8BITMIME, -h, -L, …) are accepted and ignored, so existing callers keep working;
 * the modes we do not offer (-bs, -bp, -q, -I) are refused with EX_USAGE. Exit statuses are
 * sysexits(3) values, which callers of sendmail test for.
 */
import { normalizeDomain, domainNameProblem } from '../core/domain-name.ts';
import { errorText } from '../core/errors.ts';
import { createLogger } from '../core/logger.ts';
import { replyText } from '../core/smtp-reply.ts';
import type { Config, DomainConfig } from '../config/schema.ts';
import { routeRecipient } from '../delivery/router.ts';
import { foldHeaderField, unfoldHeader } from '../message/headers.ts';
import { newMessageId, newQueueId } from '../message/message-id.ts';
import { formatRfc5322Date } from '../message/received.ts';
import { openConfiguredStore } from '../main.ts';
import { mergeDomains } from '../delivery/domains.ts';
import type { DsnRet, NewRecipient, Store } from '../store/types.ts';
import { commandConfig } from './format.ts';
import { readStdin, type Io } from './io.ts';

/** sysexits(3). */
export const SendmailExit = {
  Ok: 0,
  /** A recipient the router refuses (no such user, relay trick): named on stderr. */
  Rejected: 1,
  Usage: 64,
  DataErr: 65,
  Software: 70,
  TempFail: 75,
  Config: 78,
} as const;

export interface SendmailOptions {
  /** From -f/-r: the envelope sender as given ('' for <>), or null for the default. */
  sender: string | null;
  /** -F: the full name used when a From field has to be added. */
  fullName: string | null;
  /** -t: recipients from To, Cc and Bcc too. */
  extractRecipients: boolean;
  /** -i, -oi: a line with a single "." is data, not the end of the message. */
  ignoreDots: boolean;
  /** -N: RFC 3461 NOTIFY for every recipient. */
  notify: string[] | null;
  /** -R: RFC 3461 RET. */
  ret: DsnRet | null;
  /** -V: RFC 3461 ENVID. */
  envid: string | null;
  /** -c FILE, --config FILE (and sendmail's -C FILE): our config file. */
  config: string | undefined;
  help: boolean;
  /** -v: say what was done (the queue id). Quiet otherwise, as sendmail is: cron mails any output. */
  verbose: boolean;
  /** The recipient arguments, as given (each may be a comma-separated list). */
  recipients: string[];
}

/** What an empty command line means. */
export function defaultSendmailOptions(): SendmailOptions {
  return { sender: null, fullName: null, extractRecipients: false, ignoreDots: false, notify: null, ret: null, envid: null, config: undefined, help: false, verbose: false, recipients: [] };
}

export type ParsedArgs = { kind: 'ok'; options: SendmailOptions } | { kind: 'error'; message: string };

// Postfix's getopt string is "B:C:F:GIL:N:O:R:UV:X:b:ce:f:h:imno:p:r:q:tvx"; ours is the same with
// -c taking our config file.
const WITH_ARGUMENT = new Set(['B', 'C', 'F', 'L', 'N', 'O', 'R', 'V', 'X', 'b', 'c', 'e', 'f', 'h', 'o', 'p', 'r']);
const FLAGS = new Set(['G', 'I', 'U', 'i', 'm', 'n', 't', 'v', 'x', 'q']);

/**
 * Reads sendmail's command line the way getopt does (options and recipients may be mixed, "--"
 * ends the options, flags combine: "-ti", an argument may follow directly: "-fuser@example.test").
 */
export function parseSendmailArgs(args: readonly string[]): ParsedArgs {
  const o = defaultSendmailOptions();
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] ?? '';
    if (arg === '--') {
      o.recipients.push(...args.slice(i + 1));
      break;
    }
    if (arg === '--help') {
      o.help = true;
      continue;
    }
    if (arg === '--config' || arg.startsWith('--config=')) {
      const value = arg === '--config' ? args[++i] : arg.slice('--config='.length);
      if (value === undefined || value === '') return { kind: 'error', message: '--config needs a file' };
      o.config = value;
      continue;
    }
    if (arg.startsWith('--')) return { kind: 'error', message: `unknown option ${arg}` };
    if (!arg.startsWith('-') || arg === '-') {
      o.recipients.push(arg);
      continue;
    }
    for (let j = 1; j < arg.length; j++) {
      const flag = arg[j] ?? '';
      if (FLAGS.has(flag)) {
        if (flag === 't') o.extractRecipients = true;
        else if (flag === 'v') o.verbose = true;
        else if (flag === 'i') o.ignoreDots = true;
        else if (flag === 'I') return { kind: 'error', message: '-I (newaliases) is not offered: aliases live in the store (postern alias add)' };
        else if (flag === 'q') return { kind: 'error', message: '-q (queue run) is not offered: use postern queue retry --all' };
        continue;
      }
      if (!WITH_ARGUMENT.has(flag)) return { kind: 'error', message: `unknown option -${flag}` };
      const rest = arg.slice(j + 1);
      const value = rest !== '' ? rest : args[++i];
      if (value === undefined) return { kind: 'error', message: `-${flag} needs a value` };
      const problem = applyOption(o, flag, value);
      if (problem !== null) return { kind: 'error', message: problem };
      break;
    }
  }
  return { kind: 'ok', options: o };
}

function applyOption(o: SendmailOptions, flag: string, value: string): string | null {
  switch (flag) {
    case 'f':
    case 'r':
      o.sender = value.trim().replace(/^<(.*)>$/, '$1');
      return null;
    case 'F':
      o.fullName = value;
      return null;
    case 'c':
    case 'C':
      o.config = value;
      return null;
    case 'o':
      // -oi as -i; every other -o (-oem, -odq, -odb, -om, -o7, -o8) is the old sendmail's business.
      if (value === 'i') o.ignoreDots = true;
      return null;
    case 'b':
      if (value === 'm') return null;
      return `-b${value} is not offered: only -bm (deliver mail, the default)${value === 'p' ? '; to list the queue: postern queue list' : ''}`;
    case 'N': {
      // RFC 3461 §4.1: "never", or any of success, failure, delay.
      const words = value.toLowerCase().split(',').map((w) => w.trim());
      const ok = (words.length === 1 && words[0] === 'never') || words.every((w) => w === 'success' || w === 'failure' || w === 'delay');
      if (!ok) return `-N ${value}: give "never" or a list of success, failure, delay`;
      o.notify = words.map((w) => w.toUpperCase());
      return null;
    }
    case 'R': {
      const ret = value.toLowerCase();
      if (ret !== 'full' && ret !== 'hdrs') return `-R ${value}: give full or hdrs`;
      o.ret = ret;
      return null;
    }
    case 'V':
      o.envid = value;
      return null;
    default:
      // -B body type, -L log label, -O option, -X log file, -e error mode, -h hop count, -p protocol.
      return null;
  }
}

// ---------------------------------------------------------------------------------------------
// The message

export interface InputMessage {
  /** Header fields, each its lines (a field and its continuation lines), as latin1 text. */
  fields: string[][];
  /** Body lines, as latin1 text. */
  body: string[];
}

const FIELD_START = /^[\x21-\x39\x3b-\x7e]+[ \t]*:/;

/**
 * The message as the caller wrote it, in lines: any line ending (LF, CRLF, a lone CR) is a line
 * break; a leading mbox "From " line is dropped; unless `ignoreDots`, a line of a single "." ends
 * the input. The header section ends at the first line that is neither a field nor a continuation
 * (a script that writes no header at all gets an empty one, its text the body). Bytes are kept as
 * latin1 characters, one per byte, so 8-bit text passes through unchanged.
 */
export function readInputMessage(input: Uint8Array, options: { ignoreDots: boolean }): InputMessage {
  let lines = Buffer.from(input.buffer, input.byteOffset, input.byteLength).toString('latin1').split(/\r\n|\r|\n/);
  if (lines[lines.length - 1] === '') lines.pop();
  if (lines[0]?.startsWith('From ') === true) lines.shift();
  if (!options.ignoreDots) {
    const dot = lines.indexOf('.');
    if (dot >= 0) lines = lines.slice(0, dot);
  }
  const fields: string[][] = [];
  let i = 0;
  for (; i < lines.length; i++) {
    const line = lines[i] ?? '';
    if (line === '') {
      i++;
      break;
    }
    const last = fields[fields.length - 1];
    if ((line.startsWith(' ') || line.startsWith('\t')) && last !== undefined) last.push(line);
    else if (FIELD_START.test(line)) fields.push([line]);
    else break;
  }
  return { fields, body: lines.slice(i) };
}

function fieldName(field: readonly string[]): string {
  const first = field[0] ?? '';
  return first.slice(0, first.indexOf(':')).trim().toLowerCase();
}

/** The unfolded value of a field, its bytes read as UTF-8. */
function fieldValue(field: readonly string[]): string {
  const raw = Buffer.from(field.join('\r\n'), 'latin1').toString('utf8');
  return unfoldHeader(raw.slice(raw.indexOf(':') + 1)).trim();
}

/**
 * The addresses of an RFC 5322 §3.4 address list: "Ann <ann@example.test>, bob@example.test (Bob),
 * team: carl@example.test;". Display names, comments and group names are dropped, an obsolete
 * source route ("<@relay:user@host>") is stripped. Never throws; what is no address is skipped.
 */
export function parseAddressList(value: string): string[] {
  const out: string[] = [];
  let plain = ''; // the addr-spec written without angle brackets, white space outside quotes dropped
  let angle: string | null = null;
  let inAngle = false;
  let quoted = false;
  let comment = 0;
  const finish = (): void => {
    const a = (angle ?? plain).replace(/^@[^:]*:/, '').trim();
    if (a !== '') out.push(a);
    plain = '';
    angle = null;
  };
  for (let i = 0; i < value.length; i++) {
    const c = value[i] ?? '';
    if (quoted) {
      if (c === '\\') {
        if (inAngle) angle += c + (value[i + 1] ?? '');
        else plain += c + (value[i + 1] ?? '');
        i++;
        continue;
      }
      if (c === '"') quoted = false;
      if (inAngle) angle += c;
      else plain += c;
      continue;
    }
    if (comment > 0) {
      if (c === '\\') i++;
      else if (c === '(') comment++;
      else if (c === ')') comment--;
      continue;
    }
    if (c === '(') comment = 1;
    else if (c === '"') {
      quoted = true;
      if (inAngle) angle += c;
      else plain += c;
    } else if (inAngle) {
      if (c === '>') inAngle = false;
      else if (!/\s/.test(c)) angle += c;
    } else if (c === '<') {
      inAngle = true;
      angle = '';
    } else if (c === ',' || c === ';') finish();
    else if (c === ':') plain = ''; // a group's display name
    else if (!/\s/.test(c)) plain += c;
    else if (angle === null && plain !== '' && !plain.includes('@')) plain += ' '; // words of a display name
  }
  finish();
  // A display name without an address ("Ann" alone) is no address; an addr-spec has no spaces.
  return out.filter((a) => !a.includes(' ') || a.startsWith('"'));
}

/** RFC 5322 §3.4 display name: an atom-ish phrase as is, else a quoted string; UTF-8 as an encoded word (RFC 2047). */
function displayName(name: string): string {
  if (/[^\x20-\x7e]/.test(name)) return `=?utf-8?B?${Buffer.from(name, 'utf8').toString('base64')}?=`;
  if (/^[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~ ]*$/.test(name)) return name.trim();
  return `"${name.replace(/["\\]/g, '\\$&')}"`;
}

export interface ComposeOptions {
  message: InputMessage;
  /** The envelope sender ('' for <>) and the From to add when there is none. */
  sender: string;
  from: string;
  fullName: string | null;
  hostname: string;
  queueId: string;
  now: number;
  /** Minutes east of UTC for the dates we write. */
  offsetMinutes: number;
  /** The one recipient, for Received's "for" clause; none when there are several. */
  singleRecipient?: string;
}

/**
 * The message as it enters the queue: our Received field on top, the caller's fields without Bcc,
 * From, Date and Message-ID added at the end of the header when missing (as Postfix's cleanup
 * does), an empty line, the body; every line ending CRLF.
 */
export function composeMessage(o: ComposeOptions): Uint8Array {
  const kept = o.message.fields.filter((f) => fieldName(f) !== 'bcc' && fieldName(f) !== 'resent-bcc');
  const has = (name: string): boolean => o.message.fields.some((f) => fieldName(f) === name);
  const date = formatRfc5322Date(new Date(o.now), { offsetMinutes: o.offsetMinutes });
  const forClause = o.singleRecipient === undefined ? '' : ` for <${o.singleRecipient}>`;
  const head: string[] = [foldHeaderField('Received', `by ${o.hostname} (Postern sendmail) id ${o.queueId}${forClause}; ${date}`)];
  for (const f of kept) head.push(f.join('\r\n'));
  if (!has('from')) {
    const name = o.fullName === null || o.fullName.trim() === '' ? null : displayName(o.fullName);
    head.push(Buffer.from(foldHeaderField('From', name === null ? o.from : `${name} <${o.from}>`), 'utf8').toString('latin1'));
  }
  if (!has('date')) head.push(`Date: ${date}`);
  if (!has('message-id')) head.push(`Message-ID: ${newMessageId({ hostname: o.hostname, now: o.now })}`);
  const text = [...head, '', ...o.message.body].join('\r\n') + '\r\n';
  return new Uint8Array(Buffer.from(text, 'latin1'));
}

/** The recipients -t finds: To, Cc and Bcc, or their Resent- forms when the message has any (RFC 5322 §3.6.6). */
export function headerRecipients(message: InputMessage): string[] {
  const resent = message.fields.some((f) => ['resent-to', 'resent-cc', 'resent-bcc'].includes(fieldName(f)));
  const names = resent ? ['resent-to', 'resent-cc', 'resent-bcc'] : ['to', 'cc', 'bcc'];
  return message.fields.filter((f) => names.includes(fieldName(f))).flatMap((f) => parseAddressList(fieldValue(f)));
}

// ---------------------------------------------------------------------------------------------
// The command

const USAGE = `usage: postern sendmail [-f SENDER] [-F NAME] [-t] [-i] [-N NOTIFY] [-R full|hdrs] [-V ENVID] [-c CONFIG] [RECIPIENT...] < message
  -f, -r SENDER   the envelope sender (default: postmaster@ the first primary domain, else root@ the hostname)
  -F NAME         the full name for the From field, when the message has none
  -t              also send to the addresses in To, Cc and Bcc (Bcc is removed from the message in any case)
  -i, -oi         a line with a single "." does not end the message
  -N, -R, -V      DSN: NOTIFY (never, or success,failure,delay), RET, ENVID (RFC 3461)
  -c, --config F  the Postern config file
  Ignored for compatibility: -B -L -O -X -e -h -p -o* -G -U -m -n -v -x -bm
  A recipient without a domain gets the default one ("root" is root@ the first primary domain).
`;

/** The node's first primary domain (config file first, then the store's), if any. */
interface Origin {
  hostname: string;
  primary: string | undefined;
}

/** The domain for addresses written without one (Postfix's myorigin). */
function defaultDomain(origin: Origin): string {
  return origin.primary ?? origin.hostname;
}

/** The sender when -f is not given. */
export function defaultSender(origin: Origin): string {
  return origin.primary === undefined ? `root@${origin.hostname}` : `postmaster@${origin.primary}`;
}

/** "user" → "user@default.domain"; null when it is no usable address. */
function qualify(address: string, origin: Origin): { local: string; domain: string } | null {
  const a = address.trim().replace(/^<(.*)>$/, '$1');
  const at = a.lastIndexOf('@');
  const local = at < 0 ? a : a.slice(0, at);
  const domain = at < 0 ? defaultDomain(origin) : normalizeDomain(a.slice(at + 1));
  if (local === '' || /[\s<>,;]/.test(local.replace(/^"[^"]*"$/, '')) || domainNameProblem(domain) !== null) return null;
  return { local, domain };
}

export async function sendmailCommand(args: readonly string[], io: Io): Promise<number> {
  const err = (message: string, status: number): number => {
    io.stderr.write(`postern sendmail: ${message}\n`);
    return status;
  };
  const parsed = parseSendmailArgs(args);
  if (parsed.kind === 'error') return err(`${parsed.message}\n${USAGE}`, SendmailExit.Usage);
  const o = parsed.options;
  if (o.help) {
    io.stdout.write(USAGE);
    return SendmailExit.Ok;
  }

  let config: Config;
  try {
    config = commandConfig({ config: o.config }, io);
  } catch (e) {
    return err(errorText(e), SendmailExit.Config);
  }

  // One open for the whole command: the store's domains (`postern domain add`) count as the config
  // file's do for the default domain and routing, and the store takes the message. A store that
  // cannot be opened is reported after the usage checks, as a temporary failure.
  let store: Store | null = null;
  let storeFailure: unknown = null;
  try {
    store = await openConfiguredStore(config, createLogger({ level: config.log.level === 'debug' ? 'debug' : 'silent' }));
  } catch (e) {
    storeFailure = e;
  }
  try {
    let domains: readonly DomainConfig[] = config.domains;
    if (store !== null) {
      try {
        domains = mergeDomains(config.domains, await store.listDomains()).domains;
      } catch (e) {
        storeFailure = e;
      }
    }
    const origin: Origin = { hostname: config.hostname, primary: domains.find((d) => d.role === 'primary')?.name };
    let sender = defaultSender(origin);
    if (o.sender !== null) {
      if (o.sender === '') sender = '';
      else {
        const s = qualify(o.sender, origin);
        if (s === null) return err(`-f ${o.sender}: not an address`, SendmailExit.Usage);
        sender = `${s.local}@${s.domain}`;
      }
    }

    const wanted: Array<{ text: string; fromHeader: boolean }> = [];
    for (const arg of o.recipients) for (const a of parseAddressList(arg)) wanted.push({ text: a, fromHeader: false });
    if (wanted.length === 0 && !o.extractRecipients) return err(`no recipients given (name them, or use -t to take them from the message)\n${USAGE}`, SendmailExit.Usage);

    let input: Uint8Array;
    try {
      input = await readStdin(io);
    } catch (e) {
      return err(`cannot read the message: ${errorText(e)}`, SendmailExit.TempFail);
    }
    const message = readInputMessage(input, { ignoreDots: o.ignoreDots });
    if (o.extractRecipients) for (const a of headerRecipients(message)) wanted.push({ text: a, fromHeader: true });
    if (wanted.length === 0) return err('no recipient addresses found in the message header (To, Cc, Bcc)', SendmailExit.DataErr);

    const addresses: Array<{ local: string; domain: string; given: string }> = [];
    for (const w of wanted) {
      const q = qualify(w.text, origin);
      if (q === null) return err(`${w.text}: not an address${w.fromHeader ? ' (in the message header)' : ''}`, w.fromHeader ? SendmailExit.DataErr : SendmailExit.Usage);
      addresses.push({ ...q, given: w.text });
    }
    if (store === null || storeFailure !== null) return err(`cannot open the store: ${errorText(storeFailure)}`, SendmailExit.TempFail);
    try {
      const recipients = new Map<string, NewRecipient>();
      const rejected: string[] = [];
      for (const a of addresses) {
        // A local user is trusted to send anywhere, as with authenticated submission.
        const r = await routeRecipient({ local: a.local, domain: a.domain }, { domains, accounts: store }, { mayRelay: true });
        if (r.kind === 'reject') {
          rejected.push(`${a.local}@${a.domain}: ${replyText(r.reply)}`);
          continue;
        }
        for (const f of r.recipients) {
          const key = f.address.toLowerCase();
          if (!recipients.has(key)) recipients.set(key, { address: f.address, domain: f.domain, route: f.route, ...(o.notify === null ? {} : { notify: o.notify }) });
        }
      }
      if (rejected.length > 0) return err(`refused, nothing was queued:\n  ${rejected.join('\n  ')}`, SendmailExit.Rejected);

      const now = Date.now();
      const id = newQueueId({ now });
      const only = recipients.size === 1 ? [...recipients.values()][0]?.address : undefined;
      const data = composeMessage({
        message,
        sender,
        from: sender === '' ? defaultSender(origin) : sender,
        fullName: o.fullName,
        hostname: config.hostname,
        queueId: id,
        now,
        offsetMinutes: -new Date(now).getTimezoneOffset(),
        ...(only === undefined ? {} : { singleRecipient: only }),
      });
      if (data.length > config.smtp.maxMessageSize) {
        return err(`the message is too large: ${data.length} bytes, smtp.max_message_size is ${config.smtp.maxMessageSize}`, SendmailExit.DataErr);
      }
      try {
        await store.enqueue({
          id,
          receivedAt: now,
          sender,
          data,
          source: 'local',
          recipients: [...recipients.values()],
          ...(o.envid === null ? {} : { envid: o.envid }),
          ...(o.ret === null ? {} : { ret: o.ret }),
        });
      } catch (e) {
        return err(`the message could not be queued, try again: ${errorText(e)}`, SendmailExit.TempFail);
      }
      if (o.verbose) io.stdout.write(`queued as ${id}\n`);
      return SendmailExit.Ok;
    } catch (e) {
      // The store failed while routing (locked, unreadable): the caller should try again.
      return err(`temporary failure, nothing was queued: ${errorText(e)}`, SendmailExit.TempFail);
    }
  } finally {
    await store?.close();
  }
}
