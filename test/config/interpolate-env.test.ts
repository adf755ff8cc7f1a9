import { describe, expect, it } from 'vitest';
import { interpolateEnv, interpolateString } from '../../src/config/load-config';

describe('interpolateString', () => {
  it('replaces ${VAR} with the variable', () => {
    expect(interpolateString('Bearer ${TOKEN}!', { TOKEN: 'abc' }).value).toBe('Bearer abc!');
  });

  it('uses the default of ${VAR:-default} when the variable is unset or empty', () => {
    expect(interpolateString('${PORT:-8080}', {}).value).toBe('8080');
    expect(interpolateString('${PORT:-8080}', { PORT: '' }).value).toBe('8080');
    expect(interpolateString('${PORT:-8080}', { PORT: '9000' }).value).toBe('9000');
    expect(interpolateString('${URL:-http://localhost:8080/x}', {}).value).toBe('http://localhost:8080/x');
    expect(interpolateString('${EMPTY:-}', {}).value).toBe('');
  });

  it('substitutes an empty variable without default as empty', () => {
    const r = interpolateString('a${EMPTY}b', { EMPTY: '' });
    expect(r.value).toBe('ab');
    expect(r.missing).toEqual([]);
  });

  it('turns $${ into a literal ${ and leaves other dollars alone', () => {
    const r = interpolateString('$${HOME} costs $5 and $$ and $HOME', { HOME: '/root' });
    expect(r.value).toBe('${HOME} costs $5 and $$ and $HOME');
    expect(r.hadReference).toBe(false);
    expect(r.substituted).toEqual([]);
  });

  it('reports missing variables and keeps the reference text', () => {
    const r = interpolateString('${A}-${B}-${C:-c}', { A: 'a' });
    expect(r.value).toBe('a-${B}-c');
    expect(r.missing).toEqual(['B']);
  });

  it('reports malformed references', () => {
    expect(interpolateString('${not valid}', {}).errors).toEqual([
      'invalid environment variable reference "${not valid}"; use ${NAME} or ${NAME:-default} (write "$${" for a literal "${")',
    ]);
    expect(interpolateString('abc ${OPEN', {}).errors).toEqual(['unterminated "${" (write "$${" for a literal "${")']);
  });

  it('does not expand references inside substituted values', () => {
    expect(interpolateString('${A}', { A: '${B}', B: 'nope' }).value).toBe('${B}');
  });
});

describe('interpolateEnv', () => {
  it('expands string values at any depth, not keys, and records paths', () => {
    const input = { '${KEY}': 'x', list: [{ token: '${TOKEN}' }, 5, true, null], nested: { url: 'http://${HOST:-localhost}' } };
    const r = interpolateEnv(input, { TOKEN: 'secret-token-value', KEY: 'k' });
    expect(r.value).toEqual({ '${KEY}': 'x', list: [{ token: 'secret-token-value' }, 5, true, null], nested: { url: 'http://localhost' } });
    expect(r.problems).toEqual([]);
    // Only values that really used the environment are recorded (not defaults).
    expect(r.interpolated).toEqual([{ path: ['list', 0, 'token'], variables: ['TOKEN'], values: ['secret-token-value'] }]);
    // The input is not modified.
    expect(input.list[0]).toEqual({ token: '${TOKEN}' });
  });

  it('reports a missing variable at the key path', () => {
    const r = interpolateEnv({ integrations: [{ token: '${ALERTMANAGER_TOKEN}' }] }, {});
    expect(r.problems).toEqual([{ path: ['integrations', 0, 'token'], message: 'environment variable ALERTMANAGER_TOKEN is not set' }]);
  });
});
