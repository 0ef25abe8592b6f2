/**
 * `postern check-zone [FILE…]`: parse and check zone files the way the server will load them, so an
 * admin can test an edit before sending SIGHUP. Like named-checkzone, with our rules and messages.
 * Without files it checks every zone of the config's zones_dir.
 */
import { readdirSync } from 'node:fs';
import { basename, join } from 'node:path';
import { configPathFrom, loadConfig } from '../config/load.ts';
import { ErrorCode, PosternError, errorText } from '../core/errors.ts';
import { loadZoneFile } from '../dns/zone/load.ts';
import type { Io } from './io.ts';

export function checkZoneCommand(files: string[], options: { config?: string }, io: Io): number {
  if (files.length === 0) {
    const dir = loadConfig(configPathFrom(options.config, io.env)).dns.zonesDir;
    try {
      files = readdirSync(dir)
        .filter((f) => f.endsWith('.zone'))
        .sort()
        .map((f) => join(dir, f));
    } catch (err) {
      throw new PosternError(ErrorCode.Zone, `${dir}: cannot read the zones folder (dns.zones_dir): ${errorText(err)}`, { cause: err });
    }
    if (files.length === 0) throw new PosternError(ErrorCode.Zone, `${dir}: no *.zone files to check`);
  }
  let failed = 0;
  for (const file of files) {
    try {
      const zone = loadZoneFile(file);
      const types = new Map<string, number>();
      for (const r of zone.records) types.set(r.data.type, (types.get(r.data.type) ?? 0) + 1);
      const summary = [...types].map(([t, n]) => `${n} ${t}`).join(', ');
      io.stdout.write(`ok    ${basename(file)}: zone ${zone.origin}, ${zone.records.length} records (${summary})\n`);
    } catch (err) {
      failed++;
      io.stdout.write(`FAIL  ${basename(file)}\n${errorText(err).replace(/^/gm, '      ')}\n`);
    }
  }
  return failed === 0 ? 0 : 1;
}
