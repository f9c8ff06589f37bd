import { mkdirSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { staleBuilds } from '../helpers/stale-build.js';
import { tempDir } from '../helpers/test-root.js';

const BUILT_AT = new Date('2026-01-01T12:00:00Z');
const minutes = (n: number) => new Date(BUILT_AT.getTime() + n * 60_000);

let repo: string;
afterEach(() => rmSync(repo, { recursive: true, force: true }));

/** A repo of two projects, both built (and the CLI bundled) at BUILT_AT from sources a minute older. */
function builtRepo(): string {
  repo = tempDir('stale-build');
  writeFileSync(path.join(repo, 'tsconfig.json'), JSON.stringify({ files: [], references: [{ path: 'libs/shared' }, { path: 'apps/cli' }] }));
  for (const project of ['libs/shared', 'apps/cli']) {
    write(`${project}/src/index.ts`, minutes(-1));
    write(`${project}/src/nested/deep.ts`, minutes(-1));
    write(`${project}/dist/index.js`, BUILT_AT);
    write(`${project}/dist/.tsbuildinfo`, BUILT_AT);
  }
  write('apps/cli/dist/bundle/entry.json', BUILT_AT);
  return repo;
}

function write(file: string, mtime: Date): void {
  const full = path.join(repo, file);
  mkdirSync(path.dirname(full), { recursive: true });
  writeFileSync(full, '');
  utimesSync(full, mtime, mtime);
}

describe('staleBuilds', () => {
  it('finds nothing when every build is newer than its sources', () => {
    expect(staleBuilds(builtRepo())).toEqual([]);
  });

  it('names the project and the file when a source changed after the build', () => {
    builtRepo();
    write('apps/cli/src/nested/deep.ts', minutes(5));
    expect(staleBuilds(repo)).toEqual([`apps/cli: ${path.join('src', 'nested', 'deep.ts')} changed after the last build`]);
  });

  it('counts a new source file', () => {
    builtRepo();
    write('libs/shared/src/added.ts', minutes(1));
    expect(staleBuilds(repo)).toEqual([`libs/shared: ${path.join('src', 'added.ts')} changed after the last build`]);
  });

  it('says a project was never built when its build info is missing', () => {
    builtRepo();
    rmSync(path.join(repo, 'apps/cli/dist'), { recursive: true });
    expect(staleBuilds(repo)).toEqual(['apps/cli: never built (no dist/.tsbuildinfo)', 'apps/cli: never bundled (no dist/bundle/entry.json)']);
  });

  it("calls the CLI's bundle stale when libs/shared was built after it", () => {
    builtRepo();
    write('libs/shared/dist/.tsbuildinfo', minutes(2));
    expect(staleBuilds(repo)).toEqual(["apps/cli: the bundle is older than libs/shared's last build"]);
  });

  it('ignores files in src/ that tsc does not compile', () => {
    builtRepo();
    write('apps/cli/src/notes.md', minutes(5));
    expect(staleBuilds(repo)).toEqual([]);
  });
});
