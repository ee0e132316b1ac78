/**
 * Static checks over src/ that the redesign (issue 13) promises, read from the TypeScript
 * sources with TypeScript's own parser (syntax only, no type checking: comments and strings never
 * count, and multi-line imports parse like any other):
 *   (a) no import cycles among src/ files, counting value imports only (`import type`,
 *       `export type` and imports whose every name is `type` are erased by tsc and cannot cycle
 *       at run time; dynamic `import()` is not a load-time edge and is not counted);
 *   (b) the diffusers-scheduler vs k-diffusion-sampler fork (`kind === 'scheduler'`) only in the
 *       one adapter file;
 *   (c) one `intFlag`: no function of that name defined in more than one file;
 *   (d) tensor host buffers belong to src/backend and src/tensor: with the type checker, no
 *       uncalled `Tensor.data` anywhere (`await t.data()` is the read) and no `hostBuffer()` in
 *       src outside those folders; a tensor's device buffer (`.storage`) only there and in src/ops.
 * Each failure lists every offending file (and line), so the message is the to-do list.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, existsSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import ts from 'typescript';
import { packageRoot } from '../src/io/model_folder.js';

const ROOT = packageRoot();
const SRC = join(ROOT, 'src');

/** Repository-relative path with forward slashes (stable in messages on any OS). */
const rel = (abs: string): string => relative(ROOT, abs).split(sep).join('/');

/** Every .ts source under src/ (declaration files excluded), sorted. */
function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...sourceFiles(p));
    else if (name.endsWith('.ts') && !name.endsWith('.d.ts')) out.push(p);
  }
  return out;
}

const FILES = sourceFiles(SRC);
const PARSED = new Map(FILES.map((f) => [f, ts.createSourceFile(f, readFileSync(f, 'utf8'), ts.ScriptTarget.ES2022, true)] as const));

/** 1-based line of a node, for messages. */
const lineOf = (sf: ts.SourceFile, node: ts.Node): number => sf.getLineAndCharacterOfPosition(node.getStart(sf)).line + 1;

/** Every node of a file, depth first. */
function forEachNode(sf: ts.SourceFile, visit: (node: ts.Node) => void): void {
  const walk = (n: ts.Node): void => {
    visit(n);
    n.forEachChild(walk);
  };
  walk(sf);
}

/** Whether an import/export declaration is erased at compile time (type-only). */
function typeOnly(decl: ts.ImportDeclaration | ts.ExportDeclaration): boolean {
  if (ts.isImportDeclaration(decl)) {
    const clause = decl.importClause;
    if (clause === undefined) return false; // `import './x.js'`: a side-effect import is a value edge
    if (clause.isTypeOnly) return true;
    if (clause.name !== undefined) return false; // a default import
    const b = clause.namedBindings;
    if (b === undefined) return false;
    if (ts.isNamespaceImport(b)) return false;
    return b.elements.length > 0 && b.elements.every((e) => e.isTypeOnly);
  }
  if (decl.isTypeOnly) return true;
  const c = decl.exportClause;
  return c !== undefined && ts.isNamedExports(c) && c.elements.length > 0 && c.elements.every((e) => e.isTypeOnly);
}

/** The src/ file a relative specifier names ('./x.js' -> x.ts, './dir' -> dir/index.ts), or null. */
function resolveSpecifier(from: string, spec: string): string | null {
  if (!spec.startsWith('.')) return null; // node: builtins and packages
  const base = resolve(dirname(from), spec);
  const candidates = [base.replace(/\.(m?js)$/, '.ts'), `${base}.ts`, join(base, 'index.ts')];
  return candidates.find((c) => PARSED.has(c)) ?? null;
}

/** The value-import graph: file -> the src/ files it imports or re-exports at run time. */
function valueImports(): Map<string, Set<string>> {
  const graph = new Map<string, Set<string>>();
  for (const [file, sf] of PARSED) {
    const deps = new Set<string>();
    for (const st of sf.statements) {
      if (!ts.isImportDeclaration(st) && !ts.isExportDeclaration(st)) continue;
      const spec = st.moduleSpecifier;
      if (spec === undefined || !ts.isStringLiteral(spec) || typeOnly(st)) continue;
      const target = resolveSpecifier(file, spec.text);
      if (target !== null) deps.add(target);
    }
    graph.set(file, deps);
  }
  return graph;
}

/** Strongly connected components with a cycle (Tarjan): each a sorted list of files. */
function cycles(graph: Map<string, Set<string>>): string[][] {
  let counter = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const out: string[][] = [];
  const connect = (v: string): void => {
    index.set(v, counter);
    low.set(v, counter);
    counter++;
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!index.has(w)) {
        connect(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) {
        low.set(v, Math.min(low.get(v)!, index.get(w)!));
      }
    }
    if (low.get(v) === index.get(v)) {
      const scc: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        scc.push(w);
      } while (w !== v);
      if (scc.length > 1 || graph.get(v)?.has(v) === true) out.push(scc.sort());
    }
  };
  for (const v of [...graph.keys()].sort()) if (!index.has(v)) connect(v);
  return out.sort((a, b) => a[0]!.localeCompare(b[0]!));
}

/** One shortest cycle through `start` inside its component (breadth first), for the message. */
function shortestCycle(graph: Map<string, Set<string>>, scc: readonly string[], start: string): string[] {
  const inScc = new Set(scc);
  const prev = new Map<string, string>();
  const queue = [start];
  for (let i = 0; i < queue.length; i++) {
    const v = queue[i]!;
    for (const w of graph.get(v) ?? []) {
      if (!inScc.has(w)) continue;
      if (w === start) {
        const path = [v];
        while (path[0] !== start) path.unshift(prev.get(path[0]!)!);
        return [...path, start];
      }
      if (!prev.has(w)) {
        prev.set(w, v);
        queue.push(w);
      }
    }
  }
  return [start];
}

/**
 * Files allowed to fork on `kind === 'scheduler'`: the factory that picks a family's adapter and
 * the adapter that turns a diffusers-style scheduler into the one reverse-process contract.
 */
const SCHEDULER_FORK_ALLOWED = new Set(['src/sampling/reverse_process.ts', 'src/sampling/scheduler_process.ts']);

/** Folders that own tensor storage: the only places that may touch a host buffer. */
const DATA_ALLOWED_DIRS = ['src/backend/', 'src/tensor/'];


describe('architecture (static checks over src/)', () => {
  it('finds the sources', () => {
    assert.ok(existsSync(SRC), `${SRC} is missing`);
    assert.ok(FILES.length > 100, `only ${FILES.length} .ts files under ${SRC}`);
  });

  it('(a) no import cycles among src/ files (value imports only)', () => {
    const graph = valueImports();
    const found = cycles(graph);
    const report = found.map((scc, i) => `  ${i + 1}. ${scc.length} files: ${scc.map(rel).join(', ')}\n     e.g. ${shortestCycle(graph, scc, scc[0]!).map(rel).join(' -> ')}`);
    assert.equal(found.length, 0, `${found.length} import cycle(s) among src/ files (break each with a lower module or an \`import type\`):\n${report.join('\n')}`);
  });

  it("(b) no `kind === 'scheduler'` fork outside the scheduler adapter", () => {
    const hits: string[] = [];
    for (const [file, sf] of PARSED) {
      if (SCHEDULER_FORK_ALLOWED.has(rel(file))) continue;
      forEachNode(sf, (n) => {
        if (!ts.isBinaryExpression(n)) return;
        const op = n.operatorToken.kind;
        if (op !== ts.SyntaxKind.EqualsEqualsEqualsToken && op !== ts.SyntaxKind.ExclamationEqualsEqualsToken && op !== ts.SyntaxKind.EqualsEqualsToken && op !== ts.SyntaxKind.ExclamationEqualsToken) return;
        const isKind = (e: ts.Expression): boolean => (ts.isPropertyAccessExpression(e) && e.name.text === 'kind') || (ts.isIdentifier(e) && e.text === 'kind');
        const isScheduler = (e: ts.Expression): boolean => ts.isStringLiteralLike(e) && e.text === 'scheduler';
        if ((isKind(n.left) && isScheduler(n.right)) || (isKind(n.right) && isScheduler(n.left))) hits.push(`${rel(file)}:${lineOf(sf, n)}`);
      });
    }
    assert.deepEqual(hits, [], `the scheduler/sampler fork belongs in ${[...SCHEDULER_FORK_ALLOWED].join(', ')} only; found ${hits.length}:\n  ${hits.join('\n  ')}`);
  });

  it('(c) one intFlag: no function named intFlag defined in more than one file', () => {
    const definers: string[] = [];
    for (const [file, sf] of PARSED) {
      let defines = false;
      forEachNode(sf, (n) => {
        if (ts.isFunctionDeclaration(n) && n.name?.text === 'intFlag') defines = true;
        if (ts.isVariableDeclaration(n) && ts.isIdentifier(n.name) && n.name.text === 'intFlag') defines = true;
      });
      if (defines) definers.push(rel(file));
    }
    assert.ok(definers.length <= 1, `intFlag is defined in ${definers.length} files (keep one and import it):\n  ${definers.join('\n  ')}`);
  });

  it('(d) tensor host buffers only in src/backend and src/tensor: no synchronous Tensor.data anywhere, hostBuffer only there', () => {
    // Type-aware: a `.data` whose receiver is a Tensor and that is not called (t.data() is the
    // async read), anywhere in src, test or bench (Tensor.data is a method: such an access is
    // a bug, e.g. t.data.length is Function.length); and hostBuffer(), the CPU escape hatch, in
    // src only under the folders that own storage (tests may use it: they are oracles).
    const config = ts.getParsedCommandLineOfConfigFile(join(ROOT, 'tsconfig.json'), {}, { ...ts.sys, onUnRecoverableConfigFileDiagnostic: () => undefined });
    assert.ok(config !== undefined, 'tsconfig.json parses');
    const program = ts.createProgram(config.fileNames, config.options);
    const checker = program.getTypeChecker();
    const isTensor = (type: ts.Type): boolean =>
      type.isUnion() ? type.types.some(isTensor) : (type.getSymbol() ?? type.aliasSymbol)?.getName() === 'Tensor';
    const hits: string[] = [];
    for (const sf of program.getSourceFiles()) {
      if (sf.isDeclarationFile || !sf.fileName.startsWith(ROOT) || sf.fileName.includes('node_modules')) continue;
      const r = rel(sf.fileName);
      const owner = DATA_ALLOWED_DIRS.some((d) => r.startsWith(d));
      forEachNode(sf, (n) => {
        if (ts.isPropertyAccessExpression(n) && n.name.text === 'data') {
          if (ts.isCallExpression(n.parent) && n.parent.expression === n) return;
          if (isTensor(checker.getTypeAtLocation(n.expression))) hits.push(`${r}:${lineOf(sf, n)} (Tensor.data not called)`);
        }
        // The device buffer handle is for the ops that pass it to their device's kernels.
        if (ts.isPropertyAccessExpression(n) && n.name.text === 'storage' && r.startsWith('src/') && !owner && !r.startsWith('src/ops/')) {
          if (isTensor(checker.getTypeAtLocation(n.expression))) hits.push(`${r}:${lineOf(sf, n)} (Tensor.storage outside src/backend, src/tensor and src/ops)`);
        }
        if (!owner && r.startsWith('src/') && ts.isCallExpression(n) && ts.isIdentifier(n.expression) && n.expression.text === 'hostBuffer') {
          hits.push(`${r}:${lineOf(sf, n)} (hostBuffer outside src/backend and src/tensor: use ops, toArray(), item() or await data())`);
        }
      });
    }
    assert.deepEqual(hits, [], `host-buffer accesses where they do not belong:\n  ${hits.join('\n  ')}`);
  });
});
