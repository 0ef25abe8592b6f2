/**
 * SMTP commands (RFC 5321 §4.1.1) and LMTP's LHLO (RFC 2033 §4.1) parsed from one line into a
 * discriminated union, or into the reply to send when the line is not a command we accept. Verbs
 * are case-insensitive; arguments keep their case. Parsing never throws and never consults state
 * beyond what the caller passes (whether the transaction uses SMTPUTF8, for RCPT TO).
 */
import { reply, Reply, withText } from '../../core/smtp-reply.ts';
import type { SmtpReply } from '../../core/smtp-reply.ts';
import { NON_ASCII_REASON, parsePath } from './mailbox.ts';
import type { Mailbox } from './mailbox.ts';
import { parseMailParams, parseRcptParams } from './params.ts';
import type { MailParams, RcptParams } from './params.ts';

export type Verb =
  | 'EHLO'
  | 'HELO'
  | 'LHLO'
  | 'MAIL'
  | 'RCPT'
  | 'DATA'
  | 'BDAT'
  | 'RSET'
  | 'NOOP'
  | 'QUIT'
  | 'VRFY'
  | 'HELP'
  | 'STARTTLS'
  | 'AUTH';

export type Command =
  | { verb: 'EHLO' | 'HELO' | 'LHLO'; domain: string }
  | { verb: 'MAIL'; sender: Mailbox | null; params: MailParams }
  | { verb: 'RCPT'; recipient: Mailbox; params: RcptParams }
  | { verb: 'DATA' }
  /** RFC 3030 §2: the chunk size in octets and whether it is the last chunk. */
  | { verb: 'BDAT'; size: number; last: boolean }
  | { verb: 'RSET' }
  | { verb: 'NOOP' }
  | { verb: 'QUIT' }
  | { verb: 'VRFY'; argument: string }
  | { verb: 'HELP'; argument: string }
  | { verb: 'STARTTLS' }
  /** RFC 4954 §4: the mechanism (upper-cased) and the initial response, if any. */
  | { verb: 'AUTH'; mechanism: string; initialResponse: string | null };

export type CommandResult =
  | { kind: 'command'; command: Command }
  /** `verb` is the recognised verb, or null for an unknown command. */
  | { kind: 'error'; verb: Verb | null; reply: SmtpReply };

export interface ParseCommandOptions {
  /** The transaction's MAIL FROM carried SMTPUTF8: RCPT TO may be UTF-8 (RFC 6531 §3.4). */
  smtputf8?: boolean;
}

/** RFC 3463 X.1.7 / X.1.3: bad sender / destination mailbox address syntax. */
export const AddressReply = {
  BadSender: (why: string): SmtpReply => reply(501, '5.1.7', `bad sender address syntax: ${why}`),
  BadRecipient: (why: string): SmtpReply => reply(501, '5.1.3', `bad recipient address syntax: ${why}`),
  /** RFC 6531 §3.6.1 */
  NonAscii: reply(553, '5.6.7', 'non-ASCII addresses need SMTPUTF8'),
} as const;

const VERBS = new Set<string>(['EHLO', 'HELO', 'LHLO', 'MAIL', 'RCPT', 'DATA', 'BDAT', 'RSET', 'NOOP', 'QUIT', 'VRFY', 'HELP', 'STARTTLS', 'AUTH']);

const fatalUtf8 = new TextDecoder('utf-8', { fatal: true });

/** A line as read off the wire (without CRLF). Invalid UTF-8 is a syntax error. */
export function parseCommandBytes(line: Uint8Array, options: ParseCommandOptions = {}): CommandResult {
  let text: string;
  try {
    text = fatalUtf8.decode(line);
  } catch {
    return { kind: 'error', verb: null, reply: withText(Reply.SyntaxError, 'syntax error: invalid UTF-8') };
  }
  return parseCommand(text, options);
}

export function parseCommand(line: string, options: ParseCommandOptions = {}): CommandResult {
  // Control characters (a bare CR, NUL, …) never belong in a command line (RFC 5321 §4.1.1).
  if (/[\x00-\x08\x0a-\x1f\x7f]/.test(line)) {
    return { kind: 'error', verb: null, reply: withText(Reply.SyntaxError, 'syntax error: control character in command') };
  }
  const space = line.indexOf(' ');
  const word = (space < 0 ? line : line.slice(0, space)).toUpperCase();
  const arg = space < 0 ? '' : line.slice(space + 1);
  if (!VERBS.has(word)) return { kind: 'error', verb: null, reply: withText(Reply.SyntaxError, 'command not recognised') };
  const verb = word as Verb;
  const fail = (r: SmtpReply): CommandResult => ({ kind: 'error', verb, reply: r });
  const noArgs = (command: Command): CommandResult =>
    arg.trim() === '' ? { kind: 'command', command } : fail(withText(Reply.ParameterSyntax, `${verb} takes no arguments`));

  switch (verb) {
    case 'EHLO':
    case 'HELO':
    case 'LHLO': {
      const domain = arg.trim();
      // RFC 5321 §4.1.1.1: one domain or address literal. Names are checked loosely: many
      // clients announce a bare host name, and refusing them gains nothing.
      if (domain === '' || /[\s()\\;"<>]/.test(domain)) {
        return fail(withText(Reply.ParameterSyntax, `${verb} needs your host name`));
      }
      return { kind: 'command', command: { verb, domain } };
    }
    case 'MAIL':
      return parseMail(arg, fail);
    case 'RCPT':
      return parseRcpt(arg, options.smtputf8 === true, fail);
    case 'DATA':
      return noArgs({ verb });
    case 'RSET':
      return noArgs({ verb });
    case 'QUIT':
      return noArgs({ verb });
    case 'STARTTLS':
      return noArgs({ verb });
    case 'NOOP':
      // RFC 5321 §4.1.1.9: an argument is allowed and ignored.
      return { kind: 'command', command: { verb } };
    case 'HELP':
      return { kind: 'command', command: { verb, argument: arg.trim() } };
    case 'VRFY': {
      const argument = arg.trim();
      if (argument === '') return fail(withText(Reply.ParameterSyntax, 'VRFY needs an argument'));
      return { kind: 'command', command: { verb, argument } };
    }
    case 'BDAT': {
      // RFC 3030 §2: "BDAT" SP chunk-size [ SP end-marker ]
      const m = /^(\d{1,15})(?: (LAST))?$/i.exec(arg);
      if (m === null || m[1] === undefined) return fail(withText(Reply.ParameterSyntax, 'BDAT needs a size and optionally LAST'));
      return { kind: 'command', command: { verb, size: Number(m[1]), last: m[2] !== undefined } };
    }
    case 'AUTH': {
      // RFC 4954 §4: AUTH mechanism [initial-response]
      const m = /^([A-Za-z0-9_-]{1,20})(?: ([A-Za-z0-9+/]*={0,2}|=))?$/.exec(arg);
      if (m === null || m[1] === undefined) return fail(withText(Reply.ParameterSyntax, 'AUTH needs a mechanism'));
      return { kind: 'command', command: { verb, mechanism: m[1].toUpperCase(), initialResponse: m[2] ?? null } };
    }
  }
}

/** `FROM:` / `TO:` then optional spaces (tolerated: common in the wild), then the path. */
function afterPrefix(arg: string, prefix: string): number | null {
  if (arg.slice(0, prefix.length).toUpperCase() !== prefix) return null;
  let i = prefix.length;
  while (arg[i] === ' ') i++;
  return i;
}

function parseMail(arg: string, fail: (r: SmtpReply) => CommandResult): CommandResult {
  const at = afterPrefix(arg, 'FROM:');
  if (at === null) return fail(withText(Reply.ParameterSyntax, 'syntax: MAIL FROM:<address>'));
  const path = parsePath(arg, at, { utf8: true, allowNull: true, allowPostmaster: false });
  if (!path.ok) return fail(AddressReply.BadSender(path.reason));
  const rest = arg.slice(path.end);
  if (rest !== '' && !rest.startsWith(' ')) return fail(AddressReply.BadSender('the address must end with >'));
  const params = parseMailParams(rest);
  if (!params.ok) return fail(params.reply);
  if (path.nonAscii && !params.params.smtputf8) return fail(AddressReply.NonAscii);
  return { kind: 'command', command: { verb: 'MAIL', sender: path.mailbox, params: params.params } };
}

function parseRcpt(arg: string, utf8: boolean, fail: (r: SmtpReply) => CommandResult): CommandResult {
  const at = afterPrefix(arg, 'TO:');
  if (at === null) return fail(withText(Reply.ParameterSyntax, 'syntax: RCPT TO:<address>'));
  const path = parsePath(arg, at, { utf8, allowNull: false, allowPostmaster: true });
  if (!path.ok) return fail(path.reason === NON_ASCII_REASON ? AddressReply.NonAscii : AddressReply.BadRecipient(path.reason));
  const rest = arg.slice(path.end);
  if (rest !== '' && !rest.startsWith(' ')) return fail(AddressReply.BadRecipient('the address must end with >'));
  const params = parseRcptParams(rest);
  if (!params.ok) return fail(params.reply);
  if (path.mailbox === null) return fail(AddressReply.BadRecipient('a recipient cannot be <>'));
  return { kind: 'command', command: { verb: 'RCPT', recipient: path.mailbox, params: params.params } };
}

/** A command line for logs, with AUTH credentials hidden. */
export function redactCommandLine(line: string): string {
  const m = /^(AUTH\s+\S+)\s/i.exec(line);
  if (m !== null && m[1] !== undefined) return `${m[1]} ***`;
  return line;
}
