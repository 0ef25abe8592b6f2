/**
 * POP3 (RFC 1939): the oldest way a mail client fetches mail, still what many phones, printers'
 * scan-to-mail boxes and simple clients speak. A client logs in, sees the INBOX as a numbered list
 * fixed for the session, downloads messages, marks some for deletion, and says QUIT, which is when
 * they are removed. Postern serves it with CAPA (RFC 2449), STLS (RFC 2595) and implicit TLS
 * (RFC 8314), and SASL PLAIN (RFC 5034) beside USER/PASS, over the same store and accounts that
 * IMAP and local delivery use. `proto/` is the pure wire format, `server/` the sessions and
 * listeners.
 */
export {
  defaultPop3Limits,
  MailboxLocks,
  Pop3Session,
  resolvePop3Limits,
  startPop3Server,
  type Pop3Io,
  type Pop3Limits,
  type Pop3Server,
  type Pop3ServerOptions,
  type Pop3SessionOptions,
  type Pop3Store,
} from './server/index.ts';
