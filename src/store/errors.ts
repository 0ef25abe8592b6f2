/**
 * Errors the store throws on purpose, each with a stable code. They live here rather than in
 * `core/errors.ts` because only callers of the store meet them.
 */

export const StoreErrorCode = {
  AccountExists: 'POSTERN_STORE_ACCOUNT_EXISTS',
  AliasExists: 'POSTERN_STORE_ALIAS_EXISTS',
  DomainExists: 'POSTERN_STORE_DOMAIN_EXISTS',
  MessageExists: 'POSTERN_STORE_MESSAGE_EXISTS',
  InvalidAddress: 'POSTERN_STORE_INVALID_ADDRESS',
  /** A call the store cannot carry out as asked (a message without recipients, …). */
  Invalid: 'POSTERN_STORE_INVALID',
  NotFound: 'POSTERN_STORE_NOT_FOUND',
  /** The database was written by a newer Postern than this one. */
  SchemaTooNew: 'POSTERN_STORE_SCHEMA_TOO_NEW',
  Closed: 'POSTERN_STORE_CLOSED',
} as const;

export type StoreErrorCode = (typeof StoreErrorCode)[keyof typeof StoreErrorCode];

export class StoreError extends Error {
  readonly code: StoreErrorCode;

  constructor(code: StoreErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'StoreError';
    this.code = code;
  }
}

export function isStoreError(err: unknown, code?: StoreErrorCode): err is StoreError {
  return err instanceof StoreError && (code === undefined || err.code === code);
}
