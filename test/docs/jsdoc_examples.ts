/**
 * The doctest machinery of test/docs/jsdoc_examples.test.ts: extracts every JSDoc `@example`
 * block of src/, and turns each into a small TypeScript module that imports what it names from
 * the package entry ('diffuse', through a node_modules link) or, for an internal helper, from its
 * own module, and wraps the code in `export async function run()`. A line `expr // literal` (a
 * number, string, boolean, null or an array of them) becomes an assertion that expr equals the
 * literal (numbers to the literal's decimals), as Python's doctest compares printed values.
 * Settings are shrunk for speed (steps and perClass to at most 2; n stays, as class labels may
 * count on it), and an example may opt out of
 * running, never of type checking, with a line comment `doctest: no-run (reason)`.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';

/** One @example block. */
export interface Example {
  /** src/... path of the file it is in. */
  file: string;
  /** 1-based line of its `@example` tag. */
  line: number;
  code: string;
}

/** Every .ts file under `dir` (web/ is the browser page, not the package). */
function sourceFiles(dir: string, root: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) {
      if (relative(root, p) !== join('src', 'web')) out.push(...sourceFiles(p, root));
    } else if (e.name.endsWith('.ts') && !e.name.endsWith('.d.ts')) out.push(p);
  }
  return out.sort();
}

/** The @example blocks of the package root's src/. */
export function extractExamples(root: string): Example[] {
  const examples: Example[] = [];
  for (const path of sourceFiles(join(root, 'src'), root)) {
    const text = readFileSync(path, 'utf8');
    const file = relative(root, path);
    for (const m of text.matchAll(/\/\*\*[\s\S]*?\*\//g)) {
      const lines = m[0].split('\n').map((l) => l.replace(/^\s*\/?\*+\/?\s?/, '').replace(/\s*\*\/$/, ''));
      const startLine = text.slice(0, m.index).split('\n').length;
      for (let i = 0; i < lines.length; i++) {
        const tag = /^@example\b ?(.*)$/.exec(lines[i]!.trim());
        if (tag === null) continue;
        const code: string[] = tag[1]!.trim() === '' ? [] : [tag[1]!];
        let j = i + 1;
        for (; j < lines.length && !/^@\w/.test(lines[j]!.trim()); j++) code.push(lines[j]!);
        examples.push({ file, line: startLine + i, code: code.join('\n').trim() });
        i = j - 1;
      }
    }
  }
  return examples;
}

/** A JS literal a doctest comment may state: a number, a quoted string, true/false/null, or an array of them. */
const LITERAL = /^(-?\d+(\.\d+)?(e-?\d+)?|'[^']*'|"[^"]*"|true|false|null|undefined|\[[-\d.e, '"\w/]*\])$/;

/** Whether a line is an expression worth checking against its comment (not a declaration or a statement). */
function checkedLine(line: string): { expr: string; literal: string } | null {
  const m = /^(.+?)\s*\/\/\s*(.+?)\s*$/.exec(line);
  if (m === null) return null;
  const [, expr, literal] = m as unknown as [string, string, string];
  if (/^(const|let|var|await|import|export|if|for|return|throw|new)\b/.test(expr) || expr.endsWith(';') || literal.includes('..') || !LITERAL.test(literal)) return null;
  return { expr, literal };
}

/** Settings shrunk for speed: steps and perClass at most 2 (the example's meaning is kept). */
export function shrink(code: string): string {
  return code.replace(/\b(steps|perClass|numInferenceSteps): (\d+)/g, (all, k: string, v: string) => (Number(v) > 2 ? `${k}: 2` : all));
}

/** Whether the example opts out of running. */
export function noRun(code: string): boolean {
  return /doctest: no-run \(.+\)/.test(code);
}

/**
 * The module of one example: imports of `packageNames` from 'diffuse' and `ownNames` from
 * `ownModule`, `missing` declared as any (a fragment's free variables), and `run()`.
 */
export function exampleModule(ex: Example, packageNames: readonly string[], ownModule: string, ownNames: readonly string[], missing: readonly string[]): string {
  const body = shrink(ex.code)
    .split('\n')
    .map((line) => {
      const c = checkedLine(line.trim());
      return c === null ? `  ${line}` : `  __expect(${c.expr}, ${c.literal}, ${JSON.stringify(c.literal)}, ${JSON.stringify(line.trim())});`;
    })
    .join('\n');
  return [
    `// ${ex.file}:${ex.line}`,
    `import { __expect } from './expect.js';`,
    packageNames.length > 0 ? `import { ${packageNames.join(', ')} } from 'diffuse';` : '',
    ownNames.length > 0 ? `import { ${ownNames.join(', ')} } from ${JSON.stringify(ownModule)};` : '',
    ...missing.map((n) => `declare const ${n}: any;`),
    `export async function run(): Promise<void> {`,
    body,
    `}`,
    '',
  ].join('\n');
}

/** The assertion helper the examples call (written beside them as expect.ts). */
export const EXPECT_MODULE = `
function same(a: unknown, b: unknown, text: string): boolean {
  if (typeof b === 'number' && typeof a === 'number') {
    const decimals = (text.split('.')[1] ?? '').replace(/e.*$/, '').length;
    return Number.isInteger(b) && !text.includes('.') ? a === b : Math.abs(a - b) <= 0.5 * 10 ** -decimals + 1e-12;
  }
  if (Array.isArray(b)) {
    const xs = ArrayBuffer.isView(a) ? Array.from(a as unknown as ArrayLike<number>) : a;
    if (!Array.isArray(xs) || xs.length !== b.length) return false;
    const parts = text.slice(1, -1).split(',').map((s) => s.trim());
    return b.every((v, i) => same(xs[i], v, parts[i] ?? ''));
  }
  return Object.is(a, b);
}
export function __expect(actual: unknown, expected: unknown, text: string, line: string): void {
  if (!same(actual, expected, text)) throw new Error(\`\${line}: found \${JSON.stringify(ArrayBuffer.isView(actual) ? Array.from(actual as unknown as ArrayLike<number>) : actual)}\`);
}
`;
