/**
 * Class arguments on the command line (`--class 7`, `--class sneaker`, `--class 0,sneaker,bag`):
 * a class index or a class name, wherever a command takes a class. Names are the model folder's
 * (model_arg.ts modelClassNames, the one reader) and are matched ignoring case, spaces and
 * punctuation ('ankle-boot', 'Ankle boot', 'ankle_boot' are one name); an unknown name is a
 * usage error listing the model's classes with the closest name ("did you mean").
 */
import { UsageError } from '../tensor/errors.js';
import type { Field } from '../schema/field.js';
import { closestName } from '../schema/did_you_mean.js';
import { bundledModel, modelClassNames } from './model_arg.js';

/** A class as given: its index, or its name (resolved against the model by `resolveClassRefs`). */
export type ClassRef = number | string;

/** A class name compared ignoring case, spaces and punctuation ('T-shirt/top' is 'tshirttop'). */
export function normaliseClassName(s: string): string {
  return s.toLowerCase().replace(/[^\p{L}\p{N}]/gu, '');
}

/**
 * A flag field for one class: an index >= 0 (digits) or a name (any other non-empty text that is
 * not a negative number).
 * @example classRefField('class').parseText?.('sneaker') // 'sneaker'
 */
export function classRefField(key: string): Field<ClassRef> {
  const read = (v: unknown): ClassRef | undefined => {
    if (typeof v === 'number') return Number.isSafeInteger(v) && v >= 0 ? v : undefined;
    if (typeof v !== 'string') return undefined;
    const t = v.trim();
    if (/^\d+$/.test(t)) return Number(t);
    return t === '' || /^[-+]?[\d.]+(e[-+]?\d+)?$/i.test(t) ? undefined : t;
  };
  return { key, default: 0, allowed: 'a class index >= 0 or a class name', parse: read, parseText: read, toJson: (v) => v, metavar: 'C' };
}

/**
 * The class indices `refs` stand for in the model at `modelPath` (undefined: the bundled model):
 * indices pass through (the pipeline checks their range), names are looked up in the model's class
 * names. `flag` names the flag in errors.
 * @example resolveClassRefs(['sneaker', 0], 'models/fashion-mnist') // [7, 0]
 */
export function resolveClassRefs(refs: readonly ClassRef[], modelPath: string | undefined, flag = 'class'): number[] {
  if (refs.every((r) => typeof r === 'number')) return [...(refs as readonly number[])];
  const path = modelPath ?? bundledModel();
  const names = modelClassNames(path).classNames;
  return refs.map((r) => (typeof r === 'number' ? r : classIndexOf(r, names, path, flag)));
}

/** The index of class `name` in `names`, or a UsageError naming the model's classes and the closest one. */
export function classIndexOf(name: string, names: readonly string[] | null, modelPath: string, flag = 'class'): number {
  if (names === null) {
    throw new UsageError(`--${flag} '${name}': the model ${modelPath} records no class names (its training data is not a bundled data set or a class-folder tree it can find); give a class index instead (0, 1, ...)`);
  }
  const keys = names.map(normaliseClassName);
  const i = keys.indexOf(normaliseClassName(name));
  if (i >= 0) return i;
  const guess = closestName(normaliseClassName(name), keys);
  const hint = guess === undefined ? '' : ` (did you mean '${names[keys.indexOf(guess)]}'?)`;
  const list = names.map((n, k) => `${k} '${n}'`).join(', ');
  throw new UsageError(`--${flag} '${name}' is not a class of the model ${modelPath}${hint}; its classes: ${list} (give an index or a name)`);
}
