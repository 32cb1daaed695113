import os from 'node:os';
import path from 'node:path';

import fs from 'fs-extra';
import { test } from 'uvu';
import * as assert from 'uvu/assert';

import { defaultThreads } from '../src/backend/onnx.js';
import { type CgroupPaths, cgroupCpuLimit, cgroupMemoryLimit } from '../src/cgroup.js';
import { memoryLimitBytes } from '../src/io/pixel-data.js';

/** Writes a fake /sys/fs/cgroup tree and /proc/self/cgroup file. */
async function fakeCgroup(files: Record<string, string>, procSelf = '0::/\n'): Promise<CgroupPaths> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'balaitous-cgroup-'));
  for (const [name, text] of Object.entries(files)) {
    await fs.outputFile(path.join(dir, 'cgroup', name), text);
  }
  await fs.outputFile(path.join(dir, 'proc-self-cgroup'), procSelf);
  return { root: path.join(dir, 'cgroup'), procSelfCgroup: path.join(dir, 'proc-self-cgroup') };
}

test('cgroup v2 quota limits the threads', async () => {
  const paths = await fakeCgroup({ 'cpu.max': '200000 100000\n' });
  assert.is(cgroupCpuLimit(paths), 2);
  assert.is(defaultThreads(paths), Math.min(2, os.availableParallelism()));
});

test('cgroup v2 without quota keeps the CPUs', async () => {
  const paths = await fakeCgroup({ 'cpu.max': 'max 100000\n' });
  assert.is(cgroupCpuLimit(paths), undefined);
  assert.is(defaultThreads(paths), os.availableParallelism());
});

test('fractional quotas round down to one', async () => {
  assert.is(cgroupCpuLimit(await fakeCgroup({ 'cpu.max': '150000 100000\n' })), 1);
  assert.is(cgroupCpuLimit(await fakeCgroup({ 'cpu.max': '20000 100000\n' })), 1);
});

test('cgroup v1 quota limits the threads', async () => {
  const paths = await fakeCgroup({ 'cpu,cpuacct/cpu.cfs_quota_us': '300000\n', 'cpu,cpuacct/cpu.cfs_period_us': '100000\n' });
  assert.is(cgroupCpuLimit(paths), 3);
});

test('cgroup v1 without quota keeps the CPUs', async () => {
  const paths = await fakeCgroup({ 'cpu/cpu.cfs_quota_us': '-1\n', 'cpu/cpu.cfs_period_us': '100000\n' });
  assert.is(cgroupCpuLimit(paths), undefined);
});

test('the process cgroup path is read', async () => {
  const paths = await fakeCgroup(
    { 'cpu.max': 'max 100000\n', 'jobs/balaitous/cpu.max': '100000 100000\n', 'jobs/balaitous/memory.max': '4294967296\n' },
    '0::/jobs/balaitous\n',
  );
  assert.is(cgroupCpuLimit(paths), 1);
  assert.is(cgroupMemoryLimit(paths), 4294967296);
});

test('no cgroup files mean no limits', async () => {
  const paths = await fakeCgroup({});
  assert.is(cgroupCpuLimit(paths), undefined);
  assert.is(cgroupMemoryLimit(paths), undefined);
  assert.is(defaultThreads(paths), os.availableParallelism());
  assert.is(memoryLimitBytes(paths), os.totalmem());
});

test('cgroup v2 memory.max limits the memory', async () => {
  assert.is(cgroupMemoryLimit(await fakeCgroup({ 'memory.max': '8589934592\n' })), 8589934592);
  assert.is(cgroupMemoryLimit(await fakeCgroup({ 'memory.max': 'max\n' })), undefined);
});

test('cgroup v1 memory limit and its no-limit value', async () => {
  assert.is(cgroupMemoryLimit(await fakeCgroup({ 'memory/memory.limit_in_bytes': '2147483648\n' })), 2147483648);
  assert.is(cgroupMemoryLimit(await fakeCgroup({ 'memory/memory.limit_in_bytes': '9223372036854771712\n' })), undefined);
});

test('memory limit never exceeds the host memory', async () => {
  const paths = await fakeCgroup({ 'memory.max': String(os.totalmem() * 4) });
  assert.is(memoryLimitBytes(paths), os.totalmem());
});

test.run();
