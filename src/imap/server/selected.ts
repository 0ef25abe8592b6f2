/**
 * A session's view of its selected mailbox (RFC 3501 §2.3.1.2): the UIDs in sequence-number
 * order, each message's flags as last told to the client, which messages are \Recent for this
 * session, and the modseq the view is current to. `sync` brings it up to date with the store and
 * returns the untagged responses that tell the client: EXPUNGE (in descending sequence order, so
 * each number is right when the client reads it), EXISTS and RECENT for new messages, and FETCH
 * FLAGS for flags changed elsewhere. EXPUNGE is held back while the command in progress is one
 * during which sequence numbers must not move (RFC 3501 §7.4.1: FETCH, STORE, SEARCH).
 */
import type { MailboxStore, MessageState } from '../../store/types.ts';
import { flagList, type Chunk } from '../proto/format.ts';
import { resolveSequenceNumbers, resolveUidSet, type SequenceSet } from '../proto/sequence.ts';

export interface SelectedMessage {
  seq: number;
  uid: number;
  state: MessageState;
}

export type SyncOutcome = { ok: true; responses: Chunk[] } | { ok: false; gone: true };

export class SelectedMailbox {
  name: string;
  readonly mailboxId: number;
  readonly readOnly: boolean;
  readonly uidValidity: number;
  uids: number[] = [];
  readonly messages = new Map<number, MessageState>();
  readonly recent = new Set<number>();
  modseq = 0;
  /** The highest UID the client has been told exists. */
  lastUid = 0;
  uidNext: number;
  readonly #pendingExpunge = new Set<number>();

  constructor(options: { name: string; mailboxId: number; readOnly: boolean; uidValidity: number; uidNext: number }) {
    this.name = options.name;
    this.mailboxId = options.mailboxId;
    this.readOnly = options.readOnly;
    this.uidValidity = options.uidValidity;
    this.uidNext = options.uidNext;
  }

  /** Loads the messages; `recentAbove`: the UIDs above it are \Recent for this session. */
  load(states: readonly MessageState[], modseq: number, recentAbove: number): void {
    for (const s of states) {
      this.uids.push(s.uid);
      this.messages.set(s.uid, s);
      if (s.uid > recentAbove) this.recent.add(s.uid);
    }
    this.modseq = modseq;
    this.lastUid = this.uids[this.uids.length - 1] ?? 0;
  }

  get exists(): number {
    return this.uids.length;
  }

  seqOf(uid: number): number {
    let lo = 0;
    let hi = this.uids.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const v = this.uids[mid] as number;
      if (v === uid) return mid + 1;
      if (v < uid) lo = mid + 1;
      else hi = mid - 1;
    }
    return 0;
  }

  /** The messages a set names; null for sequence numbers past the end. */
  resolve(set: SequenceSet, byUid: boolean): SelectedMessage[] | null {
    const positions = byUid ? resolveUidSet(set, this.uids) : resolveSequenceNumbers(set, this.uids.length)?.map((n) => n - 1);
    if (positions === undefined) return null;
    const out: SelectedMessage[] = [];
    for (const i of positions) {
      const uid = this.uids[i] as number;
      const state = this.messages.get(uid);
      if (state !== undefined) out.push({ seq: i + 1, uid, state });
    }
    return out;
  }

  /** Records new flags the client is being told about (its own STORE or FETCH). */
  setFlags(uid: number, flags: readonly string[]): void {
    const s = this.messages.get(uid);
    if (s !== undefined) this.messages.set(uid, { ...s, flags: [...flags] });
  }

  flagsOf(uid: number): string[] {
    const s = this.messages.get(uid);
    const flags = s === undefined ? [] : [...s.flags];
    if (this.recent.has(uid)) flags.push('\\Recent');
    return flags;
  }

  /** Removes messages now, returning their EXPUNGE responses in descending sequence order. */
  expunge(uids: Iterable<number>): Chunk[] {
    const seqs: Array<[number, number]> = [];
    for (const uid of uids) {
      const seq = this.seqOf(uid);
      if (seq > 0) seqs.push([seq, uid]);
    }
    seqs.sort((a, b) => b[0] - a[0]);
    const out: Chunk[] = [];
    for (const [seq, uid] of seqs) {
      this.uids.splice(seq - 1, 1);
      this.messages.delete(uid);
      this.recent.delete(uid);
      this.#pendingExpunge.delete(uid);
      out.push(`* ${seq} EXPUNGE\r\n`);
    }
    return out;
  }

  /**
   * Brings the view up to date. `claimRecent` gives, for new messages up to a UID, the mark above
   * which they are this session's \Recent (null for a read-only view, which claims nothing).
   */
  async sync(
    store: Pick<MailboxStore, 'mailboxChanges'>,
    address: string,
    options: { allowExpunge: boolean; claimRecent: ((upTo: number) => Promise<number | null>) | null },
  ): Promise<SyncOutcome> {
    const changes = await store.mailboxChanges({ address, mailbox: this.name, since: this.modseq });
    if (changes === null) return { ok: false, gone: true };
    const out: Chunk[] = [];
    for (const uid of changes.expunged) if (this.messages.has(uid)) this.#pendingExpunge.add(uid);
    if (options.allowExpunge && this.#pendingExpunge.size > 0) out.push(...this.expunge([...this.#pendingExpunge]));

    const added: MessageState[] = [];
    for (const m of changes.changed) {
      if (m.uid > this.lastUid) {
        added.push(m);
        continue;
      }
      const known = this.messages.get(m.uid);
      if (known === undefined) continue;
      const same = known.flags.length === m.flags.length && known.flags.every((f) => m.flags.includes(f));
      this.messages.set(m.uid, m);
      if (!same) out.push(`* ${this.seqOf(m.uid)} FETCH (FLAGS ${flagList(this.flagsOf(m.uid))} UID ${m.uid})\r\n`);
    }
    if (added.length > 0) {
      const top = (added[added.length - 1] as MessageState).uid;
      const mark = options.claimRecent === null ? top : await options.claimRecent(top);
      for (const m of added) {
        this.uids.push(m.uid);
        this.messages.set(m.uid, m);
        if (mark !== null && m.uid > mark) this.recent.add(m.uid);
      }
      this.lastUid = top;
      this.uidNext = Math.max(this.uidNext, top + 1);
      out.push(`* ${this.uids.length} EXISTS\r\n`, `* ${this.recent.size} RECENT\r\n`);
    }
    this.modseq = Math.max(this.modseq, changes.highestModseq);
    return { ok: true, responses: out };
  }
}
