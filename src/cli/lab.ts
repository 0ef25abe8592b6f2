/**
 * `postern lab [SCENARIO] [--keep]`: with no scenario, the list; with one, the run (src/lab).
 * The scenarios ship in the package's scenarios/ folder, and each host is `bin/postern.js` run by
 * this same Node (process.execPath), which is the pinned Node 24 when started through npm or npx.
 */
import { resolve } from 'node:path';
import { availableScenarios, listText, runLab } from '../lab/index.ts';
import type { Io } from './io.ts';

const ROOT = resolve(import.meta.dirname, '../..');

export interface LabCommandOptions {
  keep?: boolean;
}

export async function labCommand(scenario: string | undefined, options: LabCommandOptions, io: Io): Promise<number> {
  const scenariosDir = resolve(ROOT, 'scenarios');
  if (scenario === undefined) {
    io.stdout.write(listText(availableScenarios(scenariosDir)));
    return 0;
  }
  return runLab(scenario, {
    io,
    scenariosDir,
    node: process.execPath,
    bin: resolve(ROOT, 'bin/postern.js'),
    keep: options.keep === true,
  });
}
