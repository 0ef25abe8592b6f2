/**
 * The SMTP protocol as pure code (RFC 5321, with LMTP's LHLO from RFC 2033): bytes and text in,
 * values out, no sockets, no clocks, no logging. Commands are parsed into a discriminated union
 * with their envelope addresses and ESMTP parameters (SIZE, BODY, SMTPUTF8 and the DSN ones);
 * anything we refuse comes back as the exact reply to send. The readers take the bytes of a
 * connection as they arrive and say `need-more` until they have a whole command line, a whole
 * DATA message (ended by CRLF.CRLF and nothing else, so no line-ending trick can end it early or
 * smuggle a second message) or a whole set of BDAT chunks. The server session in `../server/`
 * drives them; the client in `../client/` shares them.
 */
export { concatBytes } from './bytes.ts';
export { LineReader, MAX_COMMAND_LINE, type LineReaderOptions, type LineResult } from '../../core/line-reader.ts';
export { checkDomain, formatMailbox, parsePath, type Mailbox, type PathOptions, type PathResult } from './mailbox.ts';
export {
  decodeXtext,
  emptyMailParams,
  emptyRcptParams,
  encodeXtext,
  parseMailParams,
  parseRcptParams,
  type BodyType,
  type MailParams,
  type NotifyEvent,
  type RcptParams,
} from './params.ts';
export {
  AddressReply,
  parseCommand,
  parseCommandBytes,
  redactCommandLine,
  type Command,
  type CommandResult,
  type ParseCommandOptions,
  type Verb,
} from './command.ts';
export { DataReader, type DataProblem, type DataReaderOptions, type DataResult } from './data-reader.ts';
export { BdatReader, type BdatReaderOptions, type BdatResult } from './bdat-reader.ts';
// The client's side: replies and EHLO capabilities in, messages dot-stuffed out.
export { DEFAULT_REPLY_LIMITS, NO_CAPABILITIES, parseEhloCapabilities, parseReply, type ParseReplyResult, type ReplyLimits, type SmtpCapabilities } from './reply.ts';
export { canonicalLineEnds, dotStuff, type PreparedMessage } from './dot-stuff.ts';
