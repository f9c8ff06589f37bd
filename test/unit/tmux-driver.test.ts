import { describe, it, expect } from 'vitest';
import { TmuxDriver, cleanSessionName } from '../../apps/worker/src/tmux/driver.js';

describe('cleanSessionName', () => {
  it('replaces dots and colons, which tmux forbids in session names', () => {
    expect(cleanSessionName('r-abc123.writer')).toBe('r-abc123-writer');
    expect(cleanSessionName('host:1.2')).toBe('host-1-2');
  });

  it('keeps letters, digits, "_" and "-"', () => {
    expect(cleanSessionName('Run_1-a-Z9')).toBe('Run_1-a-Z9');
  });

  it('replaces spaces, slashes, quotes, "=" and non-ASCII characters', () => {
    expect(cleanSessionName(`a b/c'd"e=f$g`)).toBe('a-b-c-d-e-f-g');
    expect(cleanSessionName('é')).toBe('-');
  });

  it('caps the name at 200 characters', () => {
    expect(cleanSessionName('x'.repeat(300))).toBe('x'.repeat(200));
  });
});

describe('TmuxDriver.attachCommand', () => {
  it('targets the session exactly with "=" and quotes only what needs it', () => {
    expect(new TmuxDriver('/data/tmux.sock').attachCommand('r-abc-writer')).toBe('tmux -S /data/tmux.sock attach -t =r-abc-writer');
    expect(new TmuxDriver("/data dir/it's.sock").attachCommand('s')).toBe(`tmux -S '/data dir/it'\\''s.sock' attach -t =s`);
  });
});

describe.each([
  ['a tmux process per command', false],
  ['one control-mode client', true],
])('TmuxDriver.has, through %s', (_, control) => {
  it('answers yes from a shared list of sessions, but never no without asking tmux (real tmux, private socket)', async () => {
    const { mkdtemp, rm } = await import('node:fs/promises');
    const os = await import('node:os');
    const path = await import('node:path');
    const { execa } = await import('execa');
    const dir = await mkdtemp(path.join(os.tmpdir(), 'reins-tmux-has-'));
    const socket = path.join(dir, 'tmux.sock');
    const driver = new TmuxDriver(socket, { censusMaxAgeMs: 60_000, control });
    try {
      await driver.start({ name: 'first', cwd: dir, argv: ['sleep', '600'] });
      expect(await driver.has('first')).toBe(true);
      // Started after the list was taken: looked up, not taken for gone.
      await driver.start({ name: 'second', cwd: dir, argv: ['sleep', '600'] });
      expect(await driver.has('second')).toBe(true);
      // Gone behind the driver's back: the list still names it for its minute, yet a session missing from
      // tmux is never reported live for longer than that, and one that never was is not live.
      await execa('tmux', ['-S', socket, 'kill-session', '-t', '=second']);
      expect(await driver.has('never-started')).toBe(false);
      // Killed through the driver: the list is dropped, so the answer is tmux's own at once.
      await driver.kill('first');
      expect(await driver.has('first')).toBe(false);
      expect(await driver.has('second')).toBe(false);
    } finally {
      await driver.killServer();
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('TmuxDriver through one control-mode client (real tmux, private socket)', () => {
  const setUp = async () => {
    const { mkdtemp } = await import('node:fs/promises');
    const os = await import('node:os');
    const path = await import('node:path');
    const dir = await mkdtemp(path.join(os.tmpdir(), 'reins-tmux-control-'));
    return { dir, socket: path.join(dir, 'tmux.sock'), path };
  };
  const serverSessions = async (socket: string) => {
    const { execa } = await import('execa');
    const r = await execa('tmux', ['-S', socket, 'list-sessions', '-F', '#{session_name}'], { reject: false });
    return r.exitCode === 0 ? r.stdout.split('\n').filter(Boolean) : undefined;
  };

  it("passes a path and arguments tmux's parser would expand or split, literally", async () => {
    const { mkdir, readFile, rm, writeFile } = await import('node:fs/promises');
    const { waitFor } = await import('../helpers/chaos.js');
    const { dir, socket, path } = await setUp();
    const driver = new TmuxDriver(socket, { control: true });
    try {
      const cwd = path.join(dir, `we ird 'q' $HOME ~ #{session_name} ; {`);
      await mkdir(cwd);
      const script = path.join(dir, 'argv.sh');
      const out = path.join(dir, 'argv.out');
      await writeFile(script, `#!/bin/bash\nprintf '%s\\n' "$PWD" "$@" > ${JSON.stringify(`${out}.tmp`)} && mv ${JSON.stringify(`${out}.tmp`)} ${JSON.stringify(out)}\n`, { mode: 0o755 });
      const args = [`it's`, '~', '$HOME', 'a;b', ';', '#{session_name}', '{', '}', '\\n', '%%', 'x"y', '-t'];
      await driver.start({ name: 'weird', cwd, argv: [script, ...args] });
      const seen = await waitFor(() => readFile(out, 'utf8').catch(() => undefined), 'the script to write its argv');
      expect(seen.split('\n').slice(0, -1)).toEqual([cwd, ...args]);
      await expect(driver.start({ name: 'broken', cwd, argv: ['echo', 'one\ntwo'] })).rejects.toThrow(/line break/);
    } finally {
      await driver.killServer();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('keeps its own session out of list(), starts a new client after the server was killed, and leaves no server when closed with no agent', async () => {
    const { rm } = await import('node:fs/promises');
    const { execa } = await import('execa');
    const { dir, socket } = await setUp();
    const driver = new TmuxDriver(socket, { control: true, censusMaxAgeMs: 0 });
    try {
      await driver.start({ name: 'one', cwd: dir, argv: ['sleep', '600'] });
      expect(await serverSessions(socket)).toEqual(expect.arrayContaining(['control', 'one']));
      expect(await driver.list()).toEqual(['one']);
      // An error comes back as an answer, and the client goes on serving.
      await expect(driver.start({ name: 'one', cwd: dir, argv: ['sleep', '600'] })).rejects.toThrow(/duplicate session/);
      expect(await driver.has('one')).toBe(true);

      await execa('tmux', ['-S', socket, 'kill-server']);
      expect(await driver.has('one')).toBe(false);
      await driver.start({ name: 'two', cwd: dir, argv: ['sleep', '600'] });
      expect(await driver.list()).toEqual(['two']);

      // With an agent's session left, closing keeps the server for it.
      await driver.close();
      expect(await serverSessions(socket)).toEqual(expect.arrayContaining(['control', 'two']));
      expect(await driver.kill('two')).toBe(true);
      await driver.close();
      expect(await serverSessions(socket)).toBeUndefined();
    } finally {
      await driver.killServer();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
