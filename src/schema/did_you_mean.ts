/**
 * The "did you mean" hint for an unknown name: the known name it most likely misspells (camelCase
 * written for snake_case, a dropped '_', a typo of one or two letters, two letters swapped), or
 * none when nothing is close. One rule for config keys, command names, flags, sampler names and
 * class names, so every surface answers a typo the same way. The distance is Damerau-Levenshtein
 * (optimal string alignment: insertions, deletions, substitutions, adjacent transpositions).
 */

/** camelCase -> snake_case (`betaSchedule` -> `beta_schedule`). */
export function toSnakeCase(name: string): string {
  return name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}

/**
 * Damerau-Levenshtein distance in its optimal-string-alignment form: insertions, deletions,
 * substitutions and swaps of two adjacent letters each cost 1.
 * @example editDistance('dpmpp2m', 'dpmpp_2m') // 1
 */
export function editDistance(a: string, b: string): number {
  let prev2: number[] = [];
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      let d = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d = Math.min(d, prev2[j - 2]! + 1);
      cur[j] = d;
    }
    [prev2, prev] = [prev, cur];
  }
  return prev[b.length]!;
}

/** The normal form names are compared in: snake_case, '-' as '_', lower case. */
const normal = (s: string): string => toSnakeCase(s).replace(/-/g, '_').toLowerCase();

/** The largest edit distance still taken for a typo of `name`: a third of its length, at least 1, at most 3. */
function typoLimit(name: string): number {
  return Math.min(3, Math.max(1, Math.floor(name.length / 3)));
}

/**
 * Up to `max` known names within the typo limit of `name`, closest first (ties keep `known`'s
 * order); [] when none is close. For messages that offer a few candidates ("did you mean --seed
 * or --steps?").
 * @example closestNames('stesp', ['steps', 'seed', 'out']) // ['steps']
 */
export function closestNames(name: string, known: Iterable<string>, max = 3): string[] {
  const first = closestName(name, known);
  const limit = typoLimit(name);
  const scored = [...known].map((k, i) => ({ k, i, d: editDistance(normal(name), normal(k)) })).filter((x) => x.d <= limit && x.k !== first);
  scored.sort((a, b) => a.d - b.d || a.i - b.i);
  return [...(first === undefined ? [] : [first]), ...scored.map((x) => x.k)].slice(0, max);
}

/**
 * The hint itself, quoted the way `quote` says: ` (did you mean 'a'?)`, ` (did you mean 'a' or 'b'?)`, or ''.
 * @example didYouMean('dpmpp2m', ['dpmpp_2m', 'euler']) // " (did you mean 'dpmpp_2m'?)"
 */
export function didYouMean(name: string, known: Iterable<string>, max = 1, quote: (s: string) => string = (s) => `'${s}'`): string {
  const guesses = max === 1 ? [closestName(name, known)].filter((g): g is string => g !== undefined) : closestNames(name, known, max);
  if (guesses.length === 0) return '';
  const list = guesses.length === 1 ? quote(guesses[0]!) : `${guesses.slice(0, -1).map(quote).join(', ')} or ${quote(guesses[guesses.length - 1]!)}`;
  return ` (did you mean ${list}?)`;
}

/**
 * The known name `name` most likely means: the same name in snake_case (or with '-' for '_'), else
 * a unique known name that adds a word to it, else the closest within an edit distance of a third of its length (at least 1, at most 3); undefined
 * when nothing is close.
 * @example closestName('betaSchedule', ['beta_schedule', 'beta_end']) // 'beta_schedule'
 */
export function closestName(name: string, known: Iterable<string>): string | undefined {
  const names = [...known];
  const exact = names.find((k) => normal(k) === normal(name));
  if (exact !== undefined) return exact;
  // A known name that is this one with a word added (`guidance` for `guidance_scale`).
  const longer = names.filter((k) => name.length >= 3 && normal(k).split('_').some((_, i, words) => words.slice(i).join('_').startsWith(normal(name)) || words.slice(0, i + 1).join('_') === normal(name)));
  if (longer.length === 1) return longer[0];
  const limit = typoLimit(name);
  let best: string | undefined;
  let bestD = Infinity;
  for (const k of names) {
    const d = editDistance(normal(name), normal(k));
    if (d < bestD) [best, bestD] = [k, d];
  }
  return bestD <= limit ? best : undefined;
}
