/**
 * JSON-aware mutations of config files and request bodies: a random node (an object field, an
 * array element, the root) gets an edge value (huge and tiny numbers, 65536, -1, 1e308, NaN-ish
 * strings, long strings, wrong types, deep nesting), is deleted, duplicated or renamed, arrays
 * grow and shrink, unknown and prototype keys appear; sometimes the text itself is broken
 * (truncated, a BOM, a comment, bytes flipped). The keys touched are returned, so an error that
 * names the field counts as naming the input.
 */
import type { Rng } from '../rng.js';
import { mutateBytes } from './bytes.js';

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

/** Values that break parsers and validators: sizes that allocate, signs, non-integers, wrong types. */
export const EDGE_NUMBERS = [0, -1, 1, 2, 3, 7, 0.5, -0.5, 1.5, 1e-300, 65536, 100000, 1e6, 1e9, 2 ** 31, 2 ** 32, 2 ** 53, 2 ** 53 + 2, 1e21, 1e308, -1e308, Number.MAX_SAFE_INTEGER, -Number.MAX_SAFE_INTEGER];
export const EDGE_STRINGS = ['', 'NaN', 'Infinity', '-Infinity', '1e999', '-0', '0x10', ' 1', '__proto__', 'constructor', '../../etc/passwd', '/etc/passwd', 'C:\\Windows', '\u0000', '\ud800', '%s%n', '${x}', 'a'.repeat(10000)];

/** An edge value of any type. */
export function edgeValue(rng: Rng, depth = 0): Json {
  switch (rng.int(depth > 2 ? 4 : 7)) {
    case 0: return rng.pick(EDGE_NUMBERS);
    case 1: return rng.pick(EDGE_STRINGS);
    case 2: return rng.pick([null, true, false]);
    case 3: return rng.pick(EDGE_NUMBERS) * (rng.chance(0.5) ? 1 : -1);
    case 4: return Array.from({ length: rng.pick([0, 1, 2, 3, 8, 100]) }, () => edgeValue(rng, depth + 1));
    case 5: return { [rng.pick(['a', '__proto__', 'constructor', 'x'])]: edgeValue(rng, depth + 1) };
    default: return deepNest(rng.pick([50, 1000, 3000]));
  }
}

/** [[[...]]] nested `depth` levels (stack-depth bugs). */
function deepNest(depth: number): Json {
  let v: Json = 1;
  for (let i = 0; i < depth; i++) v = [v];
  return v;
}

interface Slot {
  get(): Json;
  set(v: Json): void;
  remove(): void;
  key: string | null;
}

/** Every node of the tree as a settable slot (the root included). */
function slots(root: { v: Json }): Slot[] {
  const out: Slot[] = [{ get: () => root.v, set: (v) => { root.v = v; }, remove: () => { root.v = null; }, key: null }];
  // `owner`: the nearest object key above (an array element is named by its array's field).
  const walk = (node: Json, depth: number, owner: string | null): void => {
    if (depth > 8 || node === null || typeof node !== 'object') return;
    if (Array.isArray(node)) {
      node.forEach((child, i) => {
        out.push({ get: () => node[i] as Json, set: (v) => { node[i] = v; }, remove: () => { node.splice(i, 1); }, key: owner });
        walk(child, depth + 1, owner);
      });
    } else {
      for (const k of Object.keys(node)) {
        out.push({ get: () => node[k] as Json, set: (v) => { node[k] = v; }, remove: () => { delete node[k]; }, key: k });
        walk(node[k] as Json, depth + 1, k);
      }
    }
  };
  walk(root.v, 0, null);
  return out;
}

/** A type-near variant of a value: a number scaled or off by one, a string changed, an array resized. */
function nearValue(rng: Rng, v: Json): Json {
  if (typeof v === 'number') return rng.pick([v + 1, v - 1, -v, v * 1000, v * 65536, Math.floor(v / 2), v + 0.5, 0, v * 1e300]);
  if (typeof v === 'string') return rng.pick([v + 'x', v.slice(1), v.toUpperCase(), '', v.repeat(50)]);
  if (typeof v === 'boolean') return rng.pick([!v, v ? 1 : 0, String(v)]);
  if (Array.isArray(v)) {
    if (v.length === 0) return [edgeValue(rng)];
    return rng.pick([
      v.slice(0, -1),
      [...v, v[v.length - 1] as Json],
      Array.from({ length: v[0] !== null && typeof v[0] === 'object' ? 16 : rng.pick([16, 1000, 10000]) }, () => v[0] as Json),
      v.map((x) => (typeof x === 'number' ? x * 4096 : x)),
      [...v].reverse(),
    ]);
  }
  return edgeValue(rng);
}

/** The result of one JSON mutation: the file text and the keys it touched. */
export interface JsonMutation {
  text: string;
  /** The object keys touched (an array element counts as its array's key). */
  keys: string[];
  /** The whole value was replaced at least once (every field is touched). */
  root: boolean;
}

/**
 * Mutates a JSON value (given as text or value) once or a few times; see the file comment.
 * @example mutateJson(rng, { layers_per_block: 1 }).text
 */
export function mutateJson(rng: Rng, input: unknown, maxStacked = 3): JsonMutation {
  // A mutation whose text passes MAX_TEXT (a deep nest repeated 10,000 times) is made again:
  // the fuzzer looks for small inputs with large effects, not large inputs.
  for (let attempt = 0; ; attempt++) {
    const m = mutateOnce(rng, input, maxStacked);
    if (m.text.length <= MAX_TEXT || attempt >= 8) return m.text.length <= MAX_TEXT ? m : { ...m, text: m.text.slice(0, MAX_TEXT) };
  }
}

/** Largest mutated text kept (bytes). */
const MAX_TEXT = 1 << 20;

function mutateOnce(rng: Rng, input: unknown, maxStacked: number): JsonMutation {
  const root = { v: JSON.parse(typeof input === 'string' ? input : JSON.stringify(input)) as Json };
  const keys: string[] = [];
  let rootTouched = false;
  const n = rng.range(1, maxStacked);
  for (let i = 0; i < n; i++) {
    const all = slots(root);
    const s = all.length > 1 && rng.chance(0.9) ? all[1 + rng.int(all.length - 1)]! : all[0]!;
    if (s.key !== null) keys.push(s.key);
    else if (s === all[0]) rootTouched = true;
    const op = rng.int(10);
    if (op <= 2) s.set(nearValue(rng, s.get()));
    else if (op <= 5) s.set(edgeValue(rng));
    else if (op === 6) s.remove();
    else if (op === 7) s.set([s.get()]);
    else if (op === 8) {
      const obj = root.v;
      if (obj !== null && typeof obj === 'object' && !Array.isArray(obj)) {
        const k = rng.pick(['unknown_field', '__proto__', 'constructor', 'prototype', '_class_name', 'toString', 'hasOwnProperty']);
        // defineProperty: an own '__proto__' key, as JSON.parse makes one (assignment would set the prototype).
        Object.defineProperty(obj, k, { value: edgeValue(rng), enumerable: true, writable: true, configurable: true });
        keys.push(k);
      }
    } else s.set(typeof s.get() === 'number' ? String(s.get()) : rng.pick(EDGE_NUMBERS));
  }
  let text: string;
  try {
    const compact = JSON.stringify(root.v) ?? 'null';
    // Indented as config files are, unless that makes a deep value quadratic in size.
    const pretty = compact.length < 64 * 1024 && !compact.includes('[[[[[[') ? (JSON.stringify(root.v, null, 2) ?? 'null') : compact;
    text = pretty.length <= MAX_TEXT ? pretty : compact;
  } catch {
    // Too deep to stringify: a plain deep array.
    text = `${'['.repeat(1000)}1${']'.repeat(1000)}`;
  }
  // Sometimes break the text itself (what JSON.stringify cannot write).
  if (rng.chance(0.15)) {
    text = rng.pick([
      () => text.slice(0, rng.int(text.length + 1)),
      () => `\ufeff${text}`,
      () => `// comment\n${text}`,
      () => text.replace(/\d+(\.\d+)?/, rng.pick(['NaN', 'Infinity', '1e999', '-', '01', '1.', '0x1f'])),
      () => text.replace('{', '{"dup": 1, "dup": [2],'),
      () => mutateBytes(rng, Buffer.from(text, 'utf8'), null, 2).toString('latin1'),
      () => '',
    ])();
  }
  return { text, keys, root: rootTouched };
}

/**
 * The names an error about this mutation may use to name the input: the keys touched, and when
 * the whole value was replaced, every top-level key of the original and the word 'config'.
 */
export function namesTouched(m: JsonMutation, original: string): string[] {
  const names = [...m.keys];
  if (m.root) {
    names.push('config');
    try {
      const o = JSON.parse(original) as unknown;
      if (o !== null && typeof o === 'object' && !Array.isArray(o)) names.push(...Object.keys(o));
    } catch {
      // not JSON: nothing more to add
    }
  }
  return [...new Set(names)];
}
