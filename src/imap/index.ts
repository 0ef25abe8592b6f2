/**
 * IMAP4rev1 (RFC 3501) with the extensions mail clients expect: IDLE, NAMESPACE, ID, ENABLE,
 * UIDPLUS, MOVE, SPECIAL-USE, LITERAL+, UNSELECT, CHILDREN. `proto/` is the pure protocol
 * (parsing, FETCH, SEARCH, ENVELOPE and BODYSTRUCTURE); `server/` the sessions and listeners over
 * the store. The composition root starts it with `startImapServer` from the `[imap]` config.
 */
export * from './server/index.ts';
