/**
 * Paths shared by the tests. Tests compile to dist/test/, so the repository root is two levels up.
 */
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
/** The shared test material, beside the repository. */
export const SHARED_DIR = path.resolve(REPO_ROOT, '..', 'shared');
/** Cases with reference outputs: one folder per CT of SHARED_DIR/data/ct. */
export const REFERENCE_CASES: string[] = readdirSync(path.join(SHARED_DIR, 'reference'), { withFileTypes: true })
  .filter((entry) => entry.isDirectory())
  .map((entry) => entry.name)
  .sort();
/** Models exported from the stand-in weights, committed for tests. */
export const FIXTURE_MODELS_DIR = path.join(REPO_ROOT, 'test', 'fixtures', 'models');
