/**
 * Logging in, for every service that asks for a password: submission, IMAP, POP3 and webmail. The
 * SASL mechanisms clients use (PLAIN, RFC 4616, and LOGIN) are decoded in `sasl.ts`; the
 * authenticator checks the password against the account's scrypt hash and defends against
 * guessing with a delay that grows with each failure and a lockout per client address and per
 * account. Its answers never tell whether an account exists.
 */
export type { AuthRequest, AuthResult, AuthService, Authenticator } from './types.ts';
export { decodeBase64, decodeLoginStep, decodePlain, encodeBase64, type PlainResult } from './sasl.ts';
export { addressKey, createAuthenticator, type AuthenticatorOptions, type CountingAuthenticator } from './authenticator.ts';
