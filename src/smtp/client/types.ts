/**
 * The client's vocabulary: what a caller asks for (options, a message with its envelope), the
 * stages a conversation goes through, and what comes back (a reply per recipient).
 */
import type { Logger } from '../../core/logger.ts';
import type { SmtpReply } from '../../core/smtp-reply.ts';

/** Where in the conversation something happened; errors and results name it. */
export type ClientStage =
  | 'connect'
  | 'greeting'
  | 'ehlo'
  | 'helo'
  | 'starttls'
  | 'tls'
  | 'rset'
  | 'mail'
  | 'rcpt'
  | 'data'
  | 'bdat'
  | 'end-of-data'
  | 'quit';

/** Milliseconds to wait at each stage. */
export interface ClientTimeouts {
  connect: number;
  greeting: number;
  /** EHLO/LHLO/HELO, and STARTTLS with its handshake. */
  ehlo: number;
  /** MAIL, and RSET. */
  mail: number;
  rcpt: number;
  /** The reply to DATA (the 354), and to each BDAT chunk that is not the last. */
  data: number;
  /** Each write of message bytes to drain to the kernel. */
  dataBlock: number;
  /** The reply after the last byte of the message (after "." or BDAT LAST). */
  endOfData: number;
}

// RFC 5321 §4.5.3.2 (connect is not in it: 30 s is what MTAs use).
export const DEFAULT_CLIENT_TIMEOUTS: Readonly<ClientTimeouts> = Object.freeze({
  connect: 30_000,
  greeting: 300_000,
  ehlo: 300_000,
  mail: 300_000,
  rcpt: 300_000,
  data: 120_000,
  dataBlock: 180_000,
  endOfData: 600_000,
});

export type TlsMode = 'opportunistic' | 'none' | 'required';

export interface ClientOptions {
  /** The IP address to connect to: the MX walk resolves names, the client never does. */
  address: string;
  port: number;
  /** The MX host name: TLS SNI and logs. */
  serverName: string;
  /** Our host name, for EHLO/LHLO/HELO. */
  helo: string;
  sourceAddress?: string | null;
  /** opportunistic: STARTTLS when offered, certificates not verified; required: no TLS, no mail. */
  tls: TlsMode;
  /** LMTP (RFC 2033): LHLO, and a reply per recipient after the message. */
  lmtp?: boolean;
  timeouts?: Partial<ClientTimeouts>;
  /** Bytes per BDAT chunk (RFC 3030). Default 1 MiB. */
  bdatChunkSize?: number;
  logger?: Logger;
}

/** RFC 3461 §4.1. NEVER stands alone. */
export type DsnNotify = 'NEVER' | 'SUCCESS' | 'FAILURE' | 'DELAY';

export interface OutboundRecipient {
  address: string;
  /** DSN NOTIFY, sent only when the server offers DSN. */
  notify?: readonly DsnNotify[];
  /** DSN ORCPT (RFC 3461 §4.2), decoded: the client xtext-encodes the address. */
  orcpt?: { type: string; address: string };
}

export interface OutboundMessage {
  /** The envelope sender; '' for the null sender <> (bounces). */
  sender: string;
  recipients: OutboundRecipient[];
  /** The message, headers and body, with CRLF line ends. */
  data: Uint8Array;
  /** DSN ENVID, decoded (RFC 3461 §4.4). */
  envid?: string;
  /** DSN RET (RFC 3461 §4.3). */
  ret?: 'FULL' | 'HDRS';
  /** The message has bytes above 127; found by looking when not given. */
  eightBit?: boolean;
  /** The message needs SMTPUTF8 (RFC 6531); also needed when an address is not ASCII. */
  smtpUtf8?: boolean;
}

export interface RecipientResult {
  address: string;
  /**
   * The reply that decided this recipient's fate: its RCPT reply when refused ('rcpt'), the
   * transaction's reply when MAIL failed ('mail'), else the reply to DATA or the message (or its
   * own LMTP reply) ('data').
   */
  reply: SmtpReply;
  stage: 'mail' | 'rcpt' | 'data';
}

export interface TransactionResult {
  /** One per recipient, in the order given. */
  recipients: RecipientResult[];
  /** When the whole transaction failed at MAIL or at DATA/BDAT (each recipient then carries it too). */
  transactionReply?: SmtpReply;
  stage?: ClientStage;
  /** The transactionReply was made here, not by the server (SIZE over the limit, SMTPUTF8 not offered). */
  local?: boolean;
}
