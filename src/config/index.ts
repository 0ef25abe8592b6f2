/**
 * postern.toml: the one file an admin edits. `schema.ts` is its single definition (zod), so every
 * error names the key that is wrong; `load.ts` reads TOML and returns a frozen, typed Config with
 * paths resolved against the file. No other module reads the config file or the environment for
 * settings: the composition root hands each part what it needs.
 */
export { configPathFrom, loadConfig, parseConfig } from './load.ts';
export type { Config, DomainConfig, DomainRole } from './schema.ts';
