/**
 * Errors that carry a stable code (tests and scripts match on the code, never on the text) and,
 * where one exists, the underlying cause.
 */

export const ErrorCode = {
  Config: 'POSTERN_CONFIG',
  Zone: 'POSTERN_ZONE',
  LoopbackOnly: 'POSTERN_LOOPBACK_ONLY',
  DnsTemporary: 'POSTERN_DNS_TEMPORARY',
  DnsPermanent: 'POSTERN_DNS_PERMANENT',
  Usage: 'POSTERN_USAGE',
  NodeVersion: 'POSTERN_NODE_VERSION',
} as const;

export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

export class PosternError extends Error {
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'PosternError';
    this.code = code;
  }
}

export function isPosternError(err: unknown, code?: ErrorCode): err is PosternError {
  return err instanceof PosternError && (code === undefined || err.code === code);
}

/** The message of anything thrown, for logs and CLI output. */
export function errorText(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}
