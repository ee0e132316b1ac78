/**
 * Reading and writing config files from a field set: a JSON object with snake_case keys becomes
 * the camelCase values of the fields (missing keys take the defaults), and back. A wrong value or
 * an unknown key is an error naming the file or owner, the key, the value and what is allowed; an
 * unknown key also gets the "did you mean" hint (e.g. camelCase written for snake_case).
 */
import { ArgumentError } from '../tensor/errors.js';
import { showValue, type Field, type FieldSet, type ValuesOf } from './field.js';
import { closestName, toSnakeCase } from './did_you_mean.js';

/** How `parseConfig` treats keys that are not fields. */
export interface ParseConfigOptions {
  /** Keys accepted and ignored (e.g. other diffusers schedulers' keys). */
  ignoreKeys?: ReadonlySet<string>;
  /** Ignore every unknown key (as diffusers' from_config does for model configs). Default false. */
  ignoreUnknown?: boolean;
  /** Ignore keys starting with '_' (`_class_name`, `_diffusers_version`). Default true. */
  ignorePrivate?: boolean;
  /** Read JSON null as "the default" for fields that do not allow null. Default false. */
  nullMeansDefault?: boolean;
  /** Words after "did you mean ...?" in the unknown-key error, e.g. "scheduler configs use diffusers' snake_case keys". */
  keyStyleNote?: string;
  /** The error class thrown (default ArgumentError). */
  error?: new (message: string) => Error;
}

/** The error for an unknown key: the key, its value, the likely intended key and the known keys. */
export function unknownKeyMessage(owner: string, key: string, value: unknown, known: readonly string[], note?: string): string {
  const asSnake = toSnakeCase(key);
  const camelForSnake = known.includes(asSnake) && asSnake !== key;
  const guess = camelForSnake ? asSnake : closestName(key, known);
  const hint = guess === undefined ? '' : ` (did you mean "${guess}"?${camelForSnake && note !== undefined ? ` ${note}` : ''})`;
  return `${owner}: unknown config key "${key}" (value ${showValue(value)})${hint}; known keys: ${known.join(', ')}`;
}

/** The error for a value a field does not allow. */
export function badValueMessage(owner: string, field: Field<unknown>, value: unknown): string {
  return `${owner}: config key "${field.key}" has value ${showValue(value)}; allowed: ${field.allowed}`;
}

/**
 * The camelCase values of `fields` read from a JSON object with the fields' snake_case keys.
 * @example const c = parseConfig('sampling_config.json', SAMPLING_FIELDS, { guidance_scale: 1.5 });
 */
export function parseConfig<F extends FieldSet>(owner: string, fields: F, json: unknown, options: ParseConfigOptions = {}): ValuesOf<F> {
  const Err = options.error ?? ArgumentError;
  if (json === null || typeof json !== 'object' || Array.isArray(json)) {
    throw new Err(`${owner}: expected a JSON object with snake_case keys, found ${json === null ? 'null' : Array.isArray(json) ? 'an array' : typeof json}`);
  }
  const byKey = new Map<string, [string, Field<unknown>]>();
  for (const [name, f] of Object.entries(fields)) byKey.set(f.key, [name, f]);
  const out: Record<string, unknown> = {};
  for (const [name, f] of Object.entries(fields)) out[name] = f.default;
  for (const [key, value] of Object.entries(json as Record<string, unknown>)) {
    if (value === undefined || ((options.ignorePrivate ?? true) && key.startsWith('_'))) continue;
    const entry = byKey.get(key);
    if (entry !== undefined) {
      const [name, f] = entry;
      if (value === null && options.nullMeansDefault === true && f.parse(null) === undefined) continue;
      const parsed = f.parse(value);
      if (parsed === undefined) throw new Err(badValueMessage(owner, f, value));
      out[name] = parsed;
      continue;
    }
    if (options.ignoreUnknown === true || options.ignoreKeys?.has(key) === true) continue;
    throw new Err(unknownKeyMessage(owner, key, value, [...byKey.keys()], options.keyStyleNote));
  }
  return Object.freeze(out) as ValuesOf<F>;
}

/**
 * The JSON object of parsed values: each field's key and JSON value, in the field set's order
 * (undefined values are left out).
 * @example configToJson(SAMPLING_FIELDS, cfg) // { guidance_scale: 1.5, ... }
 */
export function configToJson<F extends FieldSet>(fields: F, values: ValuesOf<F>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, f] of Object.entries(fields)) {
    const v = (values as Record<string, unknown>)[name];
    if (v === undefined) continue;
    out[f.key] = f.toJson(v);
  }
  return out;
}
