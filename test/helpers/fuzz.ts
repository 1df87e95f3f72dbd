/**
 * Hostile input for the fuzz tests of what peers send (test/unit/wire-fuzz.test.ts, the live receiver in
 * test/integration/uplink-refusals.test.ts): a genuine message with one member, anywhere in it, removed or replaced.
 */
import fc from 'fast-check';

/** Every path to a member or element of `v`, the root excluded. */
export function paths(v: unknown, at: (string | number)[] = []): (string | number)[][] {
  if (Array.isArray(v)) return v.flatMap((x, i) => [[...at, i], ...paths(x, [...at, i])]);
  if (typeof v === 'object' && v !== null) return Object.entries(v).flatMap(([k, x]) => [[...at, k], ...paths(x, [...at, k])]);
  return [];
}

/** `v` with the member at `path` removed (`to` undefined) or replaced. */
export function mutate(v: unknown, path: (string | number)[], to: unknown): unknown {
  const copy = structuredClone(v) as Record<string | number, unknown>;
  let parent = copy;
  for (const k of path.slice(0, -1)) parent = parent[k] as Record<string | number, unknown>;
  const last = path.at(-1)!;
  if (to === undefined) {
    if (Array.isArray(parent)) parent.splice(Number(last), 1);
    else delete parent[last];
  } else parent[last] = to;
  return copy;
}

/** A genuine message with one member (anywhere in it) removed or replaced by any JSON value. */
export const mutated = (base: unknown): fc.Arbitrary<unknown> => {
  const all = paths(base);
  return fc.tuple(fc.constantFrom(...all), fc.option(fc.jsonValue(), { nil: undefined })).map(([p, to]) => mutate(base, p, to));
};


/** Random bytes, any JSON, and mutations of the genuine message, as payloads. */
export const hostilePayloads = (base: unknown): fc.Arbitrary<Buffer> =>
  fc.oneof(
    fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b)),
    fc.jsonValue().map((j) => Buffer.from(JSON.stringify(j) ?? 'null')),
    mutated(base).map((m) => Buffer.from(JSON.stringify(m) ?? 'null')),
  );
