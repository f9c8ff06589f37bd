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
