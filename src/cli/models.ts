/**
 * `balaitous models`: checks a models directory and lists where models are looked up.
 */
import path from 'node:path';

import fs from 'fs-extra';

import { type Manifest, findModelsDir, manifestFiles, modelsSearchPath, readManifest, verifyModelsDir } from '../models.js';
import { UsageError, applyVerbosity, parse } from './options.js';

export const MODELS_HELP = `Usage: balaitous models verify [DIR] | balaitous models info

  verify [DIR]   check each file of a models directory (default: the one in use) against its
                 manifest: the networks, their precision variants and external data files, the heads
  info           list the places searched for models, in order, and what each holds

Options: --models DIR (searched first, so verify checks it when DIR is not given), --help, --quiet, --verbose.

Examples:
  balaitous models info
  balaitous models verify models/
  balaitous models verify test/fixtures/models`;

/** Lists the precisions a manifest offers: fp32 and the variants that every network has. */
function precisionsOf(manifest: Manifest): string[] {
  const variants = (['lungmask', 'vit_full', 'vit_lung'] as const).map((name) => Object.keys(manifest.files[name].variants ?? {}));
  return ['fp32', ...variants[0].filter((precision) => variants.every((names) => names.includes(precision)))];
}

export async function modelsCommand(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, { models: { type: 'string' } }, 'models');
  const [action, dirArgument] = positionals;
  if (values.help || action === undefined) {
    process.stdout.write(`${MODELS_HELP}\n`);
    return values.help ? 0 : 2;
  }
  applyVerbosity(values);

  if (action === 'info') {
    for (const { dir, source } of modelsSearchPath(values.models)) {
      let state = 'no manifest.json';
      if (await fs.pathExists(path.join(dir, 'manifest.json'))) {
        try {
          const manifest = await readManifest(dir);
          state = `${manifest.name}${manifest.published ? '' : ' (test models)'}, precisions ${precisionsOf(manifest).join(', ')}`;
        } catch (error) {
          state = `invalid: ${(error as Error).message}`;
        }
      }
      process.stdout.write(`${source.padEnd(16)} ${dir}: ${state}\n`);
    }
    return 0;
  }
  if (action === 'verify') {
    const dir = await findModelsDir(dirArgument ?? values.models);
    const problems = await verifyModelsDir(dir);
    if (problems.length > 0) {
      process.stdout.write(`${dir}: INVALID\n  ${problems.join('\n  ')}\n`);
      return 1;
    }
    const manifest = await readManifest(dir);
    const roles = manifestFiles(manifest).map(({ role }) => role);
    process.stdout.write(`${dir}: OK (${manifest.name}, every file matches its sha256: ${roles.join(', ')})\n`);
    return 0;
  }
  throw new UsageError(`unknown models action ${JSON.stringify(action)}: expected verify or info`);
}
