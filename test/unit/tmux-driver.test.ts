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

describe('TmuxDriver.has', () => {
  it('answers yes from a shared list of sessions, but never no without asking tmux (real tmux, private socket)', async () => {
    const { mkdtemp, rm } = await import('node:fs/promises');
    const os = await import('node:os');
    const path = await import('node:path');
    const { execa } = await import('execa');
    const dir = await mkdtemp(path.join(os.tmpdir(), 'reins-tmux-has-'));
    const socket = path.join(dir, 'tmux.sock');
    const driver = new TmuxDriver(socket, undefined, 60_000);
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
