/**
 * No value-import cycle runs through the config layers: src/schema, src/train, src/sde,
 * src/diffusion, src/io and src/cli (the objective union sits in src/diffusion so that train and sde
 * both import it without importing each other). Oracle: Tarjan's strongly connected components of
 * the graph of relative `import`/`export ... from` statements, `import type` left out.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const CHECKED = ['src/schema/', 'src/train/', 'src/sde/', 'src/diffusion/', 'src/io/', 'src/cli/'];

/** src/**.ts (without src/web) -> the files it imports by value. */
function valueImports(): Map<string, string[]> {
  const files: string[] = [];
  const walk = (d: string): void => {
    for (const f of readdirSync(d)) {
      const p = join(d, f);
      if (statSync(p).isDirectory()) {
        if (f !== 'web') walk(p);
      } else if (p.endsWith('.ts') && !p.endsWith('.d.ts')) files.push(p);
    }
  };
  walk(join(ROOT, 'src'));
  const graph = new Map<string, string[]>();
  const re = /^\s*(?:import|export)\s+(?!type\s)([^'";]*?)\s*from\s+['"](\.[^'"]+)['"]/gm;
  for (const f of files) {
    const deps: string[] = [];
    for (const m of readFileSync(f, 'utf8').matchAll(re)) {
      const clause = m[1]!;
      const braces = /^\{([^}]*)\}$/.exec(clause.trim());
      // `import { type A, type B } from` imports nothing at run time.
      if (braces !== null && braces[1]!.split(',').map((s) => s.trim()).filter(Boolean).every((s) => s.startsWith('type '))) continue;
      deps.push(relative(ROOT, resolve(dirname(f), m[2]!.replace(/\.js$/, '.ts'))));
    }
    graph.set(relative(ROOT, f), deps);
  }
  return graph;
}

/** The strongly connected components with more than one file (Tarjan). */
function cycles(graph: Map<string, string[]>): string[][] {
  let next = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const out: string[][] = [];
  const visit = (v: string): void => {
    index.set(v, next);
    low.set(v, next);
    next++;
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!graph.has(w)) continue;
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) === index.get(v)) {
      const scc: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        scc.push(w);
      } while (w !== v);
      if (scc.length > 1) out.push(scc);
    }
  };
  for (const v of graph.keys()) if (!index.has(v)) visit(v);
  return out;
}

describe('import cycles', () => {
  it('none through src/schema, src/train, src/sde, src/diffusion, src/io or src/cli (value imports)', () => {
    const graph = valueImports();
    assert.ok(graph.has('src/schema/field.ts') && graph.has('src/diffusion/training_objective.ts'), 'the scan found the source files');
    const bad = cycles(graph).filter((c) => c.some((f) => CHECKED.some((dir) => f.startsWith(dir))));
    assert.deepEqual(bad, [], `value-import cycles: ${bad.map((c) => c.join(' -> ')).join('; ')}`);
  });
});
