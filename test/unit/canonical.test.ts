import { describe, expect, it } from 'vitest';
import { canonicalJson } from '../../src/util/canonical.js';

describe('canonicalJson', () => {
  it('sorts keys recursively and drops whitespace', () => {
    expect(canonicalJson({ b: 1, a: { d: [1, 'x'], c: null } })).toBe('{"a":{"c":null,"d":[1,"x"]},"b":1}');
  });
  it('keeps non-ASCII text as UTF-8, not escaped', () => {
    expect(canonicalJson({ 名: '张三' })).toBe('{"名":"张三"}');
  });
  it('refuses values a signature could not faithfully cover', () => {
    expect(() => canonicalJson({ a: Number.NaN })).toThrow(/non-finite/);
    expect(() => canonicalJson({ a: () => 1 })).toThrow(/cannot encode/);
  });
});
