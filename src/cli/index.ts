/**
 * `postern <command>`: each command in a module of its own that parses nothing (commander does,
 * in main.ts) and touches the world only through an `Io`, so tests run commands in-process.
 */
export { main } from './main.ts';
export type { Io } from './io.ts';
