/**
 * POP3 command lines into values (RFC 1939 §3, §5-§7; RFC 2449 CAPA; RFC 2595 STLS; RFC 5034
 * AUTH). A keyword is case-insensitive; arguments follow it after a space. Nothing here knows
 * which state the session is in: the session decides whether a well-formed command is allowed
 * now. Network input never makes these functions throw.
 */

export type Pop3Command =
  | { verb: 'CAPA' }
  | { verb: 'STLS' }
  | { verb: 'QUIT' }
  | { verb: 'USER'; name: string }
  /** RFC 1939 §7: the password is the rest of the line and may contain spaces. */
  | { verb: 'PASS'; password: string }
  /** RFC 5034 §4. `mechanism` null is a bare AUTH: list the mechanisms (as many servers do). */
  | { verb: 'AUTH'; mechanism: string | null; initialResponse: string | null }
  | { verb: 'STAT' }
  | { verb: 'RSET' }
  | { verb: 'NOOP' }
  | { verb: 'LIST' | 'UIDL'; msg: number | null }
  | { verb: 'RETR' | 'DELE'; msg: number }
  | { verb: 'TOP'; msg: number; lines: number };

export type Pop3Verb = Pop3Command['verb'];

export type CommandResult =
  | { kind: 'command'; command: Pop3Command }
  /** `verb` is the keyword when it was a known one, null for an unknown command. */
  | { kind: 'error'; verb: Pop3Verb | null; message: string };

/** RFC 2449 §4 shows the command table these belong to. */
const VERBS: readonly Pop3Verb[] = ['CAPA', 'STLS', 'QUIT', 'USER', 'PASS', 'AUTH', 'STAT', 'RSET', 'NOOP', 'LIST', 'UIDL', 'RETR', 'DELE', 'TOP'];

/** Message numbers and line counts: a decimal number, kept small enough to be exact. */
const NUMBER = /^[0-9]{1,9}$/;
/** RFC 4422 §3.1: SASL mechanism names. */
const MECHANISM = /^[A-Z0-9_-]{1,20}$/;

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** A command line (without its line end) from the wire. */
export function parseCommandBytes(line: Uint8Array): CommandResult {
  let text: string;
  try {
    text = utf8.decode(line);
  } catch {
    return { kind: 'error', verb: null, message: 'command is not UTF-8' };
  }
  return parseCommand(text);
}

export function parseCommand(line: string): CommandResult {
  // NUL, CR, LF and the other controls have no place in a command; TAB neither (RFC 1939 §3:
  // arguments are separated by a single SPACE).
  if (/[\u0000-\u001f\u007f]/.test(line)) return { kind: 'error', verb: null, message: 'control characters in command' };
  const space = line.indexOf(' ');
  const keyword = (space < 0 ? line : line.slice(0, space)).toUpperCase();
  const rest = space < 0 ? null : line.slice(space + 1);
  const verb = VERBS.find((v) => v === keyword);
  if (verb === undefined) return { kind: 'error', verb: null, message: 'unknown command' };
  const fail = (message: string): CommandResult => ({ kind: 'error', verb, message });
  const ok = (command: Pop3Command): CommandResult => ({ kind: 'command', command });
  // Numeric and keyword arguments: tolerate extra spaces, which some clients send.
  const args = rest === null ? [] : rest.split(' ').filter((a) => a !== '');

  switch (verb) {
    case 'CAPA':
    case 'STLS':
    case 'QUIT':
    case 'STAT':
    case 'RSET':
    case 'NOOP':
      if (args.length > 0) return fail(`${verb} takes no arguments`);
      return ok({ verb });
    case 'USER': {
      // RFC 1939 §7 has one argument; a name with spaces is no address we could have.
      if (args.length !== 1 || args[0] === undefined) return fail('USER needs a name');
      return ok({ verb, name: args[0] });
    }
    case 'PASS': {
      if (rest === null || rest === '') return fail('PASS needs a password');
      return ok({ verb, password: rest });
    }
    case 'AUTH': {
      if (args.length === 0) return ok({ verb, mechanism: null, initialResponse: null });
      const mechanism = (args[0] ?? '').toUpperCase();
      if (args.length > 2 || !MECHANISM.test(mechanism)) return fail('syntax: AUTH mechanism [initial-response]');
      return ok({ verb, mechanism, initialResponse: args[1] ?? null });
    }
    case 'LIST':
    case 'UIDL': {
      if (args.length === 0) return ok({ verb, msg: null });
      const msg = messageNumber(args[0]);
      if (args.length > 1 || msg === null) return fail(`syntax: ${verb} [message-number]`);
      return ok({ verb, msg });
    }
    case 'RETR':
    case 'DELE': {
      const msg = messageNumber(args[0]);
      if (args.length !== 1 || msg === null) return fail(`syntax: ${verb} message-number`);
      return ok({ verb, msg });
    }
    case 'TOP': {
      const msg = messageNumber(args[0]);
      const lines = args[1] !== undefined && NUMBER.test(args[1]) ? Number(args[1]) : null;
      if (args.length !== 2 || msg === null || lines === null) return fail('syntax: TOP message-number lines');
      return ok({ verb, msg, lines });
    }
  }
}

/** RFC 1939 §3: message numbers start at 1. */
function messageNumber(arg: string | undefined): number | null {
  if (arg === undefined || !NUMBER.test(arg)) return null;
  const n = Number(arg);
  return n >= 1 ? n : null;
}

/** RFC 5034 §4: a client's answer to a "+ " challenge. "*" cancels the exchange. */
export type SaslResponse = { kind: 'cancel' } | { kind: 'response'; text: string } | { kind: 'error'; message: string };

export function parseSaslResponse(line: Uint8Array): SaslResponse {
  let text: string;
  try {
    text = utf8.decode(line);
  } catch {
    return { kind: 'error', message: 'response is not base64' };
  }
  if (text === '*') return { kind: 'cancel' };
  if (!/^[A-Za-z0-9+/=]*$/.test(text)) return { kind: 'error', message: 'response is not base64' };
  return { kind: 'response', text };
}

/** The line as a protocol trace may show it: passwords and SASL responses hidden. */
export function redactCommandLine(line: string): string {
  const m = /^(PASS|AUTH\s+\S+)\s+\S/i.exec(line);
  if (m !== null) return `${m[1]} ***`;
  return line;
}
