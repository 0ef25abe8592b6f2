/**
 * The POP3 wire protocol, pure: command lines in, values out; responses and byte-stuffed
 * messages out. POP3 (RFC 1939) is a short conversation: a client logs in (USER/PASS, or SASL
 * through AUTH, RFC 5034), optionally after upgrading to TLS (STLS, RFC 2595), lists the messages
 * of its maildrop, fetches and marks some for deletion, and says QUIT, which is when the deletions
 * happen. Responses are "+OK" or "-ERR", with bracketed response codes a client can act on
 * (RFC 2449, RFC 3206); listings and messages are multi-line, ended by a line with a single ".".
 * No sockets, no store, no logging here; nothing in this folder throws on network input.
 */
export {
  parseCommand,
  parseCommandBytes,
  parseSaslResponse,
  redactCommandLine,
  type CommandResult,
  type Pop3Command,
  type Pop3Verb,
  type SaslResponse,
} from './command.ts';
export { LineReader, type LineReaderOptions, type LineResult } from '../../core/line-reader.ts';
export { stuffMessage, topOfMessage, unstuffMessage } from './message.ts';
export { continuation, err, multiline, ok, type RespCode } from './reply.ts';
