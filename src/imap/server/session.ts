/**
 * One IMAP connection (RFC 3501 §3): the state machine from not-authenticated through
 * authenticated and selected to logout, over the pure reader and parser in `../proto/`. Commands
 * run one at a time in the order they arrived; the store is asked for what each needs, and the
 * selected mailbox's view (`selected.ts`) is brought up to date after every command and, during
 * IDLE, as soon as the store announces a change (or a poll finds one made by another process).
 * The session does not own the socket: it is handed bytes and writes through `SessionIo`, so a
 * test drives it in-process.
 */
import { decodePlain } from '../../auth/sasl.ts';
import type { Authenticator } from '../../auth/types.ts';
import { errorText } from '../../core/errors.ts';
import type { Logger } from '../../core/logger.ts';
import { isStoreError, StoreErrorCode } from '../../store/errors.ts';
import type { MailboxChange, Store } from '../../store/types.ts';
import { parseCommand, type Command } from '../proto/command.ts';
import { fetchResponse, messageStructure, needsBody, setsSeen, structureOnly, wantsStructure, type FetchItem, type MessageStructure } from '../proto/fetch.ts';
import { flagList, quote, type Chunk } from '../proto/format.ts';
import { listPatternRegExp, matchesListPattern, parentNames } from '../proto/list.ts';
import { CommandReader } from '../proto/reader.ts';
import { matches, searchNeeds, type SearchContext, type SearchMessage } from '../proto/search.ts';
import { formatSequenceSet } from '../proto/sequence.ts';
import type { IdlePoller, IdleWatch } from './idle-poll.ts';
import { SelectedMailbox, type SelectedMessage } from './selected.ts';
import { StructureCache } from './structure-cache.ts';
import type { ImapLimits } from './types.ts';

export interface SessionIo {
  write(chunks: readonly Chunk[]): void;
  /** Resolves once the client has taken what was written (or the connection is gone). */
  drain(): Promise<void>;
  close(): void;
  /** Wraps the connection in TLS; pipelined clear-text input is dropped. */
  startTls(): Promise<void>;
  pause(): void;
  resume(): void;
}

export interface ImapSessionOptions {
  id: string;
  hostname: string;
  store: Store;
  authenticator: Authenticator;
  remoteAddress: string;
  /** The connection is TLS already (the implicit-TLS listener). */
  secure: boolean;
  /** STARTTLS can be offered. */
  tlsAvailable: boolean;
  allowInsecureAuth: boolean;
  limits: ImapLimits;
  logger: Logger;
  /** Shared poll for changes by other processes during IDLE; absent: a timer per session. */
  idlePoller?: IdlePoller;
  now: () => number;
  /** ENVELOPE and BODYSTRUCTURE shared across the server's sessions; absent: computed each time. */
  structures?: StructureCache | null;
}

type State = 'not-authenticated' | 'authenticated' | 'selected' | 'logout';

export const DELIMITER = '/';
const SYSTEM_FLAGS = '\\Answered \\Flagged \\Deleted \\Seen \\Draft';
const EXTENSIONS = ['IDLE', 'NAMESPACE', 'ID', 'ENABLE', 'UIDPLUS', 'MOVE', 'SPECIAL-USE', 'LITERAL+', 'UNSELECT', 'CHILDREN', 'SASL-IR'];
/** FETCH responses are written in batches of about this many bytes. */
const BATCH_BYTES = 64 * 1024;
// FETCH and SEARCH read message bytes from the store this many at a time (and about this many
// bytes): few store calls, and a bounded amount of mail in memory per session.
const READ_BATCH = 200;
const READ_BATCH_BYTES = 8 * 1024 * 1024;
// SEARCH by Date: reads header sections this many at a time.
const HEADER_BATCH = 2000;
/** Commands during which sequence numbers must stay put (RFC 3501 §7.4.1). */
const NO_EXPUNGE = new Set(['FETCH', 'STORE', 'SEARCH']);

interface Handler {
  states: readonly State[];
  run(tag: string, command: Command): Promise<unknown>;
}

export class ImapSession {
  readonly #o: ImapSessionOptions;
  readonly #io: SessionIo;
  readonly #reader: CommandReader;
  readonly #log: Logger;
  #state: State = 'not-authenticated';
  #secure: boolean;
  #user: string | null = null;
  #selected: SelectedMailbox | null = null;
  #errors = 0;
  #authFailures = 0;
  #busy = false;
  /** Serialises command handling with IDLE's asynchronous updates. */
  #lock: Promise<void> = Promise.resolve();
  #idleTimer: ReturnType<typeof setTimeout> | null = null;
  #idle: { tag: string; poll: ReturnType<typeof setInterval> | null; watch: IdleWatch | null } | null = null;
  #auth: { tag: string } | null = null;
  #unwatch: (() => void) | null = null;
  #window = { start: 0, count: 0 };
  #closedResolve!: () => void;
  readonly closed: Promise<void>;

  constructor(options: ImapSessionOptions, io: SessionIo) {
    this.#o = options;
    this.#io = io;
    this.#secure = options.secure;
    this.#log = options.logger;
    const l = options.limits;
    this.#reader = new CommandReader({
      maxLineLength: l.maxLineLength,
      maxLiteralSize: l.maxLiteralSize,
      maxCommandSize: l.maxLiteralSize + 4 * l.maxLineLength,
    });
    this.closed = new Promise((resolve) => {
      this.#closedResolve = resolve;
    });
  }

  start(): void {
    this.#touch();
    this.#send(`* OK [CAPABILITY ${this.#capabilities()}] ${this.#o.hostname} Postern IMAP4rev1 ready\r\n`);
  }

  receive(chunk: Uint8Array): void {
    if (this.#state === 'logout') return;
    this.#touch();
    this.#reader.push(chunk);
    if (this.#reader.buffered > this.#o.limits.maxLiteralSize + 8 * this.#o.limits.maxLineLength) this.#io.pause();
    void this.#pump();
  }

  /** The connection is gone. */
  connectionLost(): void {
    this.#finish();
  }

  /** Server shutdown: BYE and close. */
  shutdown(): void {
    if (this.#state === 'logout') return;
    this.#send('* BYE Server shutting down\r\n');
    this.#close();
  }

  // -------------------------------------------------------------------------------------------
  // Input

  async #pump(): Promise<void> {
    if (this.#busy) return;
    this.#busy = true;
    try {
      while (this.#state !== 'logout') {
        const r = this.#reader.next();
        if (r.kind === 'need-more') break;
        if (r.kind === 'continue') {
          this.#send('+ Ready for literal data\r\n');
          continue;
        }
        if (r.kind === 'error') {
          const code = r.code === 'TOOBIG' ? '[TOOBIG] ' : '';
          if (r.fatal) {
            this.#send(`* BYE ${code}${r.reason}\r\n`);
            this.#close();
            break;
          }
          this.#bad(r.tag, `${code}${r.reason}`);
          continue;
        }
        await this.#throttle();
        await this.#exclusive(() => this.#line(r.bytes));
      }
    } finally {
      this.#busy = false;
      this.#io.resume();
    }
  }

  async #throttle(): Promise<void> {
    const now = Date.now();
    if (now - this.#window.start >= 1000) this.#window = { start: now, count: 0 };
    if (++this.#window.count <= this.#o.limits.maxCommandsPerSecond) return;
    // Over the rate: this command waits for the next second rather than being refused.
    await new Promise((resolve) => setTimeout(resolve, 1000 - (now - this.#window.start)).unref());
    this.#window = { start: Date.now(), count: 1 };
  }

  #exclusive(fn: () => Promise<void>): Promise<void> {
    const run = this.#lock.then(fn, fn);
    this.#lock = run.catch(() => undefined);
    return run;
  }

  async #line(bytes: Buffer): Promise<void> {
    if (this.#idle !== null) return this.#idleInput(bytes);
    if (this.#auth !== null) return this.#authInput(bytes);
    const parsed = parseCommand(bytes);
    if (parsed.kind === 'error') {
      this.#bad(parsed.tag, parsed.reason);
      return;
    }
    const { tag, command } = parsed;
    this.#log.debug({ tag, command: command.name === 'LOGIN' ? 'LOGIN ***' : command.name }, 'imap command');
    const handler = this.#handlers[command.name];
    if (!handler.states.includes(this.#state)) {
      this.#bad(tag, this.#wrongState(command.name));
      return;
    }
    try {
      await handler.run(tag, command);
    } catch (err) {
      this.#log.error({ err: errorText(err), command: command.name }, 'imap command failed');
      if (this.#state !== 'logout') this.#send(`${tag} NO [SERVERBUG] Internal error; try again\r\n`);
    }
  }

  #wrongState(name: string): string {
    if (this.#state === 'not-authenticated') return `${name} needs LOGIN first`;
    if (this.#state === 'authenticated') return `${name} needs a selected mailbox`;
    return `${name} is not allowed now`;
  }

  // -------------------------------------------------------------------------------------------
  // Output

  #send(...chunks: Chunk[]): void {
    this.#io.write(chunks);
  }

  #bad(tag: string | null, reason: string): void {
    this.#send(`${tag ?? '*'} BAD ${reason}\r\n`);
    if (++this.#errors >= this.#o.limits.maxErrors) {
      this.#send('* BYE Too many errors\r\n');
      this.#close();
    }
  }

  #ok(tag: string, text: string): void {
    this.#send(`${tag} OK ${text}\r\n`);
  }

  #no(tag: string, text: string): void {
    this.#send(`${tag} NO ${text}\r\n`);
  }

  #capabilities(): string {
    const caps = ['IMAP4rev1'];
    if (this.#state === 'not-authenticated') {
      if (!this.#secure && this.#o.tlsAvailable) caps.push('STARTTLS');
      if (this.#loginAllowed()) caps.push('AUTH=PLAIN');
      else caps.push('LOGINDISABLED');
    }
    return [...caps, ...EXTENSIONS].join(' ');
  }

  #loginAllowed(): boolean {
    return this.#secure || this.#o.allowInsecureAuth;
  }

  #touch(): void {
    if (this.#idleTimer !== null) clearTimeout(this.#idleTimer);
    if (this.#state === 'logout') return;
    this.#idleTimer = setTimeout(() => {
      this.#send('* BYE Autologout; idle for too long\r\n');
      this.#close();
    }, this.#o.limits.idleTimeoutMs);
    this.#idleTimer.unref();
  }

  #close(): void {
    if (this.#state === 'logout') return;
    this.#finish();
    this.#io.close();
  }

  #finish(): void {
    this.#state = 'logout';
    if (this.#idleTimer !== null) clearTimeout(this.#idleTimer);
    if (this.#idle !== null) this.#stopIdlePoll(this.#idle);
    this.#idle = null;
    this.#unwatch?.();
    this.#unwatch = null;
    this.#selected = null;
    this.#closedResolve();
  }

  // -------------------------------------------------------------------------------------------
  // The selected mailbox

  get #address(): string {
    return this.#user ?? '';
  }

  /** Untagged updates for the selected mailbox; false when it went away (BYE sent). */
  async #sync(commandName: string | null): Promise<boolean> {
    const sel = this.#selected;
    if (sel === null || this.#state !== 'selected') return true;
    let r = await sel.sync(this.#o.store, this.#address, {
      allowExpunge: commandName === null || !NO_EXPUNGE.has(commandName),
      claimRecent: sel.readOnly ? null : (upTo) => this.#o.store.claimRecent({ address: this.#address, mailbox: sel.name, upTo }),
    });
    if (!r.ok) {
      // Renamed (the id lives on under another name) or deleted.
      const boxes = await this.#o.store.listMailboxes(this.#address);
      const renamed = boxes?.find((b) => b.id === sel.mailboxId);
      if (renamed !== undefined) {
        sel.name = renamed.name;
        r = await sel.sync(this.#o.store, this.#address, { allowExpunge: true, claimRecent: null });
      }
    }
    if (!r.ok) {
      this.#send('* BYE The selected mailbox was deleted\r\n');
      this.#close();
      return false;
    }
    if (r.responses.length > 0) this.#send(...r.responses);
    return true;
  }

  /** The tagged OK of a command in the selected state, after its untagged updates. */
  async #done(tag: string, name: string, text: string): Promise<void> {
    if (!(await this.#sync(name))) return;
    this.#ok(tag, text);
  }

  #onChange(change: MailboxChange): void {
    const sel = this.#selected;
    if (this.#idle === null || sel === null) return;
    if (change.mailboxId !== sel.mailboxId) return;
    void this.#exclusive(async () => {
      if (this.#idle !== null) await this.#sync(null);
    });
  }

  // -------------------------------------------------------------------------------------------
  // Commands

  readonly #handlers: Record<Command['name'], Handler> = {
    CAPABILITY: this.#any(async (tag) => {
      this.#send(`* CAPABILITY ${this.#capabilities()}\r\n`);
      await this.#finishCommand(tag, 'CAPABILITY', 'CAPABILITY completed');
    }),
    NOOP: this.#any(async (tag) => this.#finishCommand(tag, 'NOOP', 'NOOP completed')),
    LOGOUT: this.#any(async (tag) => {
      this.#send('* BYE Logging out\r\n');
      this.#ok(tag, 'LOGOUT completed');
      this.#close();
    }),
    ID: this.#any(async (tag, c) => {
      if (c.name !== 'ID') return;
      this.#send(`* ID ("name" "Postern" "vendor" "Postern")\r\n`);
      await this.#finishCommand(tag, 'ID', 'ID completed');
    }),
    STARTTLS: { states: ['not-authenticated'], run: async (tag) => this.#startTls(tag) },
    LOGIN: { states: ['not-authenticated'], run: async (tag, c) => c.name === 'LOGIN' && this.#login(tag, c.username, c.password) },
    AUTHENTICATE: { states: ['not-authenticated'], run: async (tag, c) => c.name === 'AUTHENTICATE' && this.#authenticate(tag, c.mechanism, c.initialResponse) },
    ENABLE: this.#authed(async (tag) => {
      // RFC 5161: nothing we offer needs enabling (no CONDSTORE, no UTF8=ACCEPT).
      this.#send('* ENABLED\r\n');
      this.#ok(tag, 'ENABLE completed');
    }),
    NAMESPACE: this.#authed(async (tag) => {
      this.#send(`* NAMESPACE (("" ${quote(DELIMITER)})) NIL NIL\r\n`);
      await this.#finishCommand(tag, 'NAMESPACE', 'NAMESPACE completed');
    }),
    SELECT: this.#authed(async (tag, c) => c.name === 'SELECT' && this.#select(tag, c.mailbox, false)),
    EXAMINE: this.#authed(async (tag, c) => c.name === 'EXAMINE' && this.#select(tag, c.mailbox, true)),
    CREATE: this.#authed(async (tag, c) => c.name === 'CREATE' && this.#create(tag, c.mailbox)),
    DELETE: this.#authed(async (tag, c) => c.name === 'DELETE' && this.#delete(tag, c.mailbox)),
    RENAME: this.#authed(async (tag, c) => c.name === 'RENAME' && this.#rename(tag, c.from, c.to)),
    SUBSCRIBE: this.#authed(async (tag, c) => c.name === 'SUBSCRIBE' && this.#subscribe(tag, c.mailbox, true)),
    UNSUBSCRIBE: this.#authed(async (tag, c) => c.name === 'UNSUBSCRIBE' && this.#subscribe(tag, c.mailbox, false)),
    LIST: this.#authed(async (tag, c) => c.name === 'LIST' && this.#list(tag, c)),
    LSUB: this.#authed(async (tag, c) => c.name === 'LSUB' && this.#list(tag, c)),
    STATUS: this.#authed(async (tag, c) => c.name === 'STATUS' && this.#status(tag, c.mailbox, c.items)),
    APPEND: this.#authed(async (tag, c) => c.name === 'APPEND' && this.#append(tag, c)),
    IDLE: this.#authed(async (tag) => this.#startIdle(tag)),
    CHECK: this.#sel(async (tag) => this.#done(tag, 'CHECK', 'CHECK completed')),
    CLOSE: this.#sel(async (tag) => this.#closeMailbox(tag, true)),
    UNSELECT: this.#sel(async (tag) => this.#closeMailbox(tag, false)),
    EXPUNGE: this.#sel(async (tag, c) => c.name === 'EXPUNGE' && this.#expunge(tag, c.uids)),
    FETCH: this.#sel(async (tag, c) => c.name === 'FETCH' && this.#fetch(tag, c.uid, c.set, c.items)),
    STORE: this.#sel(async (tag, c) => c.name === 'STORE' && this.#store(tag, c)),
    COPY: this.#sel(async (tag, c) => c.name === 'COPY' && this.#copy(tag, c)),
    MOVE: this.#sel(async (tag, c) => c.name === 'MOVE' && this.#copy(tag, c)),
    SEARCH: this.#sel(async (tag, c) => c.name === 'SEARCH' && this.#search(tag, c)),
  };

  #any(run: Handler['run']): Handler {
    return { states: ['not-authenticated', 'authenticated', 'selected'], run };
  }

  #authed(run: Handler['run']): Handler {
    return { states: ['authenticated', 'selected'], run };
  }

  #sel(run: Handler['run']): Handler {
    return { states: ['selected'], run };
  }

  async #finishCommand(tag: string, name: string, text: string): Promise<void> {
    if (this.#state === 'selected') return this.#done(tag, name, text);
    this.#ok(tag, text);
  }

  // --- not authenticated

  async #startTls(tag: string): Promise<void> {
    if (this.#secure || !this.#o.tlsAvailable) {
      this.#bad(tag, this.#secure ? 'TLS is already active' : 'STARTTLS is not available');
      return;
    }
    this.#ok(tag, 'Begin TLS negotiation now');
    // RFC 3501 §6.2.1: what the client pipelined after STARTTLS is not read.
    this.#reader.discard();
    try {
      await this.#io.startTls();
      this.#secure = true;
    } catch (err) {
      this.#log.debug({ err: errorText(err) }, 'TLS handshake failed');
      this.#close();
    }
  }

  async #login(tag: string, username: string, password: string): Promise<void> {
    if (!this.#loginAllowed()) {
      this.#no(tag, '[PRIVACYREQUIRED] LOGIN is disabled before STARTTLS');
      return;
    }
    await this.#checkCredentials(tag, username, password);
  }

  async #checkCredentials(tag: string, username: string, password: string): Promise<void> {
    const r = await this.#o.authenticator.authenticate({ username, password, remoteAddress: this.#o.remoteAddress, service: 'imap' });
    if (this.#state === 'logout') return;
    if (!r.ok) {
      this.#log.info({ locked: r.locked }, 'imap login failed');
      this.#no(tag, r.locked ? '[UNAVAILABLE] Too many failed logins; try again later' : '[AUTHENTICATIONFAILED] Invalid credentials');
      if (++this.#authFailures >= this.#o.limits.maxAuthFailures) {
        this.#send('* BYE Too many failed logins\r\n');
        this.#close();
      }
      return;
    }
    this.#user = r.address;
    this.#state = 'authenticated';
    this.#unwatch = this.#o.store.watchMailboxes((c) => this.#onChange(c));
    this.#log.info({ user: r.address }, 'imap login');
    this.#ok(tag, `[CAPABILITY ${this.#capabilities()}] Logged in`);
  }

  async #authenticate(tag: string, mechanism: string, initial: string | null): Promise<void> {
    if (mechanism !== 'PLAIN') {
      this.#no(tag, 'Unsupported authentication mechanism');
      return;
    }
    if (!this.#loginAllowed()) {
      this.#no(tag, '[PRIVACYREQUIRED] Authentication is disabled before STARTTLS');
      return;
    }
    if (initial === null) {
      this.#auth = { tag };
      this.#send('+ \r\n');
      return;
    }
    await this.#plain(tag, initial === '=' ? '' : initial);
  }

  async #authInput(bytes: Buffer): Promise<void> {
    const tag = this.#auth?.tag ?? '*';
    this.#auth = null;
    const line = bytes.toString('latin1').trim();
    if (line === '*') {
      this.#bad(tag, 'Authentication cancelled');
      return;
    }
    await this.#plain(tag, line);
  }

  async #plain(tag: string, response: string): Promise<void> {
    const p = decodePlain(response);
    if (!p.ok) {
      this.#bad(tag, `Bad PLAIN response: ${p.reason}`);
      return;
    }
    if (p.authzid !== '' && p.authzid.toLowerCase() !== p.username.toLowerCase()) {
      this.#no(tag, '[AUTHORIZATIONFAILED] Acting as another user is not allowed');
      return;
    }
    await this.#checkCredentials(tag, p.username, p.password);
  }

  // --- mailboxes

  async #select(tag: string, name: string, readOnly: boolean): Promise<void> {
    // RFC 3501 §6.3.1: a failed SELECT leaves no mailbox selected.
    this.#selected = null;
    this.#state = 'authenticated';
    const store = this.#o.store;
    const status = await store.getMailboxStatus({ address: this.#address, mailbox: name });
    if (status === null) {
      this.#no(tag, '[NONEXISTENT] No such mailbox');
      return;
    }
    const states = (await store.listMessageStates({ address: this.#address, mailbox: name })) ?? [];
    const top = states[states.length - 1]?.uid ?? 0;
    const mark = readOnly ? status.recentUid : ((await store.claimRecent({ address: this.#address, mailbox: name, upTo: top })) ?? top);
    const sel = new SelectedMailbox({
      name: status.mailbox.name,
      mailboxId: status.mailbox.id,
      readOnly,
      uidValidity: status.mailbox.uidValidity,
      uidNext: status.mailbox.uidNext,
    });
    sel.load(states, status.highestModseq, mark);
    const firstUnseen = sel.uids.findIndex((uid) => !(sel.messages.get(uid)?.flags ?? []).includes('\\Seen'));
    const out: Chunk[] = [
      `* FLAGS (${SYSTEM_FLAGS})\r\n`,
      `* OK [PERMANENTFLAGS (${readOnly ? '' : `${SYSTEM_FLAGS} \\*`})] Flags permitted\r\n`,
      `* ${sel.exists} EXISTS\r\n`,
      `* ${sel.recent.size} RECENT\r\n`,
    ];
    if (firstUnseen >= 0) out.push(`* OK [UNSEEN ${firstUnseen + 1}] First unseen\r\n`);
    out.push(`* OK [UIDVALIDITY ${sel.uidValidity}] UIDs valid\r\n`, `* OK [UIDNEXT ${Math.max(sel.uidNext, sel.lastUid + 1)}] Predicted next UID\r\n`);
    this.#send(...out);
    this.#selected = sel;
    this.#state = 'selected';
    this.#ok(tag, `[${readOnly ? 'READ-ONLY' : 'READ-WRITE'}] ${readOnly ? 'EXAMINE' : 'SELECT'} completed`);
  }

  #cleanName(name: string): string {
    return name.endsWith(DELIMITER) ? name.slice(0, -DELIMITER.length) : name;
  }

  async #create(tag: string, raw: string): Promise<void> {
    const name = this.#cleanName(raw);
    if (name === '' || name.toUpperCase() === 'INBOX' || name.split(DELIMITER).some((p) => p === '')) {
      this.#no(tag, name.toUpperCase() === 'INBOX' ? '[ALREADYEXISTS] INBOX exists' : '[CANNOT] Bad mailbox name');
      return;
    }
    const store = this.#o.store;
    if ((await store.getMailbox({ address: this.#address, mailbox: name })) !== null) {
      this.#no(tag, '[ALREADYEXISTS] Mailbox exists');
      return;
    }
    // RFC 3501 §6.3.3: superior names are created as needed.
    for (const parent of parentNames(name, DELIMITER)) {
      if ((await store.getMailbox({ address: this.#address, mailbox: parent })) === null) {
        await store.createMailbox({ address: this.#address, name: parent }).catch(() => undefined);
      }
    }
    try {
      await store.createMailbox({ address: this.#address, name });
    } catch (err) {
      if (isStoreError(err, StoreErrorCode.Invalid)) return this.#no(tag, '[ALREADYEXISTS] Mailbox exists');
      throw err;
    }
    await this.#finishCommand(tag, 'CREATE', 'CREATE completed');
  }

  async #delete(tag: string, name: string): Promise<void> {
    if (name.toUpperCase() === 'INBOX') return this.#no(tag, '[CANNOT] INBOX cannot be deleted');
    const deleted = await this.#o.store.deleteMailbox({ address: this.#address, mailbox: name });
    if (!deleted) return this.#no(tag, '[NONEXISTENT] No such mailbox');
    if (this.#selected !== null && this.#selected.name === name) {
      this.#send('* BYE The selected mailbox was deleted\r\n');
      this.#close();
      return;
    }
    await this.#finishCommand(tag, 'DELETE', 'DELETE completed');
  }

  async #rename(tag: string, from: string, rawTo: string): Promise<void> {
    const to = this.#cleanName(rawTo);
    if (to === '' || to.split(DELIMITER).some((p) => p === '')) return this.#no(tag, '[CANNOT] Bad mailbox name');
    try {
      await this.#o.store.renameMailbox({ address: this.#address, from, to, delimiter: DELIMITER });
    } catch (err) {
      if (isStoreError(err, StoreErrorCode.NotFound)) return this.#no(tag, '[NONEXISTENT] No such mailbox');
      if (isStoreError(err, StoreErrorCode.Invalid)) return this.#no(tag, '[ALREADYEXISTS] Target mailbox exists');
      throw err;
    }
    if (this.#selected !== null && this.#selected.name === from && from.toUpperCase() !== 'INBOX') this.#selected.name = to;
    await this.#finishCommand(tag, 'RENAME', 'RENAME completed');
  }

  async #subscribe(tag: string, name: string, on: boolean): Promise<void> {
    if (on && (await this.#o.store.getMailbox({ address: this.#address, mailbox: name })) === null) {
      return this.#no(tag, '[NONEXISTENT] No such mailbox');
    }
    await this.#o.store.setSubscribed({ address: this.#address, mailbox: name, subscribed: on });
    await this.#finishCommand(tag, on ? 'SUBSCRIBE' : 'UNSUBSCRIBE', `${on ? 'SUBSCRIBE' : 'UNSUBSCRIBE'} completed`);
  }

  async #list(tag: string, c: Extract<Command, { name: 'LIST' | 'LSUB' }>): Promise<void> {
    const verb = c.name;
    if (c.pattern === '') {
      // RFC 3501 §6.3.8: the delimiter and the root.
      this.#send(`* ${verb} (\\Noselect) ${quote(DELIMITER)} ""\r\n`);
      return this.#finishCommand(tag, verb, `${verb} completed`);
    }
    const store = this.#o.store;
    const boxes = (await store.listMailboxes(this.#address)) ?? [];
    const subscribed = new Set((await store.listSubscriptions(this.#address)) ?? []);
    const onlySubscribed = verb === 'LSUB' || c.selectOptions.includes('SUBSCRIBED');
    const onlySpecial = c.selectOptions.includes('SPECIAL-USE');
    const showSubscribed = c.returnOptions.includes('SUBSCRIBED') || c.selectOptions.includes('SUBSCRIBED');
    const byName = new Map(boxes.map((b) => [b.name, b]));
    const names = new Set<string>(verb === 'LSUB' ? subscribed : byName.keys());
    // Parents that do not exist themselves appear as \Noselect (RFC 3501 §6.3.8).
    for (const n of [...names]) for (const p of parentNames(n, DELIMITER)) names.add(p);
    const hasChildren = (n: string): boolean => [...byName.keys()].some((o) => o.startsWith(n + DELIMITER));
    const pattern = listPatternRegExp(c.reference + c.pattern, DELIMITER);
    const sorted = [...names].sort((a, b) => (a === 'INBOX' ? -1 : b === 'INBOX' ? 1 : a < b ? -1 : a > b ? 1 : 0));
    const out: Chunk[] = [];
    for (const name of sorted) {
      if (!matchesListPattern(name, pattern)) continue;
      const box = byName.get(name);
      if (onlySubscribed && !subscribed.has(name)) {
        // LSUB "%" shows an unsubscribed parent of a subscribed child as \Noselect.
        if (!(verb === 'LSUB' && [...subscribed].some((s) => s.startsWith(name + DELIMITER)))) continue;
      }
      if (onlySpecial && (box === undefined || box.specialUse === null)) continue;
      const attrs: string[] = [];
      if (box === undefined) attrs.push('\\Noselect');
      if (verb === 'LIST') attrs.push(hasChildren(name) ? '\\HasChildren' : '\\HasNoChildren');
      if (box?.specialUse != null && verb === 'LIST') attrs.push(box.specialUse);
      if (showSubscribed && subscribed.has(name)) attrs.push('\\Subscribed');
      out.push(`* ${verb} (${attrs.join(' ')}) ${quote(DELIMITER)} `, ...mailboxName(name), '\r\n');
    }
    if (out.length > 0) this.#send(...out);
    await this.#finishCommand(tag, verb, `${verb} completed`);
  }

  async #status(tag: string, name: string, items: string[]): Promise<void> {
    const s = await this.#o.store.getMailboxStatus({ address: this.#address, mailbox: name });
    if (s === null) return this.#no(tag, '[NONEXISTENT] No such mailbox');
    const values: Record<string, number> = {
      MESSAGES: s.messages,
      RECENT: s.recent,
      UIDNEXT: s.mailbox.uidNext,
      UIDVALIDITY: s.mailbox.uidValidity,
      UNSEEN: s.unseen,
      HIGHESTMODSEQ: s.highestModseq,
    };
    this.#send('* STATUS ', ...mailboxName(s.mailbox.name), ` (${items.map((i) => `${i} ${values[i] ?? 0}`).join(' ')})\r\n`);
    await this.#finishCommand(tag, 'STATUS', 'STATUS completed');
  }

  async #append(tag: string, c: Extract<Command, { name: 'APPEND' }>): Promise<void> {
    const store = this.#o.store;
    if (c.message.byteLength === 0) {
      if ((await store.getMailbox({ address: this.#address, mailbox: c.mailbox })) === null) return this.#no(tag, '[TRYCREATE] No such mailbox');
      return this.#no(tag, 'An empty message cannot be appended');
    }
    let r;
    try {
      // No look-up of the mailbox first: the append itself refuses a missing one, and the round
      // trip to the store's thread it saves is a fair part of an APPEND's time.
      r = await store.append({
        address: this.#address,
        mailbox: c.mailbox,
        data: c.message,
        internalDate: c.date ?? this.#o.now(),
        flags: c.flags,
      });
    } catch (err) {
      if (isStoreError(err, StoreErrorCode.NotFound)) return this.#no(tag, '[TRYCREATE] No such mailbox');
      throw err;
    }
    // An APPEND that was stored does not count against maxCommandsPerSecond: its pace is already
    // held by its durable commit (the session runs one command at a time, and this one waited for
    // the commit) and its size by maxLiteralSize. The throttle capped a client filling a mailbox
    // at 200 messages a second, below what the commits allow. An APPEND refused without a write
    // (no such mailbox, empty) stays counted, so a flood of those is still throttled.
    if (this.#window.count > 0) this.#window.count--;
    // RFC 4315 §3: APPENDUID.
    await this.#finishCommand(tag, 'APPEND', `[APPENDUID ${r.uidValidity} ${r.uid}] APPEND completed`);
  }

  // --- IDLE (RFC 2177)

  async #startIdle(tag: string): Promise<void> {
    this.#send('+ idling\r\n');
    const wake = (): void => {
      void this.#exclusive(async () => {
        if (this.#idle !== null) await this.#sync(null);
      });
    };
    const poller = this.#o.idlePoller;
    const sel = this.#selected;
    if (poller !== undefined && sel !== null) {
      const watch: IdleWatch = { address: this.#address, mailbox: () => sel.name, modseq: () => sel.modseq, wake };
      poller.add(watch);
      this.#idle = { tag, poll: null, watch };
    } else {
      const poll = setInterval(wake, this.#o.limits.pollIntervalMs);
      poll.unref();
      this.#idle = { tag, poll, watch: null };
    }
    // Changes since the last command are reported at once.
    await this.#sync(null);
  }

  async #idleInput(bytes: Buffer): Promise<void> {
    const idle = this.#idle;
    if (idle === null) return;
    this.#stopIdlePoll(idle);
    this.#idle = null;
    if (bytes.toString('latin1').trim().toUpperCase() !== 'DONE') {
      this.#bad(idle.tag, 'Expected DONE');
      return;
    }
    await this.#finishCommand(idle.tag, 'IDLE', 'IDLE terminated');
  }

  #stopIdlePoll(idle: { poll: ReturnType<typeof setInterval> | null; watch: IdleWatch | null }): void {
    if (idle.poll !== null) clearInterval(idle.poll);
    if (idle.watch !== null) this.#o.idlePoller?.delete(idle.watch);
  }

  // --- selected

  async #closeMailbox(tag: string, expunge: boolean): Promise<void> {
    const sel = this.#selected;
    // RFC 3501 §6.4.2: CLOSE expunges silently, and not in a read-only mailbox.
    if (expunge && sel !== null && !sel.readOnly) await this.#o.store.expunge({ address: this.#address, mailbox: sel.name });
    this.#selected = null;
    this.#state = 'authenticated';
    this.#ok(tag, `${expunge ? 'CLOSE' : 'UNSELECT'} completed`);
  }

  #readOnly(tag: string): boolean {
    if (this.#selected?.readOnly !== true) return false;
    this.#no(tag, '[READ-ONLY] The mailbox is read-only');
    return true;
  }

  #resolve(tag: string, set: Parameters<SelectedMailbox['resolve']>[0], byUid: boolean): SelectedMessage[] | null {
    const r = this.#selected?.resolve(set, byUid) ?? null;
    if (r === null) this.#bad(tag, 'Invalid message sequence number');
    return r;
  }

  async #expunge(tag: string, uids: Parameters<SelectedMailbox['resolve']>[0] | null): Promise<void> {
    const sel = this.#selected;
    if (sel === null || this.#readOnly(tag)) return;
    const only = uids === null ? undefined : (sel.resolve(uids, true) ?? []).map((m) => m.uid);
    const gone = await this.#o.store.expunge({ address: this.#address, mailbox: sel.name, uids: only });
    const out = sel.expunge(gone);
    if (out.length > 0) this.#send(...out);
    await this.#done(tag, 'EXPUNGE', 'EXPUNGE completed');
  }

  async #fetch(tag: string, byUid: boolean, set: Parameters<SelectedMailbox['resolve']>[0], items: FetchItem[]): Promise<void> {
    const sel = this.#selected;
    if (sel === null) return;
    const picked = this.#resolve(tag, set, byUid);
    if (picked === null) return;
    const store = this.#o.store;
    let list = items;
    if (setsSeen(items) && !sel.readOnly) {
      const unseen = picked.filter((m) => !m.state.flags.includes('\\Seen')).map((m) => m.uid);
      if (unseen.length > 0) {
        const changed = await store.setFlags({ address: this.#address, mailbox: sel.name, uids: unseen, operation: 'add', flags: ['\\Seen'] });
        for (const c of changed) sel.setFlags(c.uid, c.flags);
        // RFC 3501 §6.4.5: the client learns of the \Seen it caused.
        if (!items.some((i) => i.kind === 'FLAGS')) list = [...items, { kind: 'FLAGS' }];
      }
    }
    const withBody = needsBody(list);
    const cache = wantsStructure(list) ? (this.#o.structures ?? null) : null;
    // ENVELOPE and BODYSTRUCTURE alone need no read of the message once they are cached.
    const cacheAnswers = cache !== null && structureOnly(list);
    // Responses go out in batches of about BATCH_BYTES: one socket write (and TLS record) per
    // message would cost more than the response itself for the small ones.
    const batch: Chunk[] = [];
    let batched = 0;
    const flush = async (): Promise<void> => {
      if (batch.length === 0) return;
      this.#io.write(batch.splice(0));
      batched = 0;
      await this.#io.drain();
    };
    // The messages whose bytes are needed are read a group at a time (READ_BATCH messages or
    // READ_BATCH_BYTES, whichever comes first), one store call per group instead of one each.
    for (let start = 0; start < picked.length; ) {
      const group: Array<{ m: SelectedMessage; key: string; structure: MessageStructure | null; read: boolean }> = [];
      let groupBytes = 0;
      while (start < picked.length && group.length < READ_BATCH && groupBytes < READ_BATCH_BYTES) {
        const m = picked[start++] as SelectedMessage;
        const key = cache === null ? '' : StructureCache.key(sel.mailboxId, sel.uidValidity, m.uid);
        const structure = cache === null ? null : (cache.get(key) ?? null);
        const read = withBody && !(cacheAnswers && structure !== null);
        if (read) groupBytes += m.state.size;
        group.push({ m, key, structure, read });
      }
      const wanted = group.filter((g) => g.read).map((g) => g.m.uid);
      const bytes = new Map<number, Uint8Array>();
      if (wanted.length > 0) {
        const read = await store.readMessages({ address: this.#address, mailbox: sel.name, uids: wanted });
        for (const r of read ?? []) bytes.set(r.uid, r.data);
      }
      for (const { m, key, read, structure: known } of group) {
        let structure = known;
        const state = sel.messages.get(m.uid) ?? m.state;
        let data: Uint8Array | null = null;
        if (read) {
          data = bytes.get(m.uid) ?? null;
          // Expunged by another session meanwhile: nothing to say about it until the EXPUNGE.
          if (data === null) continue;
          if (cache !== null && structure === null) {
            structure = messageStructure(data);
            cache.set(key, structure);
          }
        }
        const response = fetchResponse(
          list,
          { seq: m.seq, uid: m.uid, flags: sel.flagsOf(m.uid), internalDate: state.internalDate, size: state.size, data, structure },
          byUid,
        );
        for (const c of response) {
          batch.push(c);
          batched += typeof c === 'string' ? c.length : c.byteLength;
        }
        if (batched >= BATCH_BYTES) await flush();
      }
    }
    await flush();
    await this.#done(tag, byUid ? 'UID FETCH' : 'FETCH', `${byUid ? 'UID ' : ''}FETCH completed`);
  }

  async #store(tag: string, c: Extract<Command, { name: 'STORE' }>): Promise<void> {
    const sel = this.#selected;
    if (sel === null || this.#readOnly(tag)) return;
    const picked = this.#resolve(tag, c.set, c.uid);
    if (picked === null) return;
    const changed = await this.#o.store.setFlags({
      address: this.#address,
      mailbox: sel.name,
      uids: picked.map((m) => m.uid),
      operation: c.operation,
      flags: c.flags,
    });
    for (const m of changed) sel.setFlags(m.uid, m.flags);
    if (!c.silent) {
      const out: Chunk[] = [];
      for (const m of picked) {
        if (!sel.messages.has(m.uid)) continue;
        out.push(`* ${m.seq} FETCH (FLAGS ${flagList(sel.flagsOf(m.uid))}${c.uid ? ` UID ${m.uid}` : ''})\r\n`);
      }
      if (out.length > 0) this.#send(...out);
    }
    await this.#done(tag, c.uid ? 'UID STORE' : 'STORE', `${c.uid ? 'UID ' : ''}STORE completed`);
  }

  async #copy(tag: string, c: Extract<Command, { name: 'COPY' | 'MOVE' }>): Promise<void> {
    const sel = this.#selected;
    if (sel === null) return;
    const move = c.name === 'MOVE';
    if (move && this.#readOnly(tag)) return;
    const picked = this.#resolve(tag, c.set, c.uid);
    if (picked === null) return;
    const store = this.#o.store;
    if ((await store.getMailbox({ address: this.#address, mailbox: c.mailbox })) === null) return this.#no(tag, '[TRYCREATE] No such mailbox');
    const r = await store.copyMessages({ address: this.#address, from: sel.name, to: c.mailbox, uids: picked.map((m) => m.uid), move });
    const prefix = c.uid ? 'UID ' : '';
    // RFC 4315 §3 COPYUID; empty when nothing was copied.
    const copyuid = r.uids.length === 0 ? '' : `[COPYUID ${r.uidValidity} ${formatSequenceSet(r.uids.map((p) => p[0]))} ${formatSequenceSet(r.uids.map((p) => p[1]))}] `;
    if (!move) return this.#done(tag, `${prefix}COPY`, `${copyuid}${prefix}COPY completed`);
    // RFC 6851 §4.3: COPYUID goes in an untagged OK before the EXPUNGEs.
    if (copyuid !== '') this.#send(`* OK ${copyuid}Moved\r\n`);
    const out = sel.expunge(r.uids.map((p) => p[0]));
    if (out.length > 0) this.#send(...out);
    await this.#done(tag, `${prefix}MOVE`, `${prefix}MOVE completed`);
  }

  async #search(tag: string, c: Extract<Command, { name: 'SEARCH' }>): Promise<void> {
    const sel = this.#selected;
    if (sel === null) return;
    if (c.charset !== null && !['US-ASCII', 'UTF-8'].includes(c.charset.toUpperCase())) {
      return this.#no(tag, '[BADCHARSET (US-ASCII UTF-8)] Unsupported charset');
    }
    const needs = searchNeeds(c.key);
    const ctx: SearchContext = { maxSeq: sel.exists, maxUid: sel.lastUid };
    const store = this.#o.store;
    const ref = { address: this.#address, mailbox: sel.name };
    if (needs.headerKeys.length > 0) {
      // Every header key of the search in one pass of the store over its kept header sections.
      const hits = (await store.searchHeaders({ ...ref, tests: needs.headerKeys.map((k) => ({ field: k.field, text: k.text })) })) ?? [];
      ctx.headerHits = new Map(needs.headerKeys.map((k, i) => [k, new Set(hits[i] ?? [])]));
    }
    const found: number[] = [];
    // The messages in groups: the bytes (BODY, TEXT) or header sections (SENT*) of a group are
    // read in one store call, and only a group's are held at once.
    const perGroup = needs.data ? READ_BATCH : needs.header ? HEADER_BATCH : sel.uids.length;
    for (let start = 0; start < sel.uids.length; ) {
      const uids: number[] = [];
      let groupBytes = 0;
      while (start < sel.uids.length && uids.length < perGroup && groupBytes < READ_BATCH_BYTES) {
        const uid = sel.uids[start++] as number;
        uids.push(uid);
        if (needs.data) groupBytes += sel.messages.get(uid)?.size ?? 0;
      }
      const data = new Map<number, Uint8Array>();
      const headers = new Map<number, Uint8Array>();
      if (needs.data) for (const r of (await store.readMessages({ ...ref, uids })) ?? []) data.set(r.uid, r.data);
      else if (needs.header) for (const r of (await store.readHeaders({ ...ref, uids })) ?? []) headers.set(r.uid, r.header);
      for (const uid of uids) {
        const state = sel.messages.get(uid);
        if (state === undefined) continue;
        const seq = sel.seqOf(uid);
        const m: SearchMessage = {
          seq,
          uid,
          flags: state.flags,
          recent: sel.recent.has(uid),
          internalDate: state.internalDate,
          size: state.size,
          data: data.get(uid) ?? null,
          header: headers.get(uid) ?? null,
        };
        if (matches(c.key, m, ctx)) found.push(c.uid ? uid : seq);
      }
    }
    this.#send(`* SEARCH${found.map((n) => ` ${n}`).join('')}\r\n`);
    await this.#done(tag, c.uid ? 'UID SEARCH' : 'SEARCH', `${c.uid ? 'UID ' : ''}SEARCH completed`);
  }
}

/** Mailbox names go out quoted (or as a literal when they must). */
function mailboxName(name: string): Chunk[] {
  if (/^[\x20-\x7e]*$/.test(name)) return [quote(name)];
  const bytes = Buffer.from(name, 'utf8');
  return [`{${bytes.length}}\r\n`, bytes];
}
