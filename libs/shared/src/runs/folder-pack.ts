import { lstat, mkdir, readdir, readlink, rm, stat } from 'node:fs/promises';
import { lstatSync, readlinkSync } from 'node:fs';
import path from 'node:path';
import { create as createTar, extract as extractTar, Parser, type ReadEntry } from 'tar';

/**
 * Folders travel between hosts as gzipped tars in Redis: skills from the submitter to every worker, a
 * scratch member's work to its dependants. node-tar (npm's own) writes and reads the archives; this module
 * adds what reins needs on top: sizes measured before anything is packed, links that leave the folder kept
 * out, and archives checked entry by entry before a byte is written, since agent output is untrusted.
 */

/** What a folder holds, as measureFolder counts it. */
export interface FolderMeasure {
  /** Total size of its regular files. */
  bytes: number;
  files: number;
  /** Symbolic links (relative to the folder) whose target is absolute or lies outside it. */
  outsideLinks: string[];
  /** Symbolic links that stay inside but point to nothing there. */
  danglingLinks: string[];
}

export interface FolderOptions {
  /** Paths relative to the folder, left out with everything below them (`.claude/skills`, say). */
  exclude?: readonly string[];
}

/** An archive that would write outside its destination, or something other than files, folders and links inside it. */
export class UnsafeArchiveError extends Error {
  override readonly name = 'UnsafeArchiveError';
}

export const isUnsafeArchiveError = (error: unknown): error is UnsafeArchiveError => error instanceof UnsafeArchiveError;

/** Whether a link at `linkPath` (relative to the folder, "/"-separated) to `target` stays inside the folder. */
export function linkStaysInside(linkPath: string, target: string): boolean {
  if (target === '' || path.posix.isAbsolute(target) || target.includes('\\')) return false;
  const resolved = path.posix.normalize(path.posix.join(path.posix.dirname(linkPath), target));
  return resolved !== '..' && !resolved.startsWith('../');
}

/** An entry's path as the checks compare it: "./a/b/" and "a/b" are one path. */
const tarPath = (entryPath: string): string => path.posix.normalize(entryPath).replace(/\/$/, '').replace(/^\.\//, '') || '.';

const excluded = (relative: string, exclude: readonly string[]): boolean => exclude.some((e) => relative === e || relative.startsWith(`${e}/`));

/** Walks a folder without following links: total file bytes, and the links that point outside it. */
export async function measureFolder(dir: string, options: FolderOptions = {}): Promise<FolderMeasure> {
  const exclude = options.exclude ?? [];
  const measure: FolderMeasure = { bytes: 0, files: 0, outsideLinks: [], danglingLinks: [] };
  const walk = async (relative: string): Promise<void> => {
    for (const name of (await readdir(path.join(dir, relative))).sort()) {
      const child = relative ? `${relative}/${name}` : name;
      if (excluded(child, exclude)) continue;
      const info = await lstat(path.join(dir, child));
      if (info.isDirectory()) await walk(child);
      else if (info.isFile()) {
        measure.bytes += info.size;
        measure.files += 1;
      } else if (info.isSymbolicLink()) {
        if (!linkStaysInside(child, await readlink(path.join(dir, child)))) measure.outsideLinks.push(child);
        else if (!(await exists(path.join(dir, child)))) measure.danglingLinks.push(child);
      }
    }
  };
  await walk('');
  return measure;
}

const exists = (file: string): Promise<boolean> =>
  stat(file).then(
    () => true,
    () => false,
  );

/**
 * A gzipped tar of the folder: files, folders and the links that stay inside it; excluded paths, links
 * that leave it and anything else (sockets, devices) are left out. Owners and times are not kept.
 */
export async function packFolder(dir: string, options: FolderOptions = {}): Promise<Buffer> {
  const exclude = options.exclude ?? [];
  const keep = (entryPath: string): boolean => {
    const relative = tarPath(entryPath);
    if (relative === '.') return true;
    if (excluded(relative, exclude)) return false;
    const info = lstatSync(path.join(dir, relative));
    if (info.isSymbolicLink()) return linkStaysInside(relative, readlinkSync(path.join(dir, relative)));
    return info.isFile() || info.isDirectory();
  };
  // A file linked twice is stored twice: the archive then has no hard links, which unpacking refuses.
  const noHardLinks = new (class extends Map<string, string> {
    override set(): this {
      return this;
    }
  })();
  return createTar({ gzip: true, portable: true, cwd: dir, filter: keep, linkCache: noHardLinks as never }, ['.']).concat();
}

const FILE_TYPES = new Set(['File', 'OldFile', 'ContiguousFile']);
const KEPT_TYPES = new Set([...FILE_TYPES, 'Directory', 'SymbolicLink']);
/** The pax and GNU headers node-tar reads and applies to the next entry itself. */
const META_TYPES = new Set(['ExtendedHeader', 'GlobalExtendedHeader', 'NextFileHasLongPath', 'NextFileHasLongLinkpath', 'OldExtendedHeader']);

/** Why an entry may not be unpacked, or undefined when it may. `links` holds the link entries seen before it. */
function entryProblem(entry: Pick<ReadEntry, 'type' | 'path' | 'linkpath'>, links: ReadonlySet<string>): string | undefined {
  if (META_TYPES.has(entry.type)) return undefined;
  if (!KEPT_TYPES.has(entry.type)) return `${entry.type} entries are not allowed`;
  if (entry.path === '' || path.posix.isAbsolute(entry.path) || entry.path.includes('\\')) return 'the path is absolute or empty';
  if (entry.path.split('/').includes('..')) return 'the path contains ".."';
  const entryPath = tarPath(entry.path);
  if (entryPath === '.' && entry.type !== 'Directory') return 'only a folder may stand for the destination itself';
  const parts = entryPath.split('/');
  // A link the archive made, then a path through it: the classic way to write outside the destination.
  for (let i = 1; i < parts.length; i += 1) if (links.has(parts.slice(0, i).join('/'))) return `the path goes through the link ${parts.slice(0, i).join('/')}`;
  if (entry.type === 'SymbolicLink' && !linkStaysInside(entryPath, entry.linkpath ?? '')) return `the link points outside (${entry.linkpath})`;
  return undefined;
}

/**
 * Checks every entry of an archive without writing anything; throws UnsafeArchiveError at the first bad one.
 * Returns what it holds as measureFolder counts a folder, so a packed folder meets the caps its folder met.
 */
export async function checkArchive(archive: Buffer): Promise<Pick<FolderMeasure, 'bytes' | 'files'>> {
  const links = new Set<string>();
  const measure = { bytes: 0, files: 0 };
  let problem: string | undefined;
  const parser = new Parser({
    strict: true,
    onReadEntry: (entry: ReadEntry) => {
      const found = problem ? undefined : entryProblem(entry, links);
      if (found) problem = `${entry.path}: ${found}`;
      if (entry.type === 'SymbolicLink') links.add(tarPath(entry.path));
      if (FILE_TYPES.has(entry.type)) {
        measure.bytes += entry.size ?? 0;
        measure.files += 1;
      }
      entry.resume();
    },
  });
  await new Promise<void>((resolve, reject) => {
    parser.on('error', (error: Error) => reject(new UnsafeArchiveError(`not a readable archive: ${error.message}`)));
    parser.on('end', () => resolve());
    parser.end(archive);
  });
  if (problem) throw new UnsafeArchiveError(`refused archive entry ${problem}`);
  return measure;
}

/** Group and others may read and enter, never write; no set-id or sticky bits; the owner can always read and write. */
const saneMode = (mode: number | undefined, directory: boolean): number => ((mode ?? (directory ? 0o755 : 0o644)) & 0o755) | (directory ? 0o700 : 0o600);

/**
 * Replaces `dest` with the archive's contents. The archive is checked first (checkArchive): nothing is
 * written when any entry would land outside `dest`, go through a link, or be a device, a FIFO or a hard link.
 */
export async function unpackFolder(archive: Buffer, dest: string): Promise<void> {
  await checkArchive(archive);
  await rm(dest, { recursive: true, force: true });
  await mkdir(dest, { recursive: true });
  const extractor = extractTar({
    cwd: dest,
    strict: true,
    preserveOwner: false,
    noMtime: true,
    filter: (_path, entry) => {
      const read = entry as ReadEntry;
      read.mode = saneMode(read.mode, read.type === 'Directory');
      return true;
    },
  });
  await new Promise<void>((resolve, reject) => {
    extractor.on('error', reject);
    extractor.on('finish', () => resolve());
    extractor.end(archive);
  });
}
