/**
 * The SMTP client is how mail leaves: given one address of a destination's MX host (the MX walk in
 * `delivery/` picks it), it opens a conversation, learns what the server supports from EHLO, moves
 * to TLS when offered, and hands over messages one transaction at a time, reusing the connection
 * for several. A transaction's outcome is per recipient: a server may take some recipients and
 * refuse others (550 for good, 450 for now), refuse the whole message at MAIL or DATA, or, speaking
 * LMTP (RFC 2033) to a local store, answer for each recipient after the message. Those answers are
 * results for the queue to act on; only a conversation that breaks (refused connection, timeout, a
 * garbled reply, a failed TLS that was required) is an error, and it says whether trying again,
 * elsewhere or later, makes sense.
 *
 * The client uses what the server offers and the message needs: PIPELINING (RFC 2920), CHUNKING
 * (RFC 3030), SIZE (RFC 1870), 8BITMIME (RFC 6152), SMTPUTF8 (RFC 6531), DSN (RFC 3461), with the
 * timeouts of RFC 5321 §4.5.3.2 by default.
 */
export { connectSmtp, type SmtpConnection } from './connect.ts';
export { SmtpClientError, SmtpClientErrorCode, isSmtpClientError } from './errors.ts';
export { xtext } from './params.ts';
export {
  DEFAULT_CLIENT_TIMEOUTS,
  type ClientOptions,
  type ClientStage,
  type ClientTimeouts,
  type DsnNotify,
  type OutboundMessage,
  type OutboundRecipient,
  type RecipientResult,
  type TlsMode,
  type TransactionResult,
} from './types.ts';
export type { SmtpCapabilities } from '../proto/reply.ts';
