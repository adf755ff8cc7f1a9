import { describe, expect, it } from 'vitest';
import { vtimezone } from '../../src/platform/ical-timezone';

const lines = (text: string) => text.split('\r\n');
const YEAR = [new Date('2026-01-10T00:00:00Z'), new Date('2026-12-20T00:00:00Z')] as const;

describe('vtimezone (RFC 5545 VTIMEZONE from the time zone data)', () => {
  it('Europe/London: GMT at the start, BST from 29 March 01:00 GMT, GMT again from 25 October 02:00 BST', () => {
    expect(lines(vtimezone('Europe/London', ...YEAR))).toEqual([
      'BEGIN:VTIMEZONE',
      'TZID:Europe/London',
      ...['BEGIN:STANDARD', 'DTSTART:20260110T000000', 'TZOFFSETFROM:+0000', 'TZOFFSETTO:+0000', 'END:STANDARD'],
      ...['BEGIN:DAYLIGHT', 'DTSTART:20260329T010000', 'TZOFFSETFROM:+0000', 'TZOFFSETTO:+0100', 'END:DAYLIGHT'],
      ...['BEGIN:STANDARD', 'DTSTART:20261025T020000', 'TZOFFSETFROM:+0100', 'TZOFFSETTO:+0000', 'END:STANDARD'],
      'END:VTIMEZONE',
    ]);
  });

  it('America/New_York: negative offsets, local onsets at 02:00', () => {
    const text = vtimezone('America/New_York', ...YEAR);
    expect(text).toContain('BEGIN:DAYLIGHT\r\nDTSTART:20260308T020000\r\nTZOFFSETFROM:-0500\r\nTZOFFSETTO:-0400\r\nEND:DAYLIGHT');
    expect(text).toContain('BEGIN:STANDARD\r\nDTSTART:20261101T020000\r\nTZOFFSETFROM:-0400\r\nTZOFFSETTO:-0500\r\nEND:STANDARD');
  });

  it('southern hemisphere and half-hour shifts: Australia/Lord_Howe starts in daylight time, moves by 30 minutes', () => {
    expect(lines(vtimezone('Australia/Lord_Howe', ...YEAR))).toEqual([
      'BEGIN:VTIMEZONE',
      'TZID:Australia/Lord_Howe',
      ...['BEGIN:DAYLIGHT', 'DTSTART:20260110T110000', 'TZOFFSETFROM:+1100', 'TZOFFSETTO:+1100', 'END:DAYLIGHT'],
      ...['BEGIN:STANDARD', 'DTSTART:20260405T020000', 'TZOFFSETFROM:+1100', 'TZOFFSETTO:+1030', 'END:STANDARD'],
      ...['BEGIN:DAYLIGHT', 'DTSTART:20261004T020000', 'TZOFFSETFROM:+1030', 'TZOFFSETTO:+1100', 'END:DAYLIGHT'],
      'END:VTIMEZONE',
    ]);
  });

  it('a zone without DST has one observance; a range without a change has no other', () => {
    expect(lines(vtimezone('Asia/Kathmandu', ...YEAR))).toEqual(['BEGIN:VTIMEZONE', 'TZID:Asia/Kathmandu', 'BEGIN:STANDARD', 'DTSTART:20260110T054500', 'TZOFFSETFROM:+0545', 'TZOFFSETTO:+0545', 'END:STANDARD', 'END:VTIMEZONE']);
    expect(vtimezone('Europe/London', new Date('2026-04-01T00:00:00Z'), new Date('2026-05-01T00:00:00Z')).match(/BEGIN:(STANDARD|DAYLIGHT)/g)).toEqual(['BEGIN:DAYLIGHT']);
  });

  it('refuses an unknown zone', () => {
    expect(() => vtimezone('Mars/Olympus', ...YEAR)).toThrow(/unknown time zone/);
  });
});
