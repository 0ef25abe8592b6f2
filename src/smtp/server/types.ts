/**
 * What the SMTP server asks of the rest of Postern (the hooks: sender and recipient checks, and the
 * durable commit of an accepted message) and the options it runs with. The composition root
 * implements the hooks with the store, the queue and the checks, and maps the config onto the
 * options; every option has a default here so tests set only what they exercise.
 */
import type { HostPort } from '../../core/host-port.ts';
import type { Logger } from '../../core/logger.ts';
import type { SmtpReply } from '../../core/smtp-reply.ts';
import type { Authenticator } from '../../auth/types.ts';
import type { TlsSource } from '../../tls/types.ts';
import type { Mailbox } from '../proto/mailbox.ts';
import type { MailParams, RcptParams } from '../proto/params.ts';

export type SmtpMode = 'mx' | 'submission' | 'lmtp';

export interface SessionInfo {
  id: string;
  mode: SmtpMode;
  remote: { address: string; port: number };
  local: { address: string; port: number };
  /** The name the client gave in EHLO/HELO/LHLO, or null before it did. */
  helo: string | null;
  tls: boolean;
  /** The authenticated user, or null. */
  authenticated: string | null;
}

export interface Recipient {
  mailbox: Mailbox;
  params: RcptParams;
}

export interface Transaction {
  /** null is the null reverse-path `<>` (bounces). */
  sender: Mailbox | null;
  mailParams: MailParams;
  recipients: Recipient[];
}

export interface DeliveredMessage {
  /** The queue id, also in our Received header. */
  id: string;
  transaction: Transaction;
  /** The message as received, our Received header prepended; lines end with CRLF. */
  data: Uint8Array;
}

export interface SmtpHooks {
  /** MAIL FROM. Throw SmtpReplyError to refuse. Optional. */
  checkSender?(tx: Transaction, session: SessionInfo): Promise<void>;
  /** RCPT TO. Resolve to accept; throw SmtpReplyError to refuse (550 5.1.1, 550 5.7.1, 451 4.4.3 …). */
  checkRecipient(recipient: Recipient, tx: Transaction, session: SessionInfo): Promise<void>;
  /** End of DATA or BDAT LAST: the message as received, our Received header already prepended.
   *  Resolve only once durably committed (the 250 is sent after it resolves); throw SmtpReplyError for
   *  4xx/5xx. In LMTP mode return one SmtpReply per recipient, in order. */
  deliver(message: DeliveredMessage, session: SessionInfo): Promise<void | SmtpReply[]>;
}

/** Fixed TLS material; a `TlsSource` is the same thing with reloads. */
export interface TlsOptions {
  /** PEM. */
  key: string;
  /** PEM, the chain after the certificate. */
  cert: string;
}

export interface SmtpLimits {
  /** Accepted recipients per transaction; the next one gets 452 4.5.3 (RFC 5321 §4.5.3.1.8). */
  maxRecipients: number;
  /** Octets of message content; advertised in SIZE (RFC 1870), more gets 552 5.3.4. */
  maxMessageSize: number;
  /** Longest command line, CRLF included. RFC 5321 §4.5.3.1.4 says 512, but ESMTP parameters
   *  lengthen MAIL and RCPT (RFC 1869 §4.1.2, RFC 3461 §5): like Postfix we allow more. */
  maxLineLength: number;
  /** Protocol errors (unknown commands, bad syntax, bad sequence) before 421 and close. */
  maxErrors: number;
  /** Waiting for a command (RFC 5321 §4.5.3.2.7: at least 5 minutes). */
  idleTimeoutMs: number;
  /** Waiting for more message content during DATA or a BDAT chunk. */
  dataTimeoutMs: number;
  /** Octets per second a client must average while sending content, once the grace period is over. */
  minDataRate: number;
  minDataRateGraceMs: number;
  maxConnectionsPerIp: number;
  maxConnections: number;
  /** How long close() waits for busy sessions before cutting them off. */
  shutdownTimeoutMs: number;
  /** Failed AUTH exchanges in one session before 421 and close (the authenticator slows each one). */
  maxAuthFailures: number;
}

export interface SmtpServerOptions extends Partial<SmtpLimits> {
  /** Where to listen; port 0 picks a free port (see SmtpServer.addresses). */
  listen: readonly HostPort[];
  /** Our name: in the banner, the EHLO reply and the Received header's "by". */
  hostname: string;
  mode?: SmtpMode;
  hooks: SmtpHooks;
  logger?: Logger;
  /** Where to listen with TLS from the first byte (RFC 8314 implicit TLS: 465); needs `tls`. */
  tlsListen?: readonly HostPort[];
  /** The certificate: enables STARTTLS on `listen` and serves `tlsListen`. A source is read at each
   *  handshake, so a reload reaches new connections; fixed material is accepted too. Null (the
   *  default) leaves TLS out. */
  tls?: TlsSource | TlsOptions | null;
  /** Checks AUTH PLAIN and LOGIN (RFC 4954), offered only over TLS. Null (the default): no AUTH. In
   *  mode 'submission' a client must authenticate before MAIL. */
  authenticator?: Authenticator | null;
  /** Queue ids, one per message. Default: 16 random base32 characters. */
  idFactory?: () => string;
  /** The clock, in epoch milliseconds. */
  now?: () => number;
  /** The client's verified reverse DNS name, for the Received header; null gives "unknown". */
  reverseName?: (address: string) => Promise<string | null>;
}

export interface SmtpServer {
  /** What is actually bound (port 0 resolved). */
  readonly addresses: readonly HostPort[];
  /** What the implicit-TLS listeners (`tlsListen`) actually bound, in order. */
  readonly tlsAddresses: readonly HostPort[];
  /** Connections open now. */
  readonly connectionCount: number;
  /** Graceful: stops accepting, answers 421 to sessions waiting for a command, lets busy sessions
   *  finish their command, and cuts off whatever is left after shutdownTimeoutMs. */
  close(): Promise<void>;
}

export const defaultLimits: SmtpLimits = {
  maxRecipients: 100,
  maxMessageSize: 25 * 1024 * 1024,
  maxLineLength: 2048,
  maxErrors: 10,
  idleTimeoutMs: 5 * 60_000,
  dataTimeoutMs: 5 * 60_000,
  minDataRate: 1024,
  minDataRateGraceMs: 30_000,
  maxConnectionsPerIp: 20,
  maxConnections: 1000,
  shutdownTimeoutMs: 10_000,
  maxAuthFailures: 5,
};

/** The limits of `options` with defaults filled in. */
export function resolveLimits(options: Partial<SmtpLimits>): SmtpLimits {
  const out = { ...defaultLimits };
  for (const key of Object.keys(defaultLimits) as Array<keyof SmtpLimits>) {
    const v = options[key];
    if (typeof v === 'number' && Number.isFinite(v) && v >= 0) out[key] = v;
  }
  return out;
}
