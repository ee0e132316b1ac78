/**
 * The "did you mean" hint for an unknown config key or flag: the known name it most likely
 * misspells (camelCase written for snake_case, a typo of one or two letters), or '' when none is
 * close. Shared by config files and command-line flags so both answer a typo the same way.
 */

/** camelCase -> snake_case (`betaSchedule` -> `beta_schedule`). */
export function toSnakeCase(name: string): string {
  return name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}

/** Levenshtein distance (insertions, deletions, substitutions). */
function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = cur;
  }
  return prev[b.length]!;
}

/**
 * The known name `name` most likely means: the same name in snake_case (or with '-' for '_'), else
 * a unique known name that adds a word to it, else the closest within an edit distance of a third of its length (at least 1, at most 3); undefined
 * when nothing is close.
 * @example closestName('betaSchedule', ['beta_schedule', 'beta_end']) // 'beta_schedule'
 */
export function closestName(name: string, known: Iterable<string>): string | undefined {
  const names = [...known];
  const normal = (s: string): string => toSnakeCase(s).replace(/-/g, '_').toLowerCase();
  const exact = names.find((k) => normal(k) === normal(name));
  if (exact !== undefined) return exact;
  // A known name that is this one with a word added (`guidance` for `guidance_scale`).
  const longer = names.filter((k) => name.length >= 3 && normal(k).split('_').some((_, i, words) => words.slice(i).join('_').startsWith(normal(name)) || words.slice(0, i + 1).join('_') === normal(name)));
  if (longer.length === 1) return longer[0];
  const limit = Math.min(3, Math.max(1, Math.floor(name.length / 3)));
  let best: string | undefined;
  let bestD = Infinity;
  for (const k of names) {
    const d = editDistance(normal(name), normal(k));
    if (d < bestD) [best, bestD] = [k, d];
  }
  return bestD <= limit ? best : undefined;
}
