/**
 * Where a process spent its time, from a V8 CPU profile (`node --cpu-prof`): self time by
 * function, by file, and by area (our sources, each npm package, Node's internals, the garbage
 * collector, idle). Self time only: a function's callees are counted where they run, so the
 * tables add up to the wall time the profile covers.
 *
 *   node bench/lib/cpu-profile-summary.ts FILE.cpuprofile [TOP]
 */
import { readFileSync } from 'node:fs';

interface CallFrame { functionName: string; url: string; lineNumber: number }
interface ProfileNode { id: number; callFrame: CallFrame }
interface Profile { nodes: ProfileNode[]; samples: number[]; timeDeltas: number[]; startTime: number; endTime: number }

const [file, topText] = process.argv.slice(2);
if (file === undefined) {
  process.stderr.write('usage: cpu-profile-summary.ts FILE.cpuprofile [TOP]\n');
  process.exit(2);
}
const top = Number(topText ?? '25');
const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
const byId = new Map(profile.nodes.map((n) => [n.id, n]));

const selfUs = new Map<number, number>();
profile.samples.forEach((id, i) => {
  // timeDeltas[i] is the time before sample i; it is charged to the sample that follows it.
  const next = profile.timeDeltas[i + 1] ?? 0;
  selfUs.set(id, (selfUs.get(id) ?? 0) + next);
});
const total = [...selfUs.values()].reduce((a, b) => a + b, 0);

function shortFile(url: string): string {
  if (url === '') return '';
  const at = url.lastIndexOf('/node_modules/');
  if (at >= 0) return url.slice(at + 1);
  const src = url.search(/\/(src|bin|test)\//);
  if (src >= 0) return url.slice(src + 1);
  return url.replace(/^file:\/\//, '');
}
function area(frame: CallFrame): string {
  const u = frame.url;
  if (u === '') return frame.functionName.startsWith('(') ? frame.functionName : '(native/V8 builtins)';
  if (u.startsWith('node:')) return 'node: internals';
  const nm = /\/node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(u);
  if (nm !== null) return `npm ${nm[1]}`;
  const src = /\/src\/([^/]+)\//.exec(u);
  if (src !== null) return `src/${src[1]}/`;
  return shortFile(u);
}

const fns = new Map<string, number>();
const files = new Map<string, number>();
const areas = new Map<string, number>();
for (const [id, us] of selfUs) {
  const f = byId.get(id)?.callFrame;
  if (f === undefined) continue;
  const name = `${f.functionName || '(anonymous)'}  ${shortFile(f.url)}${f.url ? `:${f.lineNumber + 1}` : ''}`;
  fns.set(name, (fns.get(name) ?? 0) + us);
  const fileKey = f.url === '' ? (f.functionName.startsWith('(') ? f.functionName : '(native)') : shortFile(f.url);
  files.set(fileKey, (files.get(fileKey) ?? 0) + us);
  const a = area(f);
  areas.set(a, (areas.get(a) ?? 0) + us);
}

function table(title: string, m: Map<string, number>, n: number): void {
  process.stdout.write(`\n${title}\n`);
  const rows = [...m].sort((a, b) => b[1] - a[1]).slice(0, n);
  for (const [k, us] of rows) {
    process.stdout.write(`${(100 * us / total).toFixed(1).padStart(6)}%  ${(us / 1000).toFixed(0).padStart(7)} ms  ${k}\n`);
  }
}
process.stdout.write(`profile ${file}: ${(total / 1e6).toFixed(2)} s sampled, ${profile.samples.length} samples\n`);
table('self time by area', areas, 20);
table('self time by file', files, top);
table('self time by function', fns, top);
