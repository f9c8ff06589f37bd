import { describe, expect, it } from 'vitest';
import { formatAge, formatCostUsd, formatDuration, formatTokens, totalTokens } from '../../libs/shared/src/format.js';
import { BOARD_JS } from '../../apps/board/src/views/assets.js';

describe('formatCostUsd', () => {
  it('shows four decimals below a dollar and cents above', () => {
    expect(formatCostUsd(0)).toBe('$0.0000');
    expect(formatCostUsd(0.0125)).toBe('$0.0125');
    expect(formatCostUsd(0.99994)).toBe('$0.9999');
    expect(formatCostUsd(1)).toBe('$1.00');
    expect(formatCostUsd(12.345)).toBe('$12.35');
  });

  it("shows the caller's placeholder for a missing figure", () => {
    expect(formatCostUsd(undefined)).toBe('-');
    expect(formatCostUsd(undefined, '—')).toBe('—');
    expect(formatCostUsd(Number.NaN)).toBe('-');
  });
});

describe('formatTokens and totalTokens', () => {
  it('writes tokens exactly, grouped by thousands, and a missing count as missing', () => {
    expect(formatTokens(950)).toBe('950');
    expect(formatTokens(15_100)).toBe('15,100');
    expect(formatTokens(12_345_678)).toBe('12,345,678');
    expect(formatTokens(undefined)).toBe('-');
    expect(formatTokens(Number.NaN, '—')).toBe('—');
  });

  it('adds what members report, and is missing when none reports any (command agents)', () => {
    expect(totalTokens([{ tokens: 3_000 }, {}, { tokens: 100 }])).toBe(3_100);
    expect(totalTokens([{}, { tokens: undefined }])).toBeUndefined();
  });
});

describe('formatDuration', () => {
  it('reads in the largest two units, tenths of a second below a minute', () => {
    expect(formatDuration(0)).toBe('0 ms');
    expect(formatDuration(250)).toBe('250 ms');
    expect(formatDuration(1_000)).toBe('1.0 s');
    expect(formatDuration(1_540)).toBe('1.5 s');
    expect(formatDuration(59_940)).toBe('59.9 s');
    expect(formatDuration(59_960)).toBe('1 min 0 s');
    expect(formatDuration(119_600)).toBe('2 min 0 s');
    expect(formatDuration(3 * 60_000 + 2_000)).toBe('3 min 2 s');
    expect(formatDuration(2 * 3_600_000 + 5 * 60_000)).toBe('2 h 5 min');
    expect(formatDuration(3 * 86_400_000 + 4 * 3_600_000)).toBe('3 d 4 h');
  });

  it('never goes negative, and shows the placeholder for a missing figure', () => {
    expect(formatDuration(-5)).toBe('0 ms');
    expect(formatDuration(undefined)).toBe('-');
    expect(formatDuration(Number.POSITIVE_INFINITY, '—')).toBe('—');
  });
});

describe('formatAge', () => {
  it('says how long ago, in one unit', () => {
    expect(formatAge(400)).toBe('0 s ago');
    expect(formatAge(59_999)).toBe('59 s ago');
    expect(formatAge(60_000)).toBe('1 min ago');
    expect(formatAge(3 * 3_600_000 + 59 * 60_000)).toBe('3 h ago');
    expect(formatAge(2 * 86_400_000)).toBe('2 d ago');
    expect(formatAge(-1_000)).toBe('0 s ago');
    expect(formatAge(undefined)).toBe('-');
  });

  it("agrees with the board's live ticker, which writes ages in the browser", () => {
    const ageText = new Function(`${/const ageText = \(ms\) => \{[\s\S]*?\n {2}\};/.exec(BOARD_JS)![0]}; return ageText;`)() as (ms: number) => string;
    for (const ms of [0, 999, 1_000, 59_999, 60_000, 3_599_999, 3_600_000, 86_399_999, 86_400_000, 10 * 86_400_000]) expect(ageText(ms), String(ms)).toBe(formatAge(ms));
  });
});
