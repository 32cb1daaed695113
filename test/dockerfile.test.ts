/**
 * Static checks of the Dockerfile and .dockerignore, since no Docker engine runs the build here:
 * the stages and what each copies, the runtime user, entrypoint and environment, and that every
 * file copied from the build context is kept by .dockerignore. tools/container-smoke.sh runs the
 * entrypoint as the image does.
 */
import { readFileSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';

import { test } from 'uvu';
import * as assert from 'uvu/assert';

import { REPO_ROOT } from './helpers.js';

interface Instruction {
  keyword: string;
  args: string;
  line: number;
}

interface Stage {
  image: string;
  name?: string;
  instructions: Instruction[];
}

/** Splits a Dockerfile into instructions, joining continuation lines and dropping comments. */
function parseDockerfile(text: string): Instruction[] {
  const instructions: Instruction[] = [];
  let pending: { text: string; line: number } | undefined;
  text.split('\n').forEach((raw, index) => {
    const line = raw.trim();
    if (pending === undefined && (line === '' || line.startsWith('#'))) return;
    if (pending !== undefined && line.startsWith('#')) return;
    const content = line.endsWith('\\') ? line.slice(0, -1) : line;
    pending = pending === undefined ? { text: content, line: index + 1 } : { text: `${pending.text} ${content}`, line: pending.line };
    if (!line.endsWith('\\')) {
      const [keyword, ...rest] = pending.text.trim().split(/\s+/);
      instructions.push({ keyword: keyword.toUpperCase(), args: rest.join(' '), line: pending.line });
      pending = undefined;
    }
  });
  return instructions;
}

function splitStages(instructions: Instruction[]): { args: Map<string, string>; stages: Stage[] } {
  const args = new Map<string, string>();
  const stages: Stage[] = [];
  for (const instruction of instructions) {
    if (instruction.keyword === 'FROM') {
      const [image, as, name] = instruction.args.split(/\s+/);
      stages.push({ image, name: as?.toUpperCase() === 'AS' ? name : undefined, instructions: [] });
    } else if (stages.length === 0 && instruction.keyword === 'ARG') {
      const [name, value] = instruction.args.split('=');
      args.set(name, value);
    } else {
      stages.at(-1)!.instructions.push(instruction);
    }
  }
  return { args, stages };
}

/** Converts a .dockerignore pattern to a regular expression over slash-separated paths. */
function patternToRegExp(pattern: string): RegExp {
  let source = '';
  for (let i = 0; i < pattern.length; i++) {
    const character = pattern[i];
    if (character === '*' && pattern[i + 1] === '*') {
      source += '.*';
      i++;
      if (pattern[i + 1] === '/') i++;
    } else if (character === '*') {
      source += '[^/]*';
    } else if (character === '?') {
      source += '[^/]';
    } else {
      source += character.replace(/[.+^${}()|[\]\\]/g, '\\$&');
    }
  }
  return new RegExp(`^${source}$`);
}

/**
 * Tells whether .dockerignore keeps `file` in the build context. The last pattern that matches the
 * file or one of its parent folders decides, and a pattern starting with `!` keeps what it matches.
 */
function keptByDockerignore(patterns: string[], file: string): boolean {
  const candidates = file.split('/').map((_, index, parts) => parts.slice(0, index + 1).join('/'));
  let kept = true;
  for (const pattern of patterns) {
    const negated = pattern.startsWith('!');
    const expression = patternToRegExp(path.posix.normalize(negated ? pattern.slice(1) : pattern).replace(/\/$/, ''));
    if (candidates.some((candidate) => expression.test(candidate))) kept = negated;
  }
  return kept;
}

function filesUnder(relative: string): string[] {
  const absolute = path.join(REPO_ROOT, relative);
  if (!statSync(absolute).isDirectory()) return [relative];
  return readdirSync(absolute).flatMap((name) => filesUnder(path.posix.join(relative, name)));
}

const dockerfile = splitStages(parseDockerfile(readFileSync(path.join(REPO_ROOT, 'Dockerfile'), 'utf8')));
const ignorePatterns = readFileSync(path.join(REPO_ROOT, '.dockerignore'), 'utf8')
  .split('\n')
  .map((line) => line.trim())
  .filter((line) => line !== '' && !line.startsWith('#'));
const runtime = dockerfile.stages.at(-1)!;
const stageNamed = (name: string) => dockerfile.stages.find((stage) => stage.name === name);
const instructionsOf = (stage: Stage, keyword: string) => stage.instructions.filter((instruction) => instruction.keyword === keyword);

test('dockerignore matcher follows the last pattern', () => {
  const patterns = ['*', '!tools', 'tools/tests', '**/__pycache__'];
  assert.ok(keptByDockerignore(patterns, 'tools/install-models'));
  assert.not.ok(keptByDockerignore(patterns, 'tools/tests/test_export_models.py'));
  assert.not.ok(keptByDockerignore(patterns, 'tools/balaitous_export/__pycache__/sources.cpython-311.pyc'));
  assert.not.ok(keptByDockerignore(patterns, 'node_modules/fs-extra/package.json'));
});

test('stages are named and in order', () => {
  assert.equal(dockerfile.stages.map((stage) => stage.name), ['checkpoints', 'export', 'models', 'build', undefined]);
  assert.is(stageNamed('checkpoints')!.image, 'scratch');
  assert.is(stageNamed('models')!.image, 'scratch');
});

test('runtime image is CUDA 12 with cuDNN', () => {
  assert.is(runtime.image, '${CUDA_IMAGE}');
  assert.match(dockerfile.args.get('CUDA_IMAGE') ?? '', /^nvidia\/cuda:12\.\d+\.\d+-cudnn-runtime-ubuntu\d+\.\d+$/);
  assert.match(dockerfile.args.get('NODE_IMAGE') ?? '', /^node:20-/);
});

test('build context copies are kept', () => {
  for (const stage of dockerfile.stages) {
    for (const copy of instructionsOf(stage, 'COPY').filter((instruction) => !instruction.args.startsWith('--from='))) {
      const sources = copy.args.split(/\s+/).slice(0, -1);
      for (const source of sources) {
        const files = filesUnder(source.replace(/\/$/, '')).filter((file) => !file.includes('__pycache__'));
        assert.ok(files.length > 0, `line ${copy.line}: ${source} is empty`);
        for (const file of files) assert.ok(keptByDockerignore(ignorePatterns, file), `line ${copy.line}: .dockerignore leaves out ${file}`);
      }
    }
  }
});

test('local models stay out of the context', () => {
  for (const file of ['models/lungmask.onnx', 'node_modules/onnxruntime-node/package.json', 'dist/src/cli.js', 'test/fixtures/models/vit_full.onnx', '.git/HEAD']) {
    assert.not.ok(keptByDockerignore(ignorePatterns, file), file);
  }
});

test('copies from stages name earlier stages', () => {
  const seen = new Set<string>();
  for (const stage of dockerfile.stages) {
    for (const copy of instructionsOf(stage, 'COPY')) {
      const from = /^--from=(\S+)/.exec(copy.args)?.[1];
      if (from !== undefined) assert.ok(seen.has(from), `line ${copy.line}: --from=${from} is not an earlier stage`);
    }
    if (stage.name) seen.add(stage.name);
  }
});

test('build stage installs the CUDA provider', () => {
  const runs = instructionsOf(stageNamed('build')!, 'RUN').map((instruction) => instruction.args).join('\n');
  assert.match(runs, 'npm ci --ignore-scripts');
  assert.match(runs, 'ONNXRUNTIME_NODE_INSTALL=cuda12 node script/install');
  assert.match(runs, 'test -f bin/napi-v6/linux/x64/libonnxruntime_providers_cuda.so');
  assert.match(runs, 'node bin/balaitous.js models verify models');
});

test('runtime runs the entrypoint unprivileged', () => {
  const users = instructionsOf(runtime, 'USER').map((instruction) => instruction.args);
  assert.equal(users, ['user']);
  const [entrypoint] = instructionsOf(runtime, 'ENTRYPOINT');
  assert.equal(JSON.parse(entrypoint.args), ['node', '/opt/balaitous/bin/balaitous.js', 'gc']);
  const environment = instructionsOf(runtime, 'ENV').map((instruction) => instruction.args);
  assert.ok(environment.includes('BALAITOUS_MODELS=/opt/balaitous/models'), environment.join('; '));
});

test('runtime holds what the package runs', () => {
  const copied = instructionsOf(runtime, 'COPY')
    .map((instruction) => /^--from=build \/opt\/balaitous\/(\S+) /.exec(instruction.args)?.[1])
    .filter((source): source is string => source !== undefined)
    .map((source) => source.replace(/\/$/, ''));
  const { files } = JSON.parse(readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')) as { files: string[] };
  // The published package also lists the export tools and models/README.md, which the image does not need.
  const runtimeFiles = files.filter((file) => !file.startsWith('tools/') && !file.startsWith('models/'));
  for (const needed of ['package.json', 'node_modules', 'models', ...runtimeFiles]) {
    assert.ok(copied.includes(needed), `the runtime stage does not copy ${needed} from the build stage`);
  }
});

test.run();
