/**
 * The SMTP server: where mail enters Postern. The same code serves three roles: the MX that other
 * mail servers deliver to on port 25, the submission service users send through (RFC 6409: AUTH
 * PLAIN or LOGIN, RFC 4954, only over TLS, before any MAIL), and LMTP (RFC 2033) for local delivery
 * agents. Listeners speak plain text with STARTTLS or, on `tlsListen`, TLS from the first byte
 * (RFC 8314). A session is a state machine over the pure codec in `../proto/`: it enforces command
 * order, limits and timeouts, reads DATA and BDAT content with strict line endings (no SMTP
 * smuggling), upgrades to TLS on STARTTLS, prepends our Received header (built by
 * `../../message/received.ts`) and hands each message to the `deliver` hook, answering 250 only
 * once the hook says the message is durably committed. Recipient and sender policy live in the
 * hooks the composition root supplies; this folder knows nothing of stores or domains.
 */
export { startSmtpServer } from './server.ts';
export { randomId, SmtpSession, type SessionIo, type SessionOptions } from './session.ts';
/** Moved to src/tls/; re-exported while importers move. */
export { certificatePaths, ensureSelfSignedCertificate, type SelfSignedCertificate } from '../../tls/self-signed.ts';
export {
  defaultLimits,
  resolveLimits,
  type DeliveredMessage,
  type Recipient,
  type SessionInfo,
  type SmtpHooks,
  type SmtpLimits,
  type SmtpMode,
  type SmtpServer,
  type SmtpServerOptions,
  type TlsOptions,
  type Transaction,
} from './types.ts';
