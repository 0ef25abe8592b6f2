/**
 * Delivery status notifications (RFC 3464): the message that tells a sender what became of their
 * mail at each recipient, a bounce when delivery failed for good, a delay notice while it is still
 * being retried, a success report when they asked for one (RFC 3461). A DSN is a
 * `multipart/report; report-type=delivery-status` (RFC 6522) of three parts: an explanation for
 * people, the `message/delivery-status` part for programs, and the original message (or only its
 * header, RET=HDRS).
 *
 * Which notices are sent is decided with `shouldNotify` and `mayNotifySender`; this module builds
 * the bytes and sends nothing.
 */
import { foldHeaderField, has8bit, splitMessage } from './headers.ts';
import { newMessageId } from './message-id.ts';
import type { RandomBytes } from './message-id.ts';
import { formatRfc5322Date } from './received.ts';

/** RFC 3464 §2.3.3. */
export const DsnActions = ['failed', 'delayed', 'delivered', 'relayed', 'expanded'] as const;
export type DsnAction = (typeof DsnActions)[number];

/** RFC 3461 §4.1: the events a NOTIFY parameter names. */
export type NotifyEvent = 'failure' | 'delay' | 'success';

export interface DsnRecipient {
  /** The address we tried to deliver to (Final-Recipient, RFC 3464 §2.3.2). */
  finalRecipient: string;
  /**
   * The ORCPT parameter exactly as given in RCPT TO (RFC 3461 §4.2): "rfc822;user+x2Bx@example",
   * still xtext-encoded; echoed decoded as Original-Recipient.
   */
  originalRecipient?: string;
  action: DsnAction;
  /** RFC 3463 "x.y.z": "5.1.1". */
  status: string;
  /** The host that answered, when one did (Remote-MTA). */
  remoteMta?: string;
  /**
   * What the remote host said, as one line: "550 5.1.1 no such user" (it becomes
   * "Diagnostic-Code: smtp; 550 5.1.1 no such user").
   */
  diagnosticCode?: string;
  lastAttemptDate?: Date;
  /** For action "delayed": when we give up (RFC 3464 §2.3.7). */
  willRetryUntil?: Date;
}

export interface DsnEnvelope {
  /** The envelope sender (MAIL FROM) the DSN goes to, without angle brackets. */
  sender: string;
  /** The ENVID parameter as given in MAIL FROM, still xtext-encoded (RFC 3461 §4.4). */
  envid?: string;
  /** RFC 3461 §4.3; FULL when absent. */
  ret?: 'FULL' | 'HDRS';
}

export interface DsnOptions {
  /** The original message as queued, CRLF line endings. */
  original: Uint8Array;
  envelope: DsnEnvelope;
  /** Our host name: Reporting-MTA, and the domain of MAILER-DAEMON. */
  reportingMta: string;
  /** When the original reached us. */
  arrivalDate: Date;
  recipients: readonly DsnRecipient[];
  /** The DSN's own Date; default now. */
  date?: Date;
  /** Default: a new one at `reportingMta`. */
  messageId?: string;
  /** Where the DSN is addressed; default the envelope sender. The postmaster, for a failed bounce. */
  to?: string;
  /** Our queue id of the original, shown to people and as X-Postern-Queue-Id. */
  queueId?: string;
  /** An original larger than this comes back as its header only (as RET=HDRS). Default 1 MiB. */
  maxOriginalBytes?: number;
  /** Fixed in tests; default random. */
  boundary?: string;
  randomBytes?: RandomBytes;
}

export type DsnKind = 'failure' | 'delay' | 'success';

/** The notice a set of recipients makes: a failure when any failed, else a delay when any is delayed. */
export function dsnKind(recipients: readonly Pick<DsnRecipient, 'action'>[]): DsnKind {
  if (recipients.some((r) => r.action === 'failed')) return 'failure';
  if (recipients.some((r) => r.action === 'delayed')) return 'delay';
  return 'success';
}

const SUBJECTS: Readonly<Record<DsnKind, string>> = {
  failure: 'Undelivered Mail Returned to Sender',
  delay: 'Delivery Status Notification (Delay)',
  success: 'Delivery Status Notification (Success)',
};

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: false });

/** The complete DSN message, CRLF line endings, ready to queue from the null sender `<>`. */
export function buildDsn(o: DsnOptions): Uint8Array {
  const date = o.date ?? new Date();
  const kind = dsnKind(o.recipients);
  const maxOriginal = o.maxOriginalBytes ?? 1024 * 1024;
  const headersOnly = o.envelope.ret === 'HDRS' || o.original.length > maxOriginal;
  const returned = headersOnly ? headerSection(o.original) : o.original;
  const eightBit = has8bit(returned);

  const text = humanText(o, kind, { headersOnly, tooLarge: headersOnly && o.envelope.ret !== 'HDRS' });
  const textBytes = encoder.encode(text);
  const textEightBit = has8bit(textBytes);
  const status = encoder.encode(deliveryStatus(o));
  const statusEightBit = has8bit(status);

  const random = o.randomBytes;
  const boundary = chooseBoundary([returned, textBytes, status], o.boundary, date, random);

  const anyEightBit = eightBit || textEightBit || statusEightBit;
  const to = (o.to ?? o.envelope.sender).replace(/^<|>$/g, '');
  const head = [
    foldHeaderField('From', `Mail Delivery System <MAILER-DAEMON@${o.reportingMta}>`),
    foldHeaderField('To', `<${to}>`),
    foldHeaderField('Subject', SUBJECTS[kind]),
    foldHeaderField('Date', formatRfc5322Date(date)),
    foldHeaderField('Message-ID', o.messageId ?? newMessageId({ hostname: o.reportingMta, now: date.getTime(), ...(random === undefined ? {} : { randomBytes: random }) })),
    // RFC 3834 §5: an automatic reply, so that responders do not answer it.
    foldHeaderField('Auto-Submitted', 'auto-replied'),
    ...(o.queueId === undefined ? [] : [foldHeaderField('X-Postern-Queue-Id', o.queueId)]),
    foldHeaderField('MIME-Version', '1.0'),
    foldHeaderField('Content-Type', `multipart/report; report-type=delivery-status; boundary="${boundary}"`),
    // RFC 2045 §6.4: a multipart's encoding is the widest of its parts'.
    ...(anyEightBit ? [foldHeaderField('Content-Transfer-Encoding', '8bit')] : []),
  ];

  const pieces: Uint8Array[] = [];
  const add = (s: string): void => {
    pieces.push(encoder.encode(s));
  };
  add(`${head.join('\r\n')}\r\n\r\nThis is a MIME-encapsulated message: a delivery status notification.\r\n`);
  add(`\r\n--${boundary}\r\n`);
  add(`Content-Type: text/plain; charset=utf-8\r\nContent-Description: Notification\r\n`);
  add(`Content-Transfer-Encoding: ${textEightBit ? '8bit' : '7bit'}\r\n\r\n`);
  pieces.push(textBytes);
  add(`\r\n--${boundary}\r\n`);
  add(`Content-Type: message/delivery-status\r\nContent-Description: Delivery report\r\n`);
  add(`Content-Transfer-Encoding: ${statusEightBit ? '8bit' : '7bit'}\r\n\r\n`);
  pieces.push(status);
  add(`\r\n--${boundary}\r\n`);
  add(`Content-Type: ${headersOnly ? 'text/rfc822-headers' : 'message/rfc822'}\r\n`);
  add(`Content-Description: ${headersOnly ? 'Header of the undelivered message' : 'Undelivered message'}\r\n`);
  add(`Content-Transfer-Encoding: ${eightBit ? '8bit' : '7bit'}\r\n\r\n`);
  pieces.push(returned);
  // The CRLF before a delimiter belongs to the delimiter (RFC 2046 §5.1.1), so an original that
  // ends in CRLF comes back byte for byte.
  add(`\r\n--${boundary}--\r\n`);
  return concat(pieces);
}

/** The header section with the line ending that closes its last field. */
function headerSection(message: Uint8Array): Uint8Array {
  const { header } = splitMessage(message);
  if (header.length === 0) return header;
  const last = header[header.length - 1];
  if (last === 0x0a) return header;
  return concat([header, encoder.encode('\r\n')]);
}

function chooseBoundary(contents: readonly Uint8Array[], fixed: string | undefined, date: Date, random: RandomBytes | undefined): string {
  const texts = contents.map((c) => decoder.decode(c));
  const taken = (b: string): boolean => texts.some((t) => t.includes(`--${b}`));
  // Ten tries of a random suffix: a collision with 80 random bits is as likely as none at all.
  for (let i = 0; i < 10; i++) {
    const candidate =
      fixed !== undefined && i === 0
        ? fixed
        : `=_postern_${newMessageId({ hostname: 'b', now: date.getTime(), ...(random === undefined ? {} : { randomBytes: random }) }).slice(1, -3)}${i === 0 ? '' : `_${i}`}`;
    if (!taken(candidate)) return candidate;
  }
  return `=_postern_${Date.now()}_${texts.reduce((n, t) => n + t.length, 0)}`;
}

function concat(pieces: readonly Uint8Array[]): Uint8Array {
  let size = 0;
  for (const p of pieces) size += p.length;
  const out = new Uint8Array(size);
  let at = 0;
  for (const p of pieces) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** RFC 3464 §2.2 and §2.3: the per-message block, then one block per recipient. */
function deliveryStatus(o: DsnOptions): string {
  const blocks: string[][] = [];
  const perMessage = [field('Reporting-MTA', `dns; ${o.reportingMta}`)];
  if (o.queueId !== undefined) perMessage.push(field('X-Postern-Queue-ID', o.queueId));
  if (o.envelope.envid !== undefined && o.envelope.envid !== '') perMessage.push(field('Original-Envelope-Id', decodeXtext(o.envelope.envid)));
  perMessage.push(field('Arrival-Date', formatRfc5322Date(o.arrivalDate)));
  blocks.push(perMessage);
  for (const r of o.recipients) {
    const lines: string[] = [];
    const original = r.originalRecipient === undefined ? null : originalRecipientField(r.originalRecipient);
    if (original !== null) lines.push(field('Original-Recipient', original));
    lines.push(field('Final-Recipient', `${addressType(r.finalRecipient)}; ${r.finalRecipient}`));
    lines.push(field('Action', r.action));
    lines.push(field('Status', r.status));
    if (r.remoteMta !== undefined && r.remoteMta !== '') lines.push(field('Remote-MTA', `dns; ${r.remoteMta}`));
    if (r.diagnosticCode !== undefined && r.diagnosticCode !== '') lines.push(field('Diagnostic-Code', `smtp; ${r.diagnosticCode}`));
    if (r.lastAttemptDate !== undefined) lines.push(field('Last-Attempt-Date', formatRfc5322Date(r.lastAttemptDate)));
    if (r.willRetryUntil !== undefined && r.action === 'delayed') lines.push(field('Will-Retry-Until', formatRfc5322Date(r.willRetryUntil)));
    blocks.push(lines);
  }
  return blocks.map((b) => `${b.join('\r\n')}\r\n`).join('\r\n');
}

function field(name: string, value: string): string {
  return foldHeaderField(name, value);
}

/** RFC 6533 §3: an address with non-ASCII characters is of type utf-8. */
function addressType(address: string): string {
  return /[^\x00-\x7f]/.test(address) ? 'utf-8' : 'rfc822';
}

/** "rfc822;a+2Bb@x" -> "rfc822; a+b@x" (RFC 3461 §4.2, RFC 3464 §2.3.1); null when malformed. */
function originalRecipientField(orcpt: string): string | null {
  const semi = orcpt.indexOf(';');
  if (semi <= 0) return null;
  const type = orcpt.slice(0, semi).trim();
  if (!/^[A-Za-z0-9-]+$/.test(type)) return null;
  return `${type}; ${decodeXtext(orcpt.slice(semi + 1).trim())}`;
}

/**
 * RFC 3461 §4: "+" and two upper-case hex digits stand for one byte. A malformed escape is kept
 * as written: this is echoed text, not something to refuse.
 */
export function decodeXtext(text: string): string {
  const bytes: number[] = [];
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x2b && /^[0-9A-Fa-f]{2}$/.test(text.slice(i + 1, i + 3))) {
      bytes.push(Number.parseInt(text.slice(i + 1, i + 3), 16));
      i += 2;
    } else {
      bytes.push(...encoder.encode(text[i] ?? ''));
    }
  }
  // Control characters would break the field they are echoed in.
  return decoder.decode(new Uint8Array(bytes)).replace(/[\x00-\x1f\x7f]/g, '?');
}

/** RFC 3461 §4: every byte outside "!".."~", and "+" and "=", as "+XX". */
export function encodeXtext(text: string): string {
  let out = '';
  for (const b of encoder.encode(text)) {
    out += b < 0x21 || b > 0x7e || b === 0x2b || b === 0x3d ? `+${b.toString(16).toUpperCase().padStart(2, '0')}` : String.fromCharCode(b);
  }
  return out;
}

function humanText(o: DsnOptions, kind: DsnKind, returned: { headersOnly: boolean; tooLarge: boolean }): string {
  const attached = returned.headersOnly ? 'Its header is attached below.' : 'It is attached below.';
  const lines: string[] = [`This is the mail system at host ${o.reportingMta}.`, ''];
  const id = o.queueId === undefined ? '' : ` (queue id ${o.queueId})`;
  if (kind === 'failure') {
    lines.push(`Your message${id} could not be delivered to one or more recipients.`);
    lines.push(attached, '');
  } else if (kind === 'delay') {
    lines.push(`Your message${id} has not been delivered yet to one or more recipients.`);
    lines.push('The mail system will keep trying; you do not need to send it again.', '');
  } else {
    lines.push(`Your message${id} was delivered as you asked to be told.`, '');
  }
  for (const r of o.recipients) {
    lines.push(`<${r.finalRecipient}>: ${ACTION_TEXT[r.action]} (${r.status})`);
    if (r.diagnosticCode !== undefined && r.diagnosticCode !== '') {
      const by = r.remoteMta === undefined || r.remoteMta === '' ? 'the remote server' : r.remoteMta;
      lines.push(`    ${by} said: ${r.diagnosticCode}`);
    } else {
      lines.push(`    ${STATUS_TEXT[r.status.slice(2)] ?? STATUS_CLASS_TEXT[r.status.slice(0, 1)] ?? 'no further detail'}`);
    }
    if (r.action === 'delayed' && r.willRetryUntil !== undefined) lines.push(`    We will keep trying until ${formatRfc5322Date(r.willRetryUntil)}.`);
  }
  if (returned.tooLarge) lines.push('', 'The message was too large to return whole: only its header is attached.');
  return `${lines.map((l) => l.replace(/[\r\n]+/g, ' ')).join('\r\n')}\r\n`;
}

const ACTION_TEXT: Readonly<Record<DsnAction, string>> = {
  failed: 'delivery failed',
  delayed: 'delivery delayed',
  delivered: 'delivered',
  relayed: 'relayed to a host that does not report delivery',
  expanded: 'delivered and forwarded to further recipients',
};

const STATUS_CLASS_TEXT: Readonly<Record<string, string>> = {
  '2': 'success',
  '4': 'a temporary failure',
  '5': 'a permanent failure',
};

/** RFC 3463 §3, the subjects and details that come up in our own decisions. */
const STATUS_TEXT: Readonly<Record<string, string>> = {
  '1.1': 'the mailbox does not exist',
  '1.2': 'the destination domain does not exist or accepts no mail',
  '4.1': 'the destination server did not answer',
  '4.3': 'the destination could not be looked up',
  '4.4': 'no route to the destination',
  '4.6': 'mail loop: the message went round too many hosts',
  '4.7': 'the message was in the queue for too long',
  '3.4': 'the message is too large',
};

/**
 * RFC 3461 §4.1: whether the sender asked to hear about `event` for a recipient. `notify` is the
 * NOTIFY parameter's keywords (any case, commas allowed inside an entry). Absent, the MTA reports
 * failures and delays; NEVER reports nothing.
 */
export function shouldNotify(notify: readonly string[] | undefined, event: NotifyEvent): boolean {
  const words = (notify ?? []).flatMap((n) => n.split(',')).map((n) => n.trim().toUpperCase()).filter((n) => n !== '');
  if (words.length === 0) return event === 'failure' || event === 'delay';
  if (words.includes('NEVER')) return false;
  return words.includes(event.toUpperCase());
}

/** Which NOTIFY event an action reports (RFC 3461 §4.1, §6.2). */
export function notifyEventFor(action: DsnAction): NotifyEvent {
  if (action === 'failed') return 'failure';
  if (action === 'delayed') return 'delay';
  return 'success';
}

/**
 * A DSN may go to this envelope sender: never to the null sender `<>` (RFC 5321 §4.5.5, RFC 3464
 * §2), which is what DSNs themselves are sent from, so two mail systems never bounce at each
 * other. Accepts the sender with or without angle brackets.
 */
export function mayNotifySender(sender: string): boolean {
  return !isNullSender(sender);
}

export function isNullSender(sender: string): boolean {
  const s = sender.trim();
  return s === '' || s === '<>';
}
