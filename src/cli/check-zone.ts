/**
 * `postern check-zone [FILE…]`: parse and check zone files the way the server will load them, so an
 * admin can test an edit before sending SIGHUP. Like named-checkzone, with our rules and messages.
 * Without files it checks every zone of the config's zones_dir.
 */
import { basename } from 'node:path';
import { configPathFrom, loadConfig } from '../config/load.ts';
import { ErrorCode, PosternError, errorText } from '../core/errors.ts';
import { loadZoneFile, loadZonesDir } from '../dns/zone/load.ts';
import type { Zone } from '../dns/zone/types.ts';
import type { Io } from './io.ts';

export function checkZoneCommand(files: string[], options: { config?: string }, io: Io): number {
  if (files.length === 0) {
    // The folder as the server reads it: same file selection, same duplicate-zone rule.
    const dir = loadConfig(configPathFrom(options.config, io.env)).dns.zonesDir;
    let loaded;
    try {
      loaded = loadZonesDir(dir);
    } catch (err) {
      throw new PosternError(ErrorCode.Zone, `dns.zones_dir: ${errorText(err)}`, { cause: err });
    }
    if (loaded.zones.length + loaded.failures.length === 0) throw new PosternError(ErrorCode.Zone, `dns.zones_dir: ${dir} has no *.zone files to check`);
    const rows = [
      ...loaded.zones.map((zone) => ({ file: zone.file, line: okLine(zone) })),
      ...loaded.failures.map((f) => ({ file: f.file, line: failLine(f.file, f.error) })),
    ].sort((x, y) => basename(x.file).localeCompare(basename(y.file)));
    for (const r of rows) io.stdout.write(r.line);
    return loaded.failures.length === 0 ? 0 : 1;
  }
  let failed = 0;
  for (const file of files) {
    try {
      io.stdout.write(okLine(loadZoneFile(file)));
    } catch (err) {
      failed++;
      io.stdout.write(failLine(file, errorText(err)));
    }
  }
  return failed === 0 ? 0 : 1;
}

function okLine(zone: Zone): string {
  const types = new Map<string, number>();
  for (const r of zone.records) types.set(r.data.type, (types.get(r.data.type) ?? 0) + 1);
  const summary = [...types].map(([t, n]) => `${n} ${t}`).join(', ');
  return `ok    ${basename(zone.file)}: zone ${zone.origin}, ${zone.records.length} records (${summary})\n`;
}

function failLine(file: string, error: string): string {
  return `FAIL  ${basename(file)}\n${error.replace(/^/gm, '      ')}\n`;
}
