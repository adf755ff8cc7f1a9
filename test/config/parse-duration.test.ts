import { describe, expect, it } from 'vitest';
import { parseDuration } from '../../src/config/config-schema';

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

describe('parseDuration', () => {
  it.each([
    ['30s', 30 * SECOND],
    ['15m', 15 * MINUTE],
    ['4h', 4 * HOUR],
    ['2d', 2 * DAY],
    ['1w', 7 * DAY],
    ['1h30m', HOUR + 30 * MINUTE],
    ['1d12h', DAY + 12 * HOUR],
    ['1w2d3h4m5s', 7 * DAY + 2 * DAY + 3 * HOUR + 4 * MINUTE + 5 * SECOND],
    ['90m', 90 * MINUTE],
    ['0s', 0],
  ])('parses %s', (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
  });

  it.each([
    ['15 minutes'],
    [''],
    ['15'],
    ['m'],
    ['1.5h'],
    ['-5m'],
    ['1h 30m'],
    [' 15m'],
    ['15M'],
    ['30m1h'], // units must go from largest to smallest
    ['1h1h'], // each unit once
    ['15ms'],
    ['1y'],
    ['99999999999999999999w'],
  ])('rejects %j', (text) => {
    expect(parseDuration(text)).toBeUndefined();
  });
});
