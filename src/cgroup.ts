/**
 * Resource limits of a container, read from the cgroup files of this process: the CPU quota
 * that sizes thread pools and the memory limit that bounds the largest image that can be read.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';

/** Locations of the cgroup mount and of the file that names this process's cgroups; the Linux paths by default. */
export interface CgroupPaths {
  root?: string;
  procSelfCgroup?: string;
}

/** Memory limits above this count as none: cgroup v1 reports "no limit" as a page-rounded value near 2^63. */
const UNLIMITED_BYTES = 2 ** 60;

function readText(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8').trim();
  } catch {
    return undefined;
  }
}

/**
 * Returns the folders that may hold a controller's files: the cgroup v2 root and v1 mounts of
 * `controller` (alone or joined with others, such as `cpu,cpuacct`), each also with the
 * process's own cgroup path from `/proc/self/cgroup` appended.
 */
function controllerDirs(controller: string, { root = '/sys/fs/cgroup', procSelfCgroup = '/proc/self/cgroup' }: CgroupPaths) {
  const v1Mounts = controller === 'cpu' ? ['cpu', 'cpu,cpuacct', 'cpuacct,cpu'] : [controller];
  const v2 = [root];
  const v1 = v1Mounts.map((name) => path.join(root, name));
  for (const line of (readText(procSelfCgroup) ?? '').split('\n')) {
    // Lines are "hierarchy-id:controllers:path"; cgroup v2 has id 0 and no controllers.
    const [, controllers, cgroupPath] = /^\d+:([^:]*):(\/.*)$/.exec(line) ?? [];
    if (cgroupPath === undefined || cgroupPath === '/') continue;
    if (controllers === '') v2.push(path.join(root, cgroupPath));
    if (controllers.split(',').includes(controller)) v1.push(...v1Mounts.map((name) => path.join(root, name, cgroupPath)));
  }
  return { v2, v1 };
}

/**
 * Returns the CPUs that the cgroup CPU quota of this process allows, rounded down (at least 1), or
 * undefined without a quota. Reads cgroup v2 `cpu.max` and cgroup v1 `cpu.cfs_quota_us` and
 * `cpu.cfs_period_us`, at the root (the container's own cgroup when it has a cgroup namespace) and
 * in the process's cgroup. The smallest quota wins.
 */
export function cgroupCpuLimit(paths: CgroupPaths = {}): number | undefined {
  const { v2, v1 } = controllerDirs('cpu', paths);
  const quotas: number[] = [];
  for (const dir of v2) {
    const [quota, period] = (readText(path.join(dir, 'cpu.max')) ?? '').split(/\s+/).map(Number);
    if (quota > 0 && period > 0) quotas.push(quota / period);
  }
  for (const dir of v1) {
    const quota = Number(readText(path.join(dir, 'cpu.cfs_quota_us')));
    const period = Number(readText(path.join(dir, 'cpu.cfs_period_us')));
    if (quota > 0 && period > 0) quotas.push(quota / period);
  }
  return quotas.length === 0 ? undefined : Math.max(1, Math.floor(Math.min(...quotas)));
}

/**
 * Returns the cgroup memory limit of this process in bytes, or undefined without one. Reads
 * cgroup v2 `memory.max` and cgroup v1 `memory.limit_in_bytes`, as for the CPU quota.
 */
export function cgroupMemoryLimit(paths: CgroupPaths = {}): number | undefined {
  const { v2, v1 } = controllerDirs('memory', paths);
  const limits = [
    ...v2.map((dir) => Number(readText(path.join(dir, 'memory.max')))),
    ...v1.map((dir) => Number(readText(path.join(dir, 'memory.limit_in_bytes')))),
  ].filter((bytes) => bytes > 0 && bytes < UNLIMITED_BYTES);
  return limits.length === 0 ? undefined : Math.min(...limits);
}
