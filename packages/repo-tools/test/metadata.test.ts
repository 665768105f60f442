import { describe, expect, it } from 'vitest';
import { expiresIn, formatExpires } from '../src/index.js';

describe('expiry dates', () => {
  it('use the TUF format YYYY-MM-DDTHH:MM:SSZ, without milliseconds', () => {
    expect(formatExpires(new Date(Date.UTC(2026, 0, 2, 3, 4, 5, 678)))).toBe('2026-01-02T03:04:05Z');
  });

  it('lie the given number of days ahead', () => {
    const now = new Date(Date.UTC(2026, 10, 23, 12, 0, 0));
    expect(expiresIn(7, now)).toBe('2026-11-30T12:00:00Z');
    expect(expiresIn(0.5, now)).toBe('2026-11-24T00:00:00Z');
  });
});
