/**
 * What the POP3 server is given and what it hands back. Every limit has a default here, so a test
 * sets only what it exercises and the composition root maps the config onto the rest.
 */
import type { Authenticator } from '../../auth/types.ts';
import type { HostPort } from '../../core/host-port.ts';
import type { Logger } from '../../core/logger.ts';
import type { MailboxStore } from '../../store/types.ts';
import type { TlsSource } from '../../tls/types.ts';
import type { MailboxLocks } from './locks.ts';

/** The part of the store POP3 uses: an account's INBOX. */
export type Pop3Store = Pick<MailboxStore, 'getMailbox' | 'listMessages' | 'readMessage' | 'readMessages' | 'deleteMessage'>;

export interface Pop3Limits {
  /** Longest command line, line end included. RFC 2449 §4 caps commands at 255 octets, but a
   *  SASL response (RFC 5034 §4) may be longer, so we allow more. */
  maxLineLength: number;
  /** Unknown commands, bad syntax and commands in the wrong state before the server hangs up. */
  maxErrors: number;
  /** Failed logins on one connection before the server hangs up (the authenticator, not this,
   *  slows down and locks out guessing across connections). */
  maxAuthFailures: number;
  /** RFC 1939 §3: the inactivity autologout timer is at least 10 minutes. */
  idleTimeoutMs: number;
  /** The TLS handshake of an implicit-TLS connection or after STLS. */
  handshakeTimeoutMs: number;
  maxConnections: number;
  maxConnectionsPerIp: number;
  /** How long close() waits for sessions busy with a command (a RETR, the deletions after QUIT). */
  shutdownTimeoutMs: number;
}

export const defaultPop3Limits: Pop3Limits = {
  maxLineLength: 1024,
  maxErrors: 10,
  maxAuthFailures: 3,
  idleTimeoutMs: 10 * 60_000,
  handshakeTimeoutMs: 30_000,
  maxConnections: 1000,
  maxConnectionsPerIp: 20,
  shutdownTimeoutMs: 10_000,
};

/** The limits of `options` with defaults filled in. */
export function resolvePop3Limits(options: Partial<Pop3Limits> = {}): Pop3Limits {
  const out = { ...defaultPop3Limits };
  for (const key of Object.keys(defaultPop3Limits) as Array<keyof Pop3Limits>) {
    const v = options[key];
    if (typeof v === 'number' && Number.isFinite(v) && v >= 0) out[key] = v;
  }
  return out;
}

export interface Pop3ServerOptions {
  /** Plain listeners that offer STLS (110 in production). Port 0 picks a free port. */
  listen: readonly HostPort[];
  /** Implicit-TLS listeners (RFC 8314, 995 in production). Need `tls`. */
  tlsListen: readonly HostPort[];
  /** Our name, in the greeting. */
  hostname: string;
  store: Pop3Store;
  authenticator: Authenticator;
  /** Key and certificate; null offers no STLS (and then `tlsListen` must be empty). */
  tls: TlsSource | null;
  logger?: Logger;
  limits?: Partial<Pop3Limits>;
  /**
   * Allow USER/PASS and AUTH on a plain connection that has not said STLS. Default false: a
   * password never crosses the network in clear text. Only for a deployment whose TLS ends in
   * front of us, or tests.
   */
  allowPlaintextAuth?: boolean;
  /** Shared by servers that serve the same mailboxes in one process; default one of its own. */
  locks?: MailboxLocks;
}

export interface Pop3Server {
  /** What is actually bound (port 0 resolved), plain listeners. */
  readonly addresses: readonly HostPort[];
  /** Implicit-TLS listeners. */
  readonly tlsAddresses: readonly HostPort[];
  /** Connections open now. */
  readonly connectionCount: number;
  /** Stops accepting, ends idle sessions (no deletions: only QUIT deletes), lets busy ones finish
   *  their command, and cuts off whatever is left after shutdownTimeoutMs. */
  close(): Promise<void>;
}
