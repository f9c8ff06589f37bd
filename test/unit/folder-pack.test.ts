import { existsSync, lstatSync } from 'node:fs';
import { mkdir, readFile, readlink, stat, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { Header, type HeaderData } from 'tar';
import { describe, expect, it } from 'vitest';
import { checkArchive, linkStaysInside, measureFolder, packFolder, unpackFolder } from '../../libs/shared/src/runs/folder-pack.js';
import { tempDir } from '../helpers/test-root.js';

/** A tar written by hand, as a hostile agent could: each entry a header block and its body, padded to 512. */
function rawTar(entries: (HeaderData & { body?: string })[]): Buffer {
  const blocks: Buffer[] = [];
  for (const { body = '', ...data } of entries) {
    const header = new Header({ mode: 0o644, mtime: new Date(0), size: Buffer.byteLength(body), ...data });
    const block = Buffer.alloc(512);
    header.encode(block, 0);
    blocks.push(block);
    if (body) {
      const padded = Buffer.alloc(Math.ceil(Buffer.byteLength(body) / 512) * 512);
      padded.write(body);
      blocks.push(padded);
    }
  }
  blocks.push(Buffer.alloc(1024));
  return gzipSync(Buffer.concat(blocks));
}

async function folder(files: Record<string, string>): Promise<string> {
  const dir = tempDir('pack');
  for (const [name, content] of Object.entries(files)) {
    await mkdir(path.dirname(path.join(dir, name)), { recursive: true });
    await writeFile(path.join(dir, name), content);
  }
  return dir;
}

describe('measureFolder', () => {
  it('counts the bytes of regular files, leaving out excluded paths', async () => {
    const dir = await folder({ 'a.txt': 'hello', 'sub/b.txt': '12345678', '.claude/skills/s/SKILL.md': 'x'.repeat(100), 'inputs/dep/c.txt': 'y'.repeat(50), '.claude/settings.json': '{}' });
    expect(await measureFolder(dir)).toEqual({ bytes: 165, files: 5, outsideLinks: [], danglingLinks: [] });
    expect(await measureFolder(dir, { exclude: ['.claude/skills', 'inputs'] })).toEqual({ bytes: 15, files: 3, outsideLinks: [], danglingLinks: [] });
  });

  it('names links that point outside the folder or are absolute, and not those that stay inside', async () => {
    const dir = await folder({ 'a.txt': 'a', 'sub/b.txt': 'b' });
    await symlink('../a.txt', path.join(dir, 'sub', 'up-inside'));
    await symlink('sub', path.join(dir, 'dir-link'));
    await symlink('../../etc/passwd', path.join(dir, 'sub', 'escape'));
    await symlink('/etc/passwd', path.join(dir, 'absolute'));
    await symlink('..', path.join(dir, 'parent'));
    expect((await measureFolder(dir)).outsideLinks).toEqual(['absolute', 'parent', 'sub/escape']);
  });

  it('judges a link by where it points from its own folder', () => {
    expect(linkStaysInside('a/b/link', '../c')).toBe(true);
    expect(linkStaysInside('a/link', '../../c')).toBe(false);
    expect(linkStaysInside('link', '.')).toBe(true);
    expect(linkStaysInside('link', '/abs')).toBe(false);
    expect(linkStaysInside('link', '')).toBe(false);
  });
});

describe('packFolder and unpackFolder', () => {
  it('round-trips files, folders, modes and inside links; leaves out excluded paths and outside links', async () => {
    const dir = await folder({ 'a.txt': 'alpha\n', 'sub/deep/b.txt': 'beta\n', 'inputs/dep/x.txt': 'not mine', '.claude/skills/s/SKILL.md': 'skill' });
    await writeFile(path.join(dir, 'run.sh'), '#!/bin/sh\n', { mode: 0o755 });
    await symlink('sub/deep/b.txt', path.join(dir, 'b-link'));
    await symlink('/etc/hostname', path.join(dir, 'outside'));
    const archive = await packFolder(dir, { exclude: ['inputs', '.claude/skills'] });
    const dest = path.join(tempDir('dest'), 'here');
    await unpackFolder(archive, dest);
    expect(await readFile(path.join(dest, 'a.txt'), 'utf8')).toBe('alpha\n');
    expect(await readFile(path.join(dest, 'sub/deep/b.txt'), 'utf8')).toBe('beta\n');
    expect(await readlink(path.join(dest, 'b-link'))).toBe('sub/deep/b.txt');
    expect(await readFile(path.join(dest, 'b-link'), 'utf8')).toBe('beta\n');
    expect((await stat(path.join(dest, 'run.sh'))).mode & 0o777).toBe(0o755);
    expect(existsSync(path.join(dest, 'inputs'))).toBe(false);
    expect(existsSync(path.join(dest, '.claude/skills'))).toBe(false);
    expect(existsSync(path.join(dest, '.claude'))).toBe(true);
    expect(() => lstatSync(path.join(dest, 'outside'))).toThrow();
  });

  it('stores a file linked twice as two files', async () => {
    const dir = await folder({ 'a.txt': 'same' });
    const { link } = await import('node:fs/promises');
    await link(path.join(dir, 'a.txt'), path.join(dir, 'b.txt'));
    const dest = tempDir('dest');
    await unpackFolder(await packFolder(dir), dest);
    expect(await readFile(path.join(dest, 'b.txt'), 'utf8')).toBe('same');
  });

  it('packs an empty folder', async () => {
    const dest = tempDir('dest');
    await unpackFolder(await packFolder(tempDir('empty')), dest);
    expect(existsSync(dest)).toBe(true);
  });

  it('replaces what the destination held', async () => {
    const dest = await folder({ 'old.txt': 'old' });
    await unpackFolder(await packFolder(await folder({ 'new.txt': 'new' })), dest);
    expect(existsSync(path.join(dest, 'old.txt'))).toBe(false);
    expect(await readFile(path.join(dest, 'new.txt'), 'utf8')).toBe('new');
  });
});

describe('unpackFolder refuses hostile archives, writing nothing', () => {
  const cases: [string, (HeaderData & { body?: string })[], RegExp][] = [
    ['an absolute path', [{ path: '/tmp/reins-pwned', type: 'File', body: 'x' }], /\/tmp\/reins-pwned: the path is absolute/],
    ['a path with ..', [{ path: 'a/../../escape.txt', type: 'File', body: 'x' }], /contains "\.\."/],
    ['a link that points outside', [{ path: 'link', type: 'SymbolicLink', linkpath: '../../etc' }], /link: the link points outside/],
    ['an absolute link', [{ path: 'link', type: 'SymbolicLink', linkpath: '/etc' }], /the link points outside/],
    [
      'a write through a link the archive made',
      [
        { path: 'dir', type: 'SymbolicLink', linkpath: '.' },
        { path: 'dir/x.txt', type: 'File', body: 'x' },
      ],
      /dir\/x\.txt: the path goes through the link dir/,
    ],
    [
      'a hard link',
      [
        { path: 'a.txt', type: 'File', body: 'x' },
        { path: 'b.txt', type: 'Link', linkpath: 'a.txt' },
      ],
      /Link entries are not allowed/,
    ],
    ['a device', [{ path: 'dev', type: 'CharacterDevice', devmaj: 1, devmin: 3 }], /CharacterDevice entries are not allowed/],
    ['a FIFO', [{ path: 'fifo', type: 'FIFO' }], /FIFO entries are not allowed/],
  ];
  for (const [what, entries, message] of cases) {
    it(`refuses ${what}`, async () => {
      const archive = rawTar([{ path: 'first.txt', type: 'File', body: 'harmless' }, ...entries]);
      const dest = path.join(tempDir('hostile'), 'dest');
      await expect(unpackFolder(archive, dest)).rejects.toThrow(message);
      expect(existsSync(dest)).toBe(false);
      expect(existsSync('/tmp/reins-pwned')).toBe(false);
    });
  }

  it('refuses what is not an archive', async () => {
    await expect(checkArchive(Buffer.from('not a tar at all, not even gzip'))).rejects.toThrow(/not a readable archive|refused/);
  });

  it('strips set-id bits and write access for others', async () => {
    const dest = tempDir('modes');
    await unpackFolder(
      rawTar([
        { path: 'suid', type: 'File', mode: 0o6777, body: '#!/bin/sh\n' },
        { path: 'd', type: 'Directory', mode: 0o1777 },
      ]),
      dest,
    );
    expect((await stat(path.join(dest, 'suid'))).mode & 0o7777).toBe(0o755);
    expect((await stat(path.join(dest, 'd'))).mode & 0o7777).toBe(0o755);
  });
});
