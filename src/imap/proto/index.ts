/**
 * IMAP4rev1 (RFC 3501) as bytes and values, with no sockets and no store. A client's input is
 * framed into commands (`reader.ts`: lines and the literals inside them), read into values
 * (`tokens.ts`) and then into typed commands (`command.ts`); sequence sets, FETCH items with
 * their body sections, and SEARCH keys each have their own parser and, for SEARCH, the matcher.
 * The writers turn messages into what clients display: ENVELOPE and BODYSTRUCTURE over the MIME
 * structure, FETCH responses, quoted strings and literals. Everything that reads network input
 * returns an error value instead of throwing.
 */
export { CommandReader, type ReadResult, type ReaderLimits } from './reader.ts';
export { tokenize, valueText, type TokenizeResult, type Value } from './tokens.ts';
export { parseCommand, type Command, type ParseResult, type StoreOperation } from './command.ts';
export { formatSequenceSet, inSequenceSet, parseSequenceSet, resolveSequenceNumbers, resolveUidSet, type SequenceSet } from './sequence.ts';
export {
  fetchResponse,
  formatSection,
  messageStructure,
  needsBody,
  parseFetchItems,
  parseSection,
  sectionBytes,
  setsSeen,
  structureOnly,
  wantsStructure,
  type FetchItem,
  type FetchMessage,
  type MessageStructure,
  type Section,
} from './fetch.ts';
export { matches, parseSearch, searchNeedsData, type SearchContext, type SearchKey, type SearchMessage } from './search.ts';
export { bodyStructure, envelope, parseAddressList, type EnvelopeAddress } from './structure.ts';
export { astring, flagList, formatDateTime, istring, nstring, parseDate, parseDateTime, quote, toBuffer, type Chunk } from './format.ts';
export { listPatternRegExp, matchesListPattern, parentNames } from './list.ts';
