/**
 * The mail domains a node serves: the [[domain]] tables of its config file, and the domains added
 * with `postern domain add`, which live in the store so that every node sharing it (a cluster on
 * one PostgreSQL database) serves them without a restart. A name in both keeps the config's role
 * on this node: the file is what its admin wrote for this machine (a backup MX in another data
 * centre lists the domain as backup whatever the shared store says).
 */
import type { DomainConfig } from '../config/schema.ts';
import { errorText } from '../core/errors.ts';
import type { Logger } from '../core/logger.ts';
import type { DomainStore, MailDomain } from '../store/types.ts';

/** What routing asks for: the domains as they are now. */
export interface DomainSource {
  domains(): Promise<readonly DomainConfig[]>;
}

/** A list that never changes (tests, and callers that hold a config only). */
export function fixedDomains(list: readonly DomainConfig[]): DomainSource {
  const frozen = Object.freeze([...list]);
  return { domains: () => Promise.resolve(frozen) };
}

export interface Shadowed {
  name: string;
  configured: DomainConfig['role'];
  stored: DomainConfig['role'];
}

/**
 * The config's domains in config order, then the store's that the config does not name, by name.
 * `shadowed` lists the store's rows whose role the config overrides on this node.
 */
export function mergeDomains(configured: readonly DomainConfig[], stored: readonly Pick<MailDomain, 'name' | 'role'>[]): { domains: DomainConfig[]; shadowed: Shadowed[] } {
  const byName = new Map(configured.map((d) => [d.name, d]));
  const domains: DomainConfig[] = [...configured];
  const shadowed: Shadowed[] = [];
  for (const s of stored) {
    const c = byName.get(s.name);
    if (c === undefined) domains.push({ name: s.name, role: s.role });
    else if (c.role !== s.role) shadowed.push({ name: s.name, configured: c.role, stored: s.role });
  }
  return { domains, shadowed };
}

export interface DomainDirectoryOptions {
  configured: readonly DomainConfig[];
  store: Pick<DomainStore, 'listDomains'>;
  logger: Logger;
  /**
   * How old the list may be before a lookup reads the store again: a domain added on any node is
   * served everywhere within this. Default one second, one small query a second at most, and
   * none while no mail arrives.
   */
  maxAgeMs?: number;
  /** Monotonic milliseconds. */
  now?: () => number;
}

export class DomainDirectory implements DomainSource {
  readonly #o: DomainDirectoryOptions;
  readonly #now: () => number;
  readonly #maxAgeMs: number;
  readonly #log: Logger;
  #current: readonly DomainConfig[];
  #loadedAt = -Infinity;
  #loading: Promise<readonly DomainConfig[]> | null = null;
  /** `name role-in-config role-in-store` of conflicts already logged, so each is said once. */
  readonly #warned = new Set<string>();

  constructor(options: DomainDirectoryOptions) {
    this.#o = options;
    this.#now = options.now ?? (() => performance.now());
    this.#maxAgeMs = options.maxAgeMs ?? 1000;
    this.#log = options.logger.child({ component: 'domains' });
    this.#current = Object.freeze([...options.configured]);
  }

  /** The list read last, without asking the store. */
  snapshot(): readonly DomainConfig[] {
    return this.#current;
  }

  /** Reads the store now; rejects when it cannot (the start of a node should fail loudly then). */
  async load(): Promise<readonly DomainConfig[]> {
    const stored = await this.#o.store.listDomains();
    const { domains, shadowed } = mergeDomains(this.#o.configured, stored);
    for (const s of shadowed) {
      const key = `${s.name} ${s.configured} ${s.stored}`;
      if (this.#warned.has(key)) continue;
      this.#warned.add(key);
      this.#log.warn(
        { event: 'domains.shadowed', domain: s.name, configured: s.configured, stored: s.stored },
        `${s.name} is a ${s.stored} domain in the store but a ${s.configured} domain in this node's config file: the config file's role holds on this node`,
      );
    }
    const before = new Map(this.#current.map((d) => [d.name, d.role]));
    if (this.#loadedAt !== -Infinity) {
      for (const d of domains) {
        const was = before.get(d.name);
        if (was === undefined) this.#log.info({ event: 'domains.added', domain: d.name, role: d.role }, `now serving ${d.name} as a ${d.role} domain`);
        else if (was !== d.role) this.#log.info({ event: 'domains.changed', domain: d.name, role: d.role }, `${d.name} is now a ${d.role} domain`);
        before.delete(d.name);
      }
      for (const name of before.keys()) this.#log.info({ event: 'domains.removed', domain: name }, `no longer serving ${name}`);
    }
    this.#current = Object.freeze(domains);
    this.#loadedAt = this.#now();
    return this.#current;
  }

  /**
   * The list, read again when older than `maxAgeMs`. Callers at once share one read. When the
   * store cannot be read, the last list serves (the message that needs it will meet the same
   * store on commit, and fail there with a 4xx if it is really down).
   */
  async domains(): Promise<readonly DomainConfig[]> {
    if (this.#now() - this.#loadedAt < this.#maxAgeMs) return this.#current;
    this.#loading ??= this.load()
      .catch((err: unknown) => {
        // Not asked again before maxAgeMs: a store that is down is not hammered by every RCPT.
        this.#loadedAt = this.#now();
        this.#log.warn({ event: 'domains.read_failed', error: errorText(err) }, 'could not read the mail domains from the store; using the list read before');
        return this.#current;
      })
      .finally(() => {
        this.#loading = null;
      });
    return this.#loading;
  }
}
