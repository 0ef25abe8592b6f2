/**
 * The IMAP server: where people read the mail the MX filed. A session logs a user in (only over
 * TLS: STARTTLS on the plain port, or the implicit-TLS port), lists and manages their mailboxes,
 * selects one and keeps the client's picture of it right: sequence numbers renumbered after each
 * EXPUNGE, new mail announced with EXISTS, flags changed by other sessions sent as FETCH, all
 * within a second when the client IDLEs. The mailboxes are the store's; this folder keeps only
 * each session's view of the selected one.
 */
export { startImapServer } from './server.ts';
export { DELIMITER, ImapSession, type ImapSessionOptions, type SessionIo } from './session.ts';
export { SelectedMailbox } from './selected.ts';
export { defaultImapLimits, resolveImapLimits, type ImapLimits, type ImapServer, type ImapServerOptions } from './types.ts';
