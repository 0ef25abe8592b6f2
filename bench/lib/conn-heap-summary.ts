/**
 * Where a process's JavaScript heap is, from a V8 heap snapshot (`node --heapsnapshot-signal`,
 * written by bench/connections.sh -M while the sessions are held): self size by constructor (and
 * by kind for strings, code, arrays, closures, native objects), largest first, with counts, so a
 * per-session object shows up as a count near the number of sessions held. Memory outside the V8
 * heap (OpenSSL's per-connection state, socket buffers) is not in a snapshot: compare the total
 * with the process's VmRSS.
 *
 *   node bench/lib/conn-heap-summary.ts FILE.heapsnapshot [TOP] [PER]
 *
 * PER (e.g. the number of sessions held) adds a bytes-per-session column.
 */
import { readFileSync } from 'node:fs';

interface Snapshot {
  snapshot: { meta: { node_fields: string[]; node_types: [string[], ...unknown[]] } };
  nodes: number[];
  strings: string[];
}

const [file, topText, perText] = process.argv.slice(2);
if (file === undefined) {
  process.stderr.write('usage: conn-heap-summary.ts FILE.heapsnapshot [TOP] [PER]\n');
  process.exit(2);
}
const top = Number(topText ?? '30');
const per = Number(perText ?? '0');
const snap = JSON.parse(readFileSync(file, 'utf8')) as Snapshot;
const fields = snap.snapshot.meta.node_fields;
const types = snap.snapshot.meta.node_types[0];
const width = fields.length;
const iType = fields.indexOf('type');
const iName = fields.indexOf('name');
const iSize = fields.indexOf('self_size');

const by = new Map<string, { count: number; bytes: number }>();
let total = 0;
for (let i = 0; i < snap.nodes.length; i += width) {
  const type = types[snap.nodes[i + iType] as number] ?? '?';
  const name = snap.strings[snap.nodes[i + iName] as number] ?? '?';
  const size = snap.nodes[i + iSize] as number;
  // Objects by constructor; everything else (strings, code, hidden arrays…) by kind only.
  const key = type === 'object' || type === 'native' || type === 'closure' ? `${type} ${name}` : `(${type})`;
  const e = by.get(key) ?? { count: 0, bytes: 0 };
  e.count++;
  e.bytes += size;
  by.set(key, e);
  total += size;
}

const mib = (b: number): string => (b / 1048576).toFixed(1).padStart(8);
process.stdout.write(`heap self size ${mib(total).trim()} MiB${per > 0 ? `, ${(total / per / 1024).toFixed(1)} KiB per session (${per})` : ''}\n`);
process.stdout.write(`${'MiB'.padStart(8)} ${'count'.padStart(9)}${per > 0 ? ' B/session'.padStart(10) : ''}  what\n`);
for (const [key, e] of [...by.entries()].sort((x, y) => y[1].bytes - x[1].bytes).slice(0, top)) {
  const each = per > 0 ? String(Math.round(e.bytes / per)).padStart(10) : '';
  process.stdout.write(`${mib(e.bytes)} ${String(e.count).padStart(9)}${each}  ${key.slice(0, 110)}\n`);
}
