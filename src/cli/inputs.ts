/**
 * Turns the SCAN arguments of `balaitous predict` into a list of scans: files as given, folders
 * searched (image files are scans, a folder of DICOM slices is one scan) and glob patterns
 * expanded for shells that pass them through unexpanded.
 */
import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';

import { isDicomFile } from '../io/dicom.js';
import { IMAGE_EXTENSIONS, hasImageExtension } from '../io/image.js';
import { log } from '../log.js';

/** Characters that make an argument a glob pattern: `*`, `?` and `[...]`. */
const GLOB_CHARACTERS = /[*?[]/;

/**
 * Expands the SCAN arguments into scan paths, in argument order, without duplicates. An argument
 * that does not exist and is not a pattern is kept, so that the batch reports it as a failed
 * scan. A pattern that matches nothing or a folder without scans is an error.
 */
export async function resolveScans(args: string[]): Promise<string[]> {
  const scans: string[] = [];
  const seen = new Set<string>();
  const add = (scan: string) => {
    const key = path.resolve(scan);
    if (!seen.has(key)) {
      seen.add(key);
      scans.push(scan);
    }
  };

  for (const arg of args) {
    const stats = await stat(arg).catch(() => undefined);
    if (stats === undefined && GLOB_CHARACTERS.test(arg)) {
      const matches = await expandGlob(arg);
      if (matches.length === 0) {
        throw new Error(`${arg}: no file or folder matches this pattern`);
      }
      for (const match of matches) {
        for (const scan of await scansIn(match)) add(scan);
      }
    } else if (stats?.isDirectory()) {
      const found = await scansIn(arg);
      if (found.length === 0) {
        throw new Error(`${arg}: no scan found in this folder (expected image files such as ${IMAGE_EXTENSIONS.join(', ')}, or DICOM slices)`);
      }
      for (const scan of found) add(scan);
    } else {
      add(arg);
    }
  }
  return scans;
}

/**
 * Lists the scans under a path: a file is one scan, and in a folder each image file is a scan, the
 * folder itself is one if it contains DICOM files, and subfolders are searched the same way.
 * Symbolic links to folders are not followed, so that a link loop cannot recurse forever.
 */
async function scansIn(target: string): Promise<string[]> {
  const stats = await stat(target).catch(() => undefined);
  if (!stats?.isDirectory()) {
    return [target];
  }

  const entries = (await readdir(target, { withFileTypes: true }))
    .filter((entry) => !entry.name.startsWith('.'))
    .sort((a, b) => a.name.localeCompare(b.name));
  const images: string[] = [];
  const subfolders: string[] = [];
  let dicomFiles = 0;
  for (const entry of entries) {
    const child = path.join(target, entry.name);
    if (entry.isDirectory()) {
      subfolders.push(child);
      continue;
    }
    const isFile = entry.isFile() || (entry.isSymbolicLink() && (await stat(child).catch(() => undefined))?.isFile());
    if (!isFile) continue;
    if (hasImageExtension(entry.name)) {
      images.push(child);
    } else if (await isDicomFile(child)) {
      dicomFiles++;
    }
  }

  const scans = dicomFiles > 0 ? [target, ...images] : images;
  if (dicomFiles > 0 && images.length > 0) {
    log.warn(`${target}: contains ${dicomFiles} DICOM file(s) and ${images.length} image file(s); each image file is scored, and the DICOM series as one more scan`);
  }
  for (const subfolder of subfolders) {
    scans.push(...(await scansIn(subfolder)));
  }
  return scans;
}

/**
 * Expands a glob pattern with `*` and `?` (within one path segment), `[...]` character classes
 * (`[!...]` negates) and `**` (any number of folders). Hidden names match only a segment that
 * starts with a dot, as in shells. Matches are sorted within each folder.
 */
export async function expandGlob(pattern: string): Promise<string[]> {
  const absolute = pattern.startsWith('/');
  const segments = pattern.split('/').filter((segment) => segment !== '');
  const matches: string[] = [];

  const walk = async (dir: string, index: number): Promise<void> => {
    if (index === segments.length) {
      matches.push(dir);
      return;
    }
    const segment = segments[index];
    const isLast = index === segments.length - 1;
    if (segment === '**') {
      await walk(dir, index + 1);
      for (const entry of await listDir(dir)) {
        if (entry.isDirectory() && !entry.name.startsWith('.')) await walk(path.join(dir, entry.name), index);
      }
      return;
    }
    if (!GLOB_CHARACTERS.test(segment)) {
      const child = path.join(dir, segment);
      const stats = await stat(child).catch(() => undefined);
      if (stats !== undefined && (isLast || stats.isDirectory())) await walk(child, index + 1);
      return;
    }
    const regex = segmentRegex(segment);
    for (const entry of await listDir(dir)) {
      if (entry.name.startsWith('.') && !segment.startsWith('.')) continue;
      if (!regex.test(entry.name)) continue;
      const child = path.join(dir, entry.name);
      if (isLast) {
        matches.push(child);
      } else if (entry.isDirectory() || (entry.isSymbolicLink() && (await stat(child).catch(() => undefined))?.isDirectory())) {
        await walk(child, index + 1);
      }
    }
  };

  await walk(absolute ? '/' : '.', 0);
  return matches;
}

async function listDir(dir: string) {
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
  return entries.sort((a, b) => a.name.localeCompare(b.name));
}

/** Converts one path segment of a glob pattern to an anchored regular expression. */
function segmentRegex(segment: string): RegExp {
  let source = '';
  for (let i = 0; i < segment.length; i++) {
    const character = segment[i];
    if (character === '*') {
      source += '[^/]*';
    } else if (character === '?') {
      source += '[^/]';
    } else if (character === '[' && segment.indexOf(']', i + 2) > i) {
      const end = segment.indexOf(']', i + 2);
      let members = segment.slice(i + 1, end);
      const negated = members.startsWith('!') || members.startsWith('^');
      if (negated) members = members.slice(1);
      source += `[${negated ? '^' : ''}${members.replace(/[\\\]]/g, '\\$&')}]`;
      i = end;
    } else {
      source += character.replace(/[.+^${}()|\\[\]]/g, '\\$&');
    }
  }
  return new RegExp(`^${source}$`);
}

/**
 * Returns a distinct name per scan for its output files: the file or folder name without its
 * image extension, with `-2`, `-3`, ... added where two scans would get the same name.
 */
export function scanOutputNames(scans: string[]): string[] {
  const taken = new Set<string>();
  return scans.map((scan) => {
    let stem = path.basename(path.resolve(scan));
    const extension = IMAGE_EXTENSIONS.find((ending) => stem.toLowerCase().endsWith(ending));
    if (extension !== undefined) stem = stem.slice(0, -extension.length);
    let name = stem;
    for (let count = 2; taken.has(name); count++) name = `${stem}-${count}`;
    taken.add(name);
    return name;
  });
}
