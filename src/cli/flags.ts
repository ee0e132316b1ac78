/**
 * The flags the `diffuse` commands share, as schema fields (src/schema), and the one way a command
 * reads its argv: `parseCommandFlags` (every command), `intFlag`/`numFlag` for a value that arrives
 * as text some other way (a list item, a bench argument). A command's --help Options section is
 * `formatFlagHelp` of the same fields, so a default is stated once, by the field.
 */
import { UsageError } from '../tensor/errors.js';
import { arrayField, boolField, described, enumField, intField, numberField, optional, stringField, type Field, type FieldSet } from '../schema/field.js';
import { classRefField, type ClassRef } from './class_arg.js';
import { parseFlags, readFlag, type ParsedFlags } from '../schema/flags.js';
import { schedulerNames } from '../sampling/registry.js';
import { SIGMA_SCHEDULES, type SigmaScheduleName } from '../diffusion/sigma_ramps.js';
import { DEFAULT_SAMPLING_CONFIG, MAX_GUIDANCE } from '../io/sampling_config.js';
import { DEFAULT_STEPS, FALLBACK_SCHEDULER as REGISTRY_FALLBACK } from '../sampling/registry.js';
import { DEFAULT_MEMORY_FRACTION, parseByteSize, setMaxMemory } from '../nn/memory_budget.js';

export { formatFlagHelp } from '../schema/flags.js';

/**
 * Parses a command's argv against its fields; positionals are refused with a pointer to --help
 * unless `allowPositionals`. Errors are UsageErrors (the CLI prints their message only and exits 2);
 * an unknown flag's error names `command` and its --help.
 * @example const { values } = parseCommandFlags('sample', SAMPLE_FLAGS, argv);
 */
export function parseCommandFlags<F extends FieldSet>(command: string, fields: F, argv: readonly string[], allowPositionals = false): ParsedFlags<F> {
  const r = parseFlags(fields, argv, { allowPositionals: true, error: UsageError, command });
  if (!allowPositionals && r.positionals.length > 0) throw new UsageError(`unexpected argument '${r.positionals[0]}'; see 'diffuse ${command} --help'`);
  return r;
}

/**
 * An integer flag >= min read from its text (one rule: an optional sign and digits, so '-1' is
 * read and then checked against min), or undefined when absent.
 * @example intFlag('batch', '8', 1) // 8
 */
export function intFlag(name: string, text: string | undefined, min: number): number | undefined {
  return text === undefined ? undefined : readFlag({ ...intField(name, min, min), flag: name }, text, UsageError);
}

/** A finite number flag (in [min, max], or (min, max] with `openMin`) read from its text, or undefined when absent. */
export function numFlag(name: string, text: string | undefined, min = -Infinity, max = Infinity, openMin = false): number | undefined {
  return text === undefined ? undefined : readFlag({ ...numberField(name, 0, min, max, openMin), flag: name }, text, UsageError);
}

/** A comma-separated list of integers >= min, or undefined when absent. */
export function intListFlag(name: string, text: string | undefined, min: number): number[] | undefined {
  return text === undefined ? undefined : text.split(',').map((s) => intFlag(name, s, min)!);
}

// ---------------------------------------------------------------------------------------------
// Shared flags

/** The fallback scheduler when neither a flag nor the model's sampling_config.json names one (the editing pipelines' default). */
export const FALLBACK_SCHEDULER: string = REGISTRY_FALLBACK;
/** The fallback step count when neither a flag nor sampling_config.json gives one. */
export const FALLBACK_STEPS: number = DEFAULT_STEPS;

/** What --help says about the sampling defaults (the one rule: io/sampling_config.ts resolveSampling). */
export const SAMPLING_DEFAULT_TEXT = {
  scheduler: `the model's sampling_config.json, else ${FALLBACK_SCHEDULER}`,
  steps: `sampling_config.json's with its scheduler, else ${FALLBACK_STEPS}`,
  guidance: `the model's sampling_config.json, else ${DEFAULT_SAMPLING_CONFIG.guidanceScale}: none`,
} as const;

/** --model DIR. */
export const MODEL_FLAG = described(optional(stringField('model', '')), 'A training run, checkpoint, pipeline folder or U-Net folder.', {
  metavar: 'DIR',
  defaultText: 'the bundled models/fashion-mnist/',
});

/** --scheduler NAME: any sampler or diffusers scheduler name (the sampler registry's list). */
export function schedulerFlag(defaultText: string = SAMPLING_DEFAULT_TEXT.scheduler, flag = 'scheduler'): Field<string | undefined> {
  return described(
    optional({ ...enumField(flag, schedulerNames(), FALLBACK_SCHEDULER), choiceNoun: 'sampler', choicesHint: "'diffuse samplers' lists them all" }, defaultText),
    "A sampler (euler, heun, dpmpp_2m, ...) or a diffusers scheduler (ddim, ddpm, unipc, dpmsolver, EulerDiscreteScheduler, ...); 'diffuse samplers' lists them.",
    { metavar: 'NAME', flag },
  );
}

/** The sigma schedules a sampler takes from --sigmas ('vp' is the SDE samplers'). */
export const SIGMAS_VALUES: readonly SigmaScheduleName[] = SIGMA_SCHEDULES.filter((k) => k !== 'vp');

/** --sigmas S. */
export const SIGMAS_FLAG = described(optional(enumField<SigmaScheduleName>('sigmas', SIGMAS_VALUES, 'karras'), 'karras'), `A sampler's sigma schedule: ${SIGMAS_VALUES.join(', ')}.`, { metavar: 'S' });

/** --steps K (`defaultText`: what absent means for the command). */
export function stepsFlag(defaultText: string = SAMPLING_DEFAULT_TEXT.steps): Field<number | undefined> {
  return described(optional(intField('steps', 1, 1), defaultText), 'Reverse steps of the full schedule.', { metavar: 'K' });
}

/** --class C: an index or a name (class_arg.ts resolveClassRefs turns names into indices). */
export const CLASS_FLAG: Field<readonly ClassRef[] | undefined> = described(
  optional(arrayField('class', classRefField('class'), [], 1), "0, 1, 2, ... cycling over the model's classes"),
  "Class of every image, or a comma-separated list, one per image (class-conditional models): an index or a class name of the model ('sneaker', 'ankle-boot'; case and punctuation ignored).",
  { metavar: 'C' },
);

/** The --guidance field: [-MAX_GUIDANCE, MAX_GUIDANCE] (negative steers away from the class; the file's guidance_scale is >= 0). */
const GUIDANCE_FIELD = numberField('guidance', 1, -MAX_GUIDANCE, MAX_GUIDANCE);

/** --guidance W. */
export const GUIDANCE_FLAG = described(
  optional(GUIDANCE_FIELD, SAMPLING_DEFAULT_TEXT.guidance),
  `Classifier-free guidance weight, ${GUIDANCE_FIELD.allowed}; useful values are about 1 to 10 (needs a class-conditional model trained with a null class).`,
  { metavar: 'W' },
);

/** The largest --eta: DDIM's eta is 0 to 1 (1: DDPM's variance); a stochastic sampler's noise scale stays finite far beyond. */
export const MAX_ETA = 100;
const ETA_FIELD = numberField('eta', 0, 0, MAX_ETA);

/** The largest --classifier-scale (Dhariwal & Nichol 2021 use 1 to 10). */
export const MAX_CLASSIFIER_SCALE = 100;
/** --classifier-scale S. */
export const CLASSIFIER_SCALE_FIELD = numberField('classifier_scale', 1, -MAX_CLASSIFIER_SCALE, MAX_CLASSIFIER_SCALE);

/** --allow-nonfinite: every command that loads a model (weights holding NaN/Inf are refused by default). */
export const ALLOW_NONFINITE_FLAG = described(
  boolField('allow_nonfinite', false),
  'Load model weights that hold NaN or Inf anyway, with a warning (default: refuse, naming the tensors and the file).',
);

/** --eta E. */
export const ETA_FLAG = described(optional(ETA_FIELD, '0 for ddim (deterministic), 1 for a stochastic sampler'), `DDIM's eta (0 to 1), or a stochastic sampler's noise scale; ${ETA_FIELD.allowed}.`, { metavar: 'E' });

/** --seed S. */
export const SEED_FLAG = described(intField('seed', 0, 0), 'Seed; the same seed gives the same images, whatever --batch is.', { metavar: 'S' });

/** --batch B (`def`: the command's images per forward pass). */
export function batchFlag(def: number): Field<number | undefined> {
  return described(optional(intField('batch', def, 1), String(def)), 'Images per forward pass (results do not depend on it).', { metavar: 'B' });
}

/** A required or optional path flag (`--out FILE`). */
export function pathFlag(flag: string, doc: string, metavar = 'FILE', defaultText?: string): Field<string | undefined> {
  return described(optional(stringField(flag, ''), defaultText), doc, { metavar });
}

/** An integer flag >= min with a default (`--n N`). */
export function countFlag(flag: string, def: number, min: number, doc: string, metavar = 'N'): Field<number> {
  return described(intField(flag, def, min), doc, { metavar });
}

/** The scheduler names a --scheduler value may take (the sampler registry's). */
export function knownSchedulerNames(): readonly string[] {
  return schedulerNames();
}

/**
 * --max-memory SIZE: the memory budget (nn/memory_budget.ts) a model, its training state and a
 * batch's activations are checked against before anything is allocated. 8G, 512M, 1.5GiB or bytes.
 */
export const MAX_MEMORY_FLAG = described(
  optional(
    {
      key: 'max_memory',
      default: 1,
      allowed: 'a size such as 8G, 512M, 1.5GiB or a number of bytes',
      parse: (v: unknown) => (typeof v === 'number' && Number.isSafeInteger(v) && v >= 1 ? v : undefined),
      parseText: parseByteSize,
      toJson: (v: number) => v,
      metavar: 'SIZE',
    } as Field<number>,
    `${Math.round(DEFAULT_MEMORY_FRACTION * 100)}% of the machine's memory`,
  ),
  "Memory budget: a model whose parameters (x5 when training: gradients, AdamW moments, EMA) and a batch's activations would need more is refused before anything is allocated, with the estimate (K, M, G, T: powers of 1024).",
);

/** Sets the process-wide memory budget from --max-memory (absent: the default stays). */
export function applyMaxMemory(bytes: number | undefined): void {
  if (bytes !== undefined) setMaxMemory(bytes);
}
