import { describe, it, expect } from 'vitest';
import { BACKOFF_TYPE, backoffDelayMs } from '@reins/shared';
import type { BackoffPolicy } from '../../libs/shared/src/jobs/backoff.js';

const POLICY: BackoffPolicy = { baseMs: 1_000, factor: 2, maxMs: 10_000, jitter: 0.2 };
const NO_JITTER: BackoffPolicy = { ...POLICY, jitter: 0 };
const middle = () => 0.5;
const low = () => 0;
const high = () => 1;

describe('backoffDelayMs', () => {
  it('waits the base delay before the first retry', () => {
    expect(backoffDelayMs(POLICY, 1, middle)).toBe(1_000);
    expect(backoffDelayMs(NO_JITTER, 1, low)).toBe(1_000);
  });

  it('multiplies by the factor on each later attempt', () => {
    expect([1, 2, 3, 4].map((n) => backoffDelayMs(POLICY, n, middle))).toEqual([1_000, 2_000, 4_000, 8_000]);
    const triple: BackoffPolicy = { baseMs: 100, factor: 3, maxMs: 1_000_000, jitter: 0 };
    expect([1, 2, 3, 4, 5].map((n) => backoffDelayMs(triple, n))).toEqual([100, 300, 900, 2_700, 8_100]);
  });

  it('caps the delay at maxMs, however many attempts were made', () => {
    expect(backoffDelayMs(POLICY, 5, middle)).toBe(10_000);
    expect(backoffDelayMs(POLICY, 6, middle)).toBe(10_000);
    expect(backoffDelayMs(POLICY, 50, middle)).toBe(10_000);
    // factor ** exponent overflows to Infinity: still the cap, not Infinity or NaN.
    expect(backoffDelayMs(POLICY, 5_000, middle)).toBe(10_000);
  });

  it('caps a base that is already above maxMs', () => {
    expect(backoffDelayMs({ baseMs: 50_000, factor: 2, maxMs: 10_000, jitter: 0 }, 1)).toBe(10_000);
  });

  it('spreads the delay over -jitter with random() = 0 and +jitter with random() = 1', () => {
    expect(backoffDelayMs(POLICY, 1, low)).toBe(800);
    expect(backoffDelayMs(POLICY, 1, high)).toBe(1_200);
    expect(backoffDelayMs(POLICY, 3, low)).toBe(3_200);
    expect(backoffDelayMs(POLICY, 3, high)).toBe(4_800);
    expect(backoffDelayMs({ ...POLICY, jitter: 0.5 }, 2, low)).toBe(1_000);
    expect(backoffDelayMs({ ...POLICY, jitter: 0.5 }, 2, high)).toBe(3_000);
  });

  it('never goes above maxMs, even with +jitter at the cap', () => {
    expect(backoffDelayMs(POLICY, 10, high)).toBe(10_000);
    expect(backoffDelayMs(POLICY, 10, low)).toBe(8_000);
    // 8000 + 20% would be 9600: under the cap, kept.
    expect(backoffDelayMs(POLICY, 4, high)).toBe(9_600);
    // 8000 × 1.5 would be 12000: capped.
    expect(backoffDelayMs({ ...POLICY, jitter: 0.5 }, 4, high)).toBe(10_000);
  });

  it('never goes below zero, even with a full jitter of 1', () => {
    const full: BackoffPolicy = { ...POLICY, jitter: 1 };
    expect(backoffDelayMs(full, 1, low)).toBe(0);
    expect(backoffDelayMs(full, 1, high)).toBe(2_000);
    expect(backoffDelayMs(full, 10, low)).toBe(0);
  });

  it('stays within [raw × (1 - jitter), min(max, raw × (1 + jitter))] for any random value', () => {
    for (let attempts = 1; attempts <= 8; attempts++) {
      const raw = Math.min(POLICY.maxMs, POLICY.baseMs * 2 ** (attempts - 1));
      for (let i = 0; i <= 20; i++) {
        const r = i / 20;
        const delay = backoffDelayMs(POLICY, attempts, () => r);
        expect(delay).toBeGreaterThanOrEqual(Math.round(raw * 0.8));
        expect(delay).toBeLessThanOrEqual(Math.min(POLICY.maxMs, Math.round(raw * 1.2)));
        expect(Number.isInteger(delay)).toBe(true);
      }
    }
  });

  it('grows monotonically with the attempts for a fixed random value', () => {
    for (const r of [0, 0.3, 0.5, 1]) {
      const delays = Array.from({ length: 10 }, (_, i) => backoffDelayMs(POLICY, i + 1, () => r));
      for (let i = 1; i < delays.length; i++) expect(delays[i]!).toBeGreaterThanOrEqual(delays[i - 1]!);
    }
  });

  it('uses Math.random by default, within the jitter bounds', () => {
    for (let i = 0; i < 200; i++) {
      const delay = backoffDelayMs(POLICY, 2);
      expect(delay).toBeGreaterThanOrEqual(1_600);
      expect(delay).toBeLessThanOrEqual(2_400);
    }
  });

  it('returns whole milliseconds for fractional factors', () => {
    const policy: BackoffPolicy = { baseMs: 1_000, factor: 1.1, maxMs: 100_000, jitter: 0 };
    expect(backoffDelayMs(policy, 2)).toBe(1_100);
    expect(backoffDelayMs(policy, 3)).toBe(1_210);
    expect(backoffDelayMs({ baseMs: 3, factor: 1, maxMs: 100, jitter: 0.5 }, 1, () => 0.25)).toBe(2);
  });

  it('treats 0 attempts made like the first retry (no negative exponent)', () => {
    expect(backoffDelayMs(NO_JITTER, 0)).toBe(1_000);
  });

  it('is constant with a factor of 1', () => {
    const flat: BackoffPolicy = { baseMs: 700, factor: 1, maxMs: 10_000, jitter: 0 };
    expect([1, 2, 3, 20].map((n) => backoffDelayMs(flat, n))).toEqual([700, 700, 700, 700]);
  });

  it('names its BullMQ strategy "reins"', () => {
    expect(BACKOFF_TYPE).toBe('reins');
  });
});
