/**
 * Logging in, as every service that asks for a password sees it (submission, IMAP, POP3, webmail).
 * The answer never says whether the account exists: a wrong password and an unknown user look the
 * same, take the same time, and count the same towards the lockout.
 */

export type AuthService = 'submission' | 'imap' | 'pop3' | 'web';

export interface AuthRequest {
  /** The login name as typed: the account's address. */
  username: string;
  password: string;
  remoteAddress: string;
  service: AuthService;
}

export type AuthResult =
  /** `address`: the account's address as stored. */
  | { ok: true; address: string }
  /** `locked`: too many failures from this address or for this account; try again later. */
  | { ok: false; locked: boolean };

export interface Authenticator {
  /** Resolves after any progressive delay the failures so far call for. Never rejects for a bad login. */
  authenticate(request: AuthRequest): Promise<AuthResult>;
}
