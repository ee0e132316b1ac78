/**
 * src/schema: typed fields read config files and flags by one description. Oracles: hand-written
 * inputs with known readings (both flag spellings, negative numbers, the closest known name), the
 * round trip of a parsed config back to the same JSON, and --help built from the fields' defaults.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { arrayField, boolField, described, enumField, intField, nullable, numberField, optional } from '../../src/schema/field.js';
import { configToJson, parseConfig } from '../../src/schema/config.js';
import { formatFlagHelp, parseFlags } from '../../src/schema/flags.js';
import { closestName } from '../../src/schema/did_you_mean.js';
import { ArgumentError } from '../../src/tensor/errors.js';

const FIELDS = {
  numSteps: described(intField('num_steps', 50, 1), 'Reverse steps.', { metavar: 'K' }),
  seed: described(intField('seed', 0), 'Seed.'),
  guidanceScale: described(numberField('guidance_scale', 1, 0), 'Guidance weight.', { flag: 'guidance' }),
  schedule: described(enumField('schedule', ['linear', 'cosine'] as const, 'linear'), 'Beta schedule.'),
  flip: described(boolField('flip', false), 'Random flips.'),
  channels: described(arrayField('channels', intField('channels', 1, 1), [32, 64], 1), 'Channels.'),
  gamma: described(nullable(numberField('gamma', 5, 0, Infinity, true)), 'Min-SNR gamma.', { defaultText: 'off' }),
  model: described(optional(intField('model', 0, 0), "the model's own"), 'A model index.'),
} as const;

describe('schema fields', () => {
  it('parse a config object: defaults, values, round trip', () => {
    const c = parseConfig('test.json', FIELDS, { num_steps: 20, guidance_scale: 1.5, channels: [8, 16], gamma: null, _class_name: 'X' });
    assert.deepEqual({ ...c, channels: [...c.channels] }, { numSteps: 20, seed: 0, guidanceScale: 1.5, schedule: 'linear', flip: false, channels: [8, 16], gamma: null, model: undefined });
    assert.deepEqual(configToJson(FIELDS, c), { num_steps: 20, seed: 0, guidance_scale: 1.5, schedule: 'linear', flip: false, channels: [8, 16], gamma: null });
    assert.deepEqual(parseConfig('test.json', FIELDS, configToJson(FIELDS, c)), c);
  });

  it('name the key, the value and what is allowed; unknown keys get "did you mean"', () => {
    assert.throws(() => parseConfig('test.json', FIELDS, { num_steps: 0 }), (e: unknown) => e instanceof ArgumentError && /test.json: config key "num_steps" has value 0; allowed: an integer >= 1/.test(e.message));
    assert.throws(() => parseConfig('test.json', FIELDS, { gamma: 0 }), /allowed: null or a number > 0/);
    assert.throws(() => parseConfig('test.json', FIELDS, { schedule: 'sigmoid' }), /allowed: one of "linear", "cosine"/);
    assert.throws(() => parseConfig('test.json', FIELDS, { numSteps: 3 }, { keyStyleNote: 'files use snake_case keys' }), /unknown config key "numSteps" \(value 3\) \(did you mean "num_steps"\? files use snake_case keys\); known keys: num_steps/);
    assert.throws(() => parseConfig('test.json', FIELDS, { guidance_scal: 2 }), /unknown config key "guidance_scal" \(value 2\) \(did you mean "guidance_scale"\?\)/);
    assert.throws(() => parseConfig('test.json', FIELDS, [1]), /expected a JSON object/);
    assert.deepEqual(parseConfig('test.json', FIELDS, { other: 1 }, { ignoreUnknown: true }).numSteps, 50);
  });

  it('closestName: snake_case for camelCase, a word left off, a small typo; nothing when far', () => {
    assert.equal(closestName('betaSchedule', ['beta_schedule', 'beta_end']), 'beta_schedule');
    assert.equal(closestName('guidance', ['guidance_scale', 'scheduler']), 'guidance_scale');
    assert.equal(closestName('warmpu', ['warmup', 'steps']), 'warmup');
    assert.equal(closestName('zzzz', ['warmup', 'steps']), undefined);
  });
});

describe('schema flags', () => {
  it('--flag value and --flag=value read alike; a sign is part of a number; booleans stand alone', () => {
    const a = parseFlags(FIELDS, ['--num-steps', '20', '--seed', '-3', '--guidance=2.5', '--flip', '--channels', '4,8', '--gamma', 'none']);
    const b = parseFlags(FIELDS, ['--num-steps=20', '--seed=-3', '--guidance', '2.5', '--flip=true', '--channels=4,8', '--gamma=null']);
    assert.deepEqual(a.values, b.values);
    assert.deepEqual({ ...a.values, channels: [...a.values.channels] }, { numSteps: 20, seed: -3, guidanceScale: 2.5, schedule: 'linear', flip: true, channels: [4, 8], gamma: null, model: undefined });
    assert.deepEqual([...a.given].sort(), ['channels', 'flip', 'gamma', 'guidanceScale', 'numSteps', 'seed']);
    assert.equal(parseFlags(FIELDS, ['--flip=false']).values.flip, false);
    assert.deepEqual(parseFlags(FIELDS, ['--', '--seed'], { allowPositionals: true }).positionals, ['--seed']);
  });

  it('errors name the flag, what is allowed and the text; unknown flags get "did you mean"', () => {
    assert.throws(() => parseFlags(FIELDS, ['--num-steps', '0']), /--num-steps must be an integer >= 1, found '0'/);
    assert.throws(() => parseFlags(FIELDS, ['--num-steps', '2.5']), /--num-steps must be an integer >= 1, found '2.5'/);
    assert.throws(() => parseFlags(FIELDS, ['--guidance', '-1']), /--guidance must be a number >= 0, found '-1'/);
    assert.throws(() => parseFlags(FIELDS, ['--guidance', '0x10']), /--guidance must be a number >= 0, found '0x10'/);
    assert.throws(() => parseFlags(FIELDS, ['--schedule', 'sigmoid']), /--schedule must be one of linear, cosine, found 'sigmoid'/);
    assert.throws(() => parseFlags(FIELDS, ['--num-step', '3']), /unknown option '--num-step' \(did you mean '--num-steps'\?\); known options: --num-steps, --seed/);
    assert.throws(() => parseFlags(FIELDS, ['--seed']), /Option '--seed <N>' needs a value/);
    assert.throws(() => parseFlags(FIELDS, ['--seed', '--flip']), /needs a value, found the flag '--flip'/);
    assert.throws(() => parseFlags(FIELDS, ['extra']), /Unexpected argument 'extra'/);
  });

  it('--help prints each flag with its doc and the default the field holds', () => {
    const help = formatFlagHelp(FIELDS);
    assert.match(help, /^ {2}--num-steps K {6}Reverse steps \(default: 50\)\.$/m);
    assert.match(help, /--guidance X +Guidance weight \(default: 1\)\./);
    assert.match(help, /--schedule NAME +Beta schedule \(default: linear\)\./);
    assert.match(help, /--flip +Random flips\.$/m);
    assert.match(help, /--channels LIST +Channels \(default: 32,64\)\./);
    assert.match(help, /--gamma X +Min-SNR gamma \(default: off\)\./);
    assert.match(help, /--model N +A model index \(default: the model's own\)\./);
  });
});
