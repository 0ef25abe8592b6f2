/**
 * SMTP, both ways. `proto/` is the pure codec shared by both sides: command and reply parsing,
 * the DATA and BDAT readers that end a message only where every other server would, and
 * dot-stuffing. `server/` is the session state machine for the MX, submission and LMTP, and its
 * listener; `client/` carries one outbound transaction to one address, for the MX walk.
 */
export * as proto from './proto/index.ts';
export * as server from './server/index.ts';
export * as client from './client/index.ts';
