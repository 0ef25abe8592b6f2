/**
 * The POP3 server: how mail clients that download and delete (rather than keep mail on the server,
 * as IMAP clients do) read an account's INBOX. A session is a state machine over the pure codec in
 * `../proto/`: it refuses passwords before TLS on the plain port, logs in through the shared
 * Authenticator (which owns delays and lockouts), locks the maildrop so one session at a time
 * numbers its messages, serves listings and messages from the store, and removes what was marked
 * for deletion only when the client says QUIT. The listener ties sessions to sockets, STLS and
 * implicit TLS, and enforces connection limits.
 */
export { startPop3Server } from './server.ts';
export { Pop3Session, type Pop3Io, type Pop3SessionOptions } from './session.ts';
export { MailboxLocks } from './locks.ts';
export {
  defaultPop3Limits,
  resolvePop3Limits,
  type Pop3Limits,
  type Pop3Server,
  type Pop3ServerOptions,
  type Pop3Store,
} from './types.ts';
