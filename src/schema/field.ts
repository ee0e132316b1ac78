/**
 * Typed config fields: the one description of a setting that config files (snake_case JSON keys,
 * scheduler_config.json, config.json, train_config.json, ...) and command-line flags (--kebab-case)
 * are both read from. A field knows its file key, its default, the values it allows (as a phrase
 * for error messages), how to read a JSON value and a flag's text, how to write it back, and a
 * one-line doc that --help prints with the default. Fields are plain frozen-free objects, so a
 * field with another default is `{ ...field, default: x }`.
 */

/** One setting: the file key, default, allowed values, parsers and (for flags and --help) its doc. */
export interface Field<T> {
  /** The snake_case key in config files. */
  readonly key: string;
  readonly default: T;
  /** What values are allowed, as a phrase for error messages ("an integer >= 1"). */
  readonly allowed: string;
  /** The value read from JSON, or undefined when `v` is not allowed. */
  parse(v: unknown): T | undefined;
  /** The JSON written for a value. */
  toJson(v: T): unknown;
  /** The value read from a flag's text (`--steps 20`), or undefined when not allowed; absent: JSON-only field. */
  readonly parseText?: (text: string) => T | undefined;
  /** A one-line description for --help. */
  readonly doc?: string;
  /** The flag name without dashes (default: the key in kebab-case). */
  readonly flag?: string;
  /** The value's placeholder in --help (`--steps K`); a boolean flag has none. */
  readonly metavar?: string;
  /** What --help says the default is, when the default value itself does not say it (e.g. "the model's sampling_config.json"). */
  readonly defaultText?: string;
  /** A boolean flag: given without a value it means true. */
  readonly isSwitch?: boolean;
  /** The names a value may take, when it is one of a list (enumField): the unknown-value error offers the closest ("did you mean"). */
  readonly choices?: readonly string[];
  /** What one choice is called in the unknown-value error ('sampler': "unknown sampler 'dpmpp2m'"); absent: the error lists every choice. */
  readonly choiceNoun?: string;
  /** Where the full list of choices is shown, for an error that does not list them ("'diffuse samplers' lists them"). */
  readonly choicesHint?: string;
}

/** The --help and flag extras of a field. */
export interface FieldMeta {
  doc?: string;
  flag?: string;
  metavar?: string;
  defaultText?: string;
}

/** A field with its --help doc and flag extras. */
export function described<T>(field: Field<T>, doc: string, meta: Omit<FieldMeta, 'doc'> = {}): Field<T> {
  return { ...field, doc, ...meta };
}

/** `field` left out of --help (still accepted: e.g. a shared flag one command refuses with its own message). */
export function hidden<T>(field: Field<T>): Field<T> {
  const { doc: _doc, ...rest } = field;
  return rest;
}

/** Every field of a set left out of --help (a command that accepts flags only to refuse them by name). */
export function hiddenFields<F extends Readonly<Record<string, Field<unknown>>>>(fields: F): F {
  return Object.fromEntries(Object.entries(fields).map(([k, f]) => [k, hidden(f)])) as F;
}

/** A set of named fields: property name (camelCase) -> field. */
export type FieldSet = Readonly<Record<string, Field<unknown>>>;

/** The parsed (camelCase) values of a field set. */
export type ValuesOf<F extends FieldSet> = { readonly [K in keyof F]: F[K] extends Field<infer T> ? T : never };

/** The flag name of a field: its `flag`, else its key in kebab-case. */
export function flagName(field: Field<unknown>): string {
  return field.flag ?? field.key.replace(/_/g, '-');
}

function rangeText(kind: string, min: number, max: number, openMin: boolean, openMax: boolean): string {
  const hasMin = min !== -Infinity && min !== Number.MIN_SAFE_INTEGER;
  const hasMax = max !== Infinity && max !== Number.MAX_SAFE_INTEGER;
  if (hasMin && hasMax) return `${kind} in ${openMin ? '(' : '['}${min}, ${max}${openMax ? ')' : ']'}`;
  if (hasMin) return `${kind} ${openMin ? '>' : '>='} ${min}`;
  if (hasMax) return `${kind} ${openMax ? '<' : '<='} ${max}`;
  return kind;
}

const INT_TEXT = /^[+-]?\d+$/;
/** A flag's number: decimal, exponent or Infinity-free; '' and '0x..' are refused. */
const NUMBER_TEXT = /^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i;

/**
 * An integer field in [min, max]. A flag's text is an optional sign and digits: `--seed -1` and
 * `--seed=-1` read -1 (and are then checked against the range like any value).
 * @example intField('num_train_timesteps', 1000, 1)
 */
export function intField(key: string, def: number, min = Number.MIN_SAFE_INTEGER, max = Number.MAX_SAFE_INTEGER): Field<number> {
  const ok = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= min && v <= max;
  return {
    key,
    default: def,
    allowed: rangeText('an integer', min, max, false, false),
    parse: (v) => (ok(v) ? v : undefined),
    parseText: (s) => {
      const t = s.trim();
      if (!INT_TEXT.test(t)) return undefined;
      const v = Number(t);
      return ok(v) ? v : undefined;
    },
    toJson: (v) => v,
    metavar: 'N',
  };
}

/** Bounds of a number field; `openMin`/`openMax` exclude the bound itself. */
export interface NumberRange {
  min?: number;
  max?: number;
  openMin?: boolean;
  openMax?: boolean;
}

/**
 * A finite number field in [min, max] (exclusive at `min` when `openMin`).
 * @example numberField('beta_start', 0.0001, 0, 1)
 */
export function numberField(key: string, def: number, min = -Infinity, max = Infinity, openMin = false, openMax = false): Field<number> {
  const ok = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v) && (openMin ? v > min : v >= min) && (openMax ? v < max : v <= max);
  return {
    key,
    default: def,
    allowed: rangeText('a number', min, max, openMin, openMax),
    parse: (v) => (ok(v) ? v : undefined),
    parseText: (s) => {
      const t = s.trim();
      if (!NUMBER_TEXT.test(t)) return undefined;
      const v = Number(t);
      return ok(v) ? v : undefined;
    },
    toJson: (v) => v,
    metavar: 'X',
  };
}

/** A boolean field; as a flag, `--name` alone means true and `--name=false` false. */
export function boolField(key: string, def: boolean): Field<boolean> {
  return {
    key,
    default: def,
    allowed: 'true or false',
    parse: (v) => (typeof v === 'boolean' ? v : undefined),
    parseText: (s) => (s === 'true' ? true : s === 'false' ? false : undefined),
    toJson: (v) => v,
    isSwitch: true,
  };
}

/** A string field (non-empty unless `allowEmpty`). */
export function stringField(key: string, def: string, allowEmpty = false): Field<string> {
  const ok = (v: unknown): v is string => typeof v === 'string' && (allowEmpty || v !== '');
  return {
    key,
    default: def,
    allowed: allowEmpty ? 'a string' : 'a non-empty string',
    parse: (v) => (ok(v) ? v : undefined),
    parseText: (s) => (ok(s) ? s : undefined),
    toJson: (v) => v,
    metavar: 'S',
  };
}

/**
 * A string field with a fixed set of values.
 * @example enumField<BetaSchedule>('beta_schedule', BETA_SCHEDULES, 'linear')
 */
export function enumField<T extends string>(key: string, values: readonly T[], def: NoInfer<T>): Field<T> {
  const ok = (v: unknown): v is T => typeof v === 'string' && (values as readonly string[]).includes(v);
  return {
    key,
    default: def,
    allowed: `one of ${values.map((v) => JSON.stringify(v)).join(', ')}`,
    parse: (v) => (ok(v) ? v : undefined),
    parseText: (s) => (ok(s) ? s : undefined),
    toJson: (v) => v,
    metavar: 'NAME',
    choices: values,
  };
}

/**
 * An array of `item` values (length in [minLength, maxLength]); as a flag, comma-separated.
 * @example arrayField('block_out_channels', intField('', 0, 1), [32, 64], 1)
 */
export function arrayField<T>(key: string, item: Field<T>, def: readonly T[], minLength = 0, maxLength = Infinity): Field<readonly T[]> {
  const lengthText = minLength === maxLength ? ` of ${minLength}` : minLength > 0 && maxLength === Infinity ? (minLength === 1 ? ' (non-empty)' : ` of >= ${minLength}`) : '';
  const build = (xs: readonly unknown[], read: (x: unknown) => T | undefined): readonly T[] | undefined => {
    if (xs.length < minLength || xs.length > maxLength) return undefined;
    const out: T[] = [];
    for (const x of xs) {
      const v = read(x);
      if (v === undefined) return undefined;
      out.push(v);
    }
    return Object.freeze(out);
  };
  return {
    key,
    default: def,
    allowed: `a list${lengthText} of ${item.allowed.replace(/^an? /, '').replace(/^(integer|number|string)\b/, '$1s').replace(/^one of/, 'values among')}`,
    parse: (v) => (Array.isArray(v) ? build(v, (x) => item.parse(x)) : undefined),
    parseText: (s) => (item.parseText === undefined ? undefined : build(s.split(','), (x) => item.parseText!(x as string))),
    toJson: (v) => v.map((x) => item.toJson(x)),
    metavar: 'LIST',
  };
}

/** `field` or null (JSON null; as a flag, the text "null" or "none"); its default is `def` (null unless given, not the inner field's). */
export function nullable<T>(field: Field<T>, def: T | null = null): Field<T | null> {
  const inner = field.parseText;
  return {
    ...field,
    default: def,
    allowed: `null or ${field.allowed}`,
    parse: (v) => (v === null ? null : field.parse(v)),
    ...(inner === undefined ? {} : { parseText: (s: string) => (s === 'null' || s === 'none' ? null : inner(s)) }),
    toJson: (v) => (v === null ? null : field.toJson(v)),
  };
}

/**
 * `field` with no default: absent stays undefined (a flag the command resolves itself, e.g. from
 * the model's sampling_config.json); `defaultText` says in --help what absent means.
 */
export function optional<T>(field: Field<T>, defaultText?: string): Field<T | undefined> {
  const { default: _unused, defaultText: _text, ...rest } = field;
  return {
    ...rest,
    default: undefined,
    ...(defaultText === undefined ? {} : { defaultText }),
    parse: (v) => field.parse(v),
    toJson: (v) => (v === undefined ? undefined : field.toJson(v)),
  } as Field<T | undefined>;
}

/** A value as error messages show it (JSON, cut to 80 characters). */
export function showValue(v: unknown): string {
  if (v === undefined) return 'undefined';
  const s = JSON.stringify(v);
  return s === undefined ? String(v) : s.length > 80 ? `${s.slice(0, 77)}...` : s;
}
