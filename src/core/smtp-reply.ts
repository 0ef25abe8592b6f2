/**
 * SMTP replies as values (RFC 5321 §4.2) with enhanced status codes (RFC 3463, RFC 2034). A handler
 * anywhere in the server throws `SmtpReplyError`; the session loop turns it into the reply in one
 * place. Replies that the code uses by name live in `Reply` so a code and its enhanced code never
 * drift apart.
 */

export interface SmtpReply {
  /** Three digits, 200-599. */
  code: number;
  /** "x.y.z" (RFC 3463), or null for replies that carry none (the greeting, EHLO). */
  enhanced: string | null;
  /** The text, one entry per line; at least one (it may be empty). */
  lines: string[];
}

export function reply(code: number, enhanced: string | null, ...lines: string[]): SmtpReply {
  return { code, enhanced, lines: lines.length === 0 ? [''] : lines };
}

/** A reply on the wire: "250-a\r\n250 b\r\n", each line carrying the enhanced code (RFC 2034 §4). */
export function formatReply(r: SmtpReply): string {
  const prefix = r.enhanced === null ? '' : `${r.enhanced} `;
  const lines = r.lines.length === 0 ? [''] : r.lines;
  return lines.map((text, i) => `${r.code}${i === lines.length - 1 ? ' ' : '-'}${prefix}${text}`.trimEnd() + '\r\n').join('');
}

export function isTemporaryReply(r: SmtpReply): boolean {
  return r.code >= 400 && r.code < 500;
}

export function isPermanentReply(r: SmtpReply): boolean {
  return r.code >= 500;
}

/** One line for logs and queue records: "550 5.1.1 no such user". */
export function replyText(r: SmtpReply): string {
  return `${r.code}${r.enhanced === null ? '' : ` ${r.enhanced}`} ${r.lines.join(' / ')}`.trimEnd();
}

export class SmtpReplyError extends Error {
  readonly reply: SmtpReply;
  /** Close the connection after sending the reply (421, too many errors). */
  readonly close: boolean;

  constructor(r: SmtpReply, options?: { close?: boolean; cause?: unknown }) {
    super(replyText(r), options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'SmtpReplyError';
    this.reply = r;
    this.close = options?.close ?? false;
  }
}

/** Replies used by name. Text may be replaced per use with `withText`. */
export const Reply = {
  Ok: reply(250, '2.0.0', 'OK'),
  SenderOk: reply(250, '2.1.0', 'sender OK'),
  RecipientOk: reply(250, '2.1.5', 'recipient OK'),
  StartData: reply(354, null, 'end data with <CR><LF>.<CR><LF>'),
  Closing: reply(221, '2.0.0', 'bye'),
  ReadyForTls: reply(220, '2.0.0', 'ready to start TLS'),
  ServiceUnavailable: reply(421, '4.3.0', 'service not available, closing the connection'),
  TooManyConnections: reply(421, '4.7.0', 'too many connections from your address, try again later'),
  TimeOut: reply(421, '4.4.2', 'idle for too long, closing the connection'),
  LocalError: reply(451, '4.3.0', 'local error, try again later'),
  TooManyRecipients: reply(452, '4.5.3', 'too many recipients'),
  InsufficientStorage: reply(452, '4.3.1', 'insufficient system storage'),
  SyntaxError: reply(500, '5.5.2', 'syntax error'),
  LineTooLong: reply(500, '5.5.6', 'line too long'),
  ParameterSyntax: reply(501, '5.5.4', 'syntax error in parameters'),
  NotImplemented: reply(502, '5.5.1', 'command not implemented'),
  BadSequence: reply(503, '5.5.1', 'bad sequence of commands'),
  ParameterNotImplemented: reply(504, '5.5.4', 'parameter not implemented'),
  AuthRequired: reply(530, '5.7.0', 'authentication required'),
  MustIssueStartTls: reply(530, '5.7.0', 'must issue a STARTTLS command first'),
  NoSuchUser: reply(550, '5.1.1', 'no such user here'),
  RelayDenied: reply(550, '5.7.1', 'relaying denied'),
  BareNewline: reply(550, '5.6.0', 'message contains a bare CR or LF: lines must end with CRLF'),
  MessageTooBig: reply(552, '5.3.4', 'message exceeds the fixed size limit'),
  MailboxNameNotAllowed: reply(553, '5.1.3', 'bad address syntax'),
  TransactionFailed: reply(554, '5.0.0', 'transaction failed'),
  MailLoop: reply(554, '5.4.6', 'too many Received headers: mail loop'),
} as const satisfies Record<string, SmtpReply>;

export function withText(r: SmtpReply, ...lines: string[]): SmtpReply {
  return { ...r, lines };
}
