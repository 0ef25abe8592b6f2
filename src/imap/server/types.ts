/**
 * What the IMAP server runs with: where it listens, the store and the authenticator it serves,
 * TLS, and the limits, each with a default so tests set only what they exercise.
 */
import type { Authenticator } from '../../auth/types.ts';
import type { HostPort } from '../../core/host-port.ts';
import type { Logger } from '../../core/logger.ts';
import type { Store } from '../../store/types.ts';
import type { TlsSource } from '../../tls/types.ts';

export interface ImapLimits {
  /** Longest command line, literals not counted (RFC 7162 §4 asks servers to take at least 8192). */
  maxLineLength: number;
  /** Largest literal, so largest APPENDed message. */
  maxLiteralSize: number;
  /** Commands a client may send per second; beyond that they wait their turn. */
  maxCommandsPerSecond: number;
  /** BAD responses before BYE. */
  maxErrors: number;
  /** Failed LOGIN/AUTHENTICATE before BYE. */
  maxAuthFailures: number;
  /** RFC 3501 §5.4: autologout after at least 30 minutes without a command (IDLE included). */
  idleTimeoutMs: number;
  /** How often a session in IDLE asks the store for changes made by another process. */
  pollIntervalMs: number;
  maxConnectionsPerIp: number;
  maxConnections: number;
  /** How long close() waits before cutting sessions off. */
  shutdownTimeoutMs: number;
  /** Memory for ENVELOPE/BODYSTRUCTURE kept across sessions (`structure-cache.ts`); 0: none. */
  structureCacheBytes: number;
}

export const defaultImapLimits: ImapLimits = {
  maxLineLength: 64 * 1024,
  maxLiteralSize: 50 * 1024 * 1024,
  maxCommandsPerSecond: 200,
  maxErrors: 20,
  maxAuthFailures: 5,
  idleTimeoutMs: 30 * 60_000,
  pollIntervalMs: 1000,
  maxConnectionsPerIp: 50,
  maxConnections: 2000,
  shutdownTimeoutMs: 5000,
  // About 1.5 KB a message: the structure of some 40,000 messages.
  structureCacheBytes: 64 * 1024 * 1024,
};

export function resolveImapLimits(limits: Partial<ImapLimits> | undefined): ImapLimits {
  const out = { ...defaultImapLimits };
  for (const key of Object.keys(defaultImapLimits) as Array<keyof ImapLimits>) {
    const v = limits?.[key];
    if (typeof v === 'number' && Number.isFinite(v) && v >= 0) out[key] = v;
  }
  return out;
}

export interface ImapServerOptions {
  /** Plain listeners offering STARTTLS; port 0 picks a free port. */
  listen: readonly HostPort[];
  /** Implicit-TLS listeners (993). */
  tlsListen?: readonly HostPort[];
  /** Our name, in the greeting. */
  hostname: string;
  store: Store;
  authenticator: Authenticator;
  /** Null: no STARTTLS, no TLS listeners, and so no login on the plain port. */
  tls: TlsSource | null;
  logger?: Logger;
  limits?: Partial<ImapLimits>;
  /**
   * Allow LOGIN and AUTHENTICATE without TLS. Off by default (RFC 3501 §6.2.3 LOGINDISABLED);
   * for development on loopback only.
   */
  allowInsecureAuth?: boolean;
  now?: () => number;
}

export interface ImapServer {
  readonly addresses: readonly HostPort[];
  readonly tlsAddresses: readonly HostPort[];
  readonly connectionCount: number;
  /** Stops accepting, says BYE to every session, and closes. */
  close(): Promise<void>;
}
