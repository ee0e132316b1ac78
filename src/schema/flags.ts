/**
 * Command-line flags from a field set: the one flag parser of every `diffuse` command, and the
 * Options section of its --help. Rules (the same for every command):
 *   --name value and --name=value are the same; a boolean flag alone means true (--name=false: false);
 *   a value may start with '-' (negative numbers: --seed -1), but not with '--' (that is a flag);
 *   '--' ends the flags (what follows is positional); the last of a repeated flag wins;
 *   an unknown flag is an error naming it, the command, the closest known flags ("did you mean")
 *   and where the full list is (`diffuse CMD --help`); a value outside a list of names offers the
 *   closest name. Every error is a UsageError unless the caller picks another class.
 * A value is read by its field (`parseText`): one rule for integers and numbers everywhere, and an
 * error naming the flag, what is allowed and the text found.
 */
import { UsageError } from '../tensor/errors.js';
import { flagName, showValue, type Field, type FieldSet, type ValuesOf } from './field.js';
import { didYouMean } from './did_you_mean.js';

/** What `parseFlags` returns: the flags' values (defaults where absent), positionals, and which were given. */
export interface ParsedFlags<F extends FieldSet> {
  readonly values: ValuesOf<F>;
  readonly positionals: string[];
  /** The property names of the flags given on the command line. */
  readonly given: ReadonlySet<keyof F & string>;
}

/** Options of `parseFlags`. */
export interface ParseFlagsOptions {
  /** Accept positional arguments (default false: a positional is an error). */
  allowPositionals?: boolean;
  /** The error class thrown (default UsageError). */
  error?: new (message: string) => Error;
  /** The command the flags belong to ('sample', 'eval --bpd'), named in the unknown-flag error with its --help. */
  command?: string;
}

/** The error for a flag whose text its field does not allow. */
export function badFlagMessage(field: Field<unknown>, text: string): string {
  const flag = `--${flagName(field)}`;
  const hint = field.choices === undefined ? '' : didYouMean(text, field.choices);
  // A long list (40 sampler names) is named, not printed: the closest name and where the list is.
  if (field.choiceNoun !== undefined) return `${flag}: unknown ${field.choiceNoun} '${text}'${hint}${field.choicesHint === undefined ? '' : `; ${field.choicesHint}`}`;
  // On the command line values are unquoted text: `one of "vlb", "ode"` reads `one of vlb, ode`.
  return `${flag} must be ${field.allowed.replace(/"([^"]*)"/g, '$1')}, found '${text}'${hint}`;
}

/**
 * Reads one flag's text with its field (for values that arrive as text elsewhere, e.g. a list item).
 * @example readFlag(STEPS, '20') // 20
 */
export function readFlag<T>(field: Field<T>, text: string, error: new (message: string) => Error = UsageError): T {
  const parse = field.parseText;
  if (parse === undefined) throw new error(`--${flagName(field)} cannot be given on the command line`);
  const v = parse(text);
  if (v === undefined) throw new error(badFlagMessage(field, text));
  return v;
}

/**
 * Parses `argv` against `fields` (property name -> field; the flag is the field's `flag`, else its
 * key in kebab-case).
 * @example const { values } = parseFlags(SAMPLE_FLAGS, ['--steps', '20', '--seed=-1']);
 */
export function parseFlags<F extends FieldSet>(fields: F, argv: readonly string[], options: ParseFlagsOptions = {}): ParsedFlags<F> {
  const Err = options.error ?? UsageError;
  const unknown = (flag: string): Error => new Err(unknownFlagMessage(flag, [...byFlag.keys()], options.command));
  const byFlag = new Map<string, [string, Field<unknown>]>();
  for (const [name, f] of Object.entries(fields)) byFlag.set(flagName(f), [name, f]);
  const values: Record<string, unknown> = {};
  for (const [name, f] of Object.entries(fields)) values[name] = f.default;
  const given = new Set<string>();
  const positionals: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    if (!arg.startsWith('--') || arg === '-') {
      if (arg.startsWith('-') && arg.length > 1 && !/^-[\d.]/.test(arg)) throw unknown(arg);
      positionals.push(arg);
      continue;
    }
    const eq = arg.indexOf('=');
    const flag = arg.slice(2, eq < 0 ? undefined : eq);
    const entry = byFlag.get(flag);
    if (entry === undefined) throw unknown(`--${flag}`);
    const [name, field] = entry;
    let text: string;
    if (eq >= 0) text = arg.slice(eq + 1);
    else if (field.isSwitch === true) text = 'true';
    else {
      const next = argv[i + 1];
      if (next === undefined || next.startsWith('--')) throw new Err(`Option '--${flag}${field.metavar === undefined ? '' : ` <${field.metavar}>`}' needs a value${next === undefined ? '' : `, found the flag '${next}'`}`);
      text = next;
      i++;
    }
    values[name] = readFlag(field, text, Err);
    given.add(name);
  }
  if (positionals.length > 0 && options.allowPositionals !== true) throw new Err(`Unexpected argument '${positionals[0]}': this command takes flags only (see --help)`);
  return { values: values as ValuesOf<F>, positionals, given: given as Set<keyof F & string> };
}

/**
 * The unknown-flag error: the flag as given, the command, up to three closest known flags, and
 * where the full list is (the command's --help; without a command, the list itself).
 * @example unknownFlagMessage('--stesp', ['steps', 'seed'], 'sample') // "unknown option '--stesp' for 'diffuse sample' (did you mean '--steps'?); see 'diffuse sample --help'"
 */
export function unknownFlagMessage(arg: string, known: readonly string[], command?: string): string {
  const hint = didYouMean(arg.replace(/^-+/, '').replace(/=.*$/, ''), known, 3, (k) => `'--${k}'`);
  if (command === undefined) return `unknown option '${arg}'${hint}; known options: ${known.map((k) => `--${k}`).join(', ')}`;
  return `unknown option '${arg}' for 'diffuse ${command}'${hint}; see 'diffuse ${command} --help'`;
}

/** Column where --help descriptions start, and the width they wrap at. */
const DOC_COLUMN = 21;
const WIDTH = 100;

/** A field's default as --help says it, or '' when it has none to say. */
export function defaultTextOf(field: Field<unknown>): string {
  if (field.defaultText !== undefined) return field.defaultText;
  const d = field.default;
  if (d === undefined || d === null || (field.isSwitch === true && d === false)) return '';
  if (typeof d === 'string') return d;
  if (Array.isArray(d)) return d.join(',');
  return showValue(d);
}

/**
 * The Options lines of --help for `fields`: `--flag METAVAR` then the doc and "(default: ...)",
 * wrapped; the default is the field's own (never restated by hand).
 * @example process.stdout.write(`Options:\n${formatFlagHelp(FLAGS)}`);
 */
export function formatFlagHelp(fields: FieldSet): string {
  let out = '';
  for (const f of Object.values(fields)) {
    if (f.doc === undefined) continue;
    const head = `  --${flagName(f)}${f.isSwitch === true || f.metavar === undefined ? '' : ` ${f.metavar}`}`;
    const def = defaultTextOf(f);
    const text = def === '' ? f.doc : `${f.doc.replace(/\.$/, '')} (default: ${def}).`;
    const lines = wrapText(text, WIDTH - DOC_COLUMN);
    if (head.length < DOC_COLUMN - 1) out += `${head.padEnd(DOC_COLUMN)}${lines[0]}\n`;
    else out += `${head}\n${' '.repeat(DOC_COLUMN)}${lines[0]}\n`;
    for (const l of lines.slice(1)) out += `${' '.repeat(DOC_COLUMN)}${l}\n`;
  }
  return out;
}

/** Words of `text` in lines of at most `width` characters (a longer word gets a line of its own). */
export function wrapText(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/)) {
    if (line !== '' && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else line = line === '' ? word : `${line} ${word}`;
  }
  lines.push(line);
  return lines;
}
