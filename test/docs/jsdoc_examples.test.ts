/**
 * Every JSDoc @example in src/ is type-checked and, where it is a whole program, run
 * (test/docs/jsdoc_examples.ts builds the modules): an example that names only package exports,
 * its own module's exports and its own variables is compiled with tsc --strict against the
 * package's declarations and run from a folder holding the bundled models (models/...), its
 * `expr // literal` lines asserted; a fragment (an example using variables it does not define)
 * is type-checked with those variables as `any`, so a renamed function, a wrong option or a wrong
 * argument count still fails here. The examples cannot rot.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { tmpdir } from 'node:os';
import ts from 'typescript';
import { packageRoot } from '../../src/io/package_root.js';
import { EXPECT_MODULE, exampleModule, extractExamples, noRun, type Example } from './jsdoc_examples.js';

/** Names a declaration file exports (following `export * from`). */
function exportNames(dts: string, seen = new Set<string>()): Set<string> {
  const names = new Set<string>();
  if (seen.has(dts)) return names;
  seen.add(dts);
  const sf = ts.createSourceFile(dts, readFileSync(dts, 'utf8'), ts.ScriptTarget.ES2022);
  const exported = (n: ts.Node): boolean => ts.canHaveModifiers(n) && (ts.getModifiers(n) ?? []).some((m) => m.kind === ts.SyntaxKind.ExportKeyword);
  for (const s of sf.statements) {
    if (ts.isExportDeclaration(s)) {
      if (s.exportClause === undefined && s.moduleSpecifier !== undefined && ts.isStringLiteral(s.moduleSpecifier)) {
        for (const n of exportNames(join(dirname(dts), s.moduleSpecifier.text.replace(/\.js$/, '.d.ts')), seen)) names.add(n);
      } else if (s.exportClause !== undefined && ts.isNamedExports(s.exportClause)) {
        for (const e of s.exportClause.elements) names.add(e.name.text);
      }
    } else if (exported(s)) {
      if (ts.isVariableStatement(s)) for (const d of s.declarationList.declarations) (ts.isIdentifier(d.name) ? names.add(d.name.text) : undefined);
      else if ((ts.isFunctionDeclaration(s) || ts.isClassDeclaration(s) || ts.isInterfaceDeclaration(s) || ts.isTypeAliasDeclaration(s) || ts.isEnumDeclaration(s)) && s.name !== undefined) names.add(s.name.text);
    }
  }
  return names;
}

/** Identifiers an example's code mentions (a superset of what it uses). */
function mentioned(code: string): Set<string> {
  return new Set(code.match(/[A-Za-z_$][\w$]*/g) ?? []);
}

const COMPILER_OPTIONS: ts.CompilerOptions = {
  strict: true, target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.NodeNext, moduleResolution: ts.ModuleResolutionKind.NodeNext,
  skipLibCheck: true, types: ['node'], outDir: 'out', noEmitOnError: false,
};

/**
 * Whole-program examples that are type-checked but not run, each with why: they need a service,
 * or their work (a dataset load, a training run) is minutes, not the seconds a unit test may take.
 * Their code is exercised by the tests of their modules and by test/readme_commands.test.ts.
 */
const NO_RUN: readonly { file: string; contains: string; reason: string }[] = [
  { file: 'src/server/app.ts', contains: 'startServer(', reason: 'starts an HTTP server' },
  { file: 'src/server/redis_queue.ts', contains: 'startRedisWorker(', reason: 'needs a Redis server' },
  { file: 'src/eval/train_feature_net.ts', contains: 'trainFeatureNet(', reason: 'trains a feature net on Fashion-MNIST for minutes' },
  { file: 'src/train/trainer.ts', contains: 'train(', reason: 'a training run on Fashion-MNIST' },
  { file: 'src/train/classifier_trainer.ts', contains: 'trainClassifier(', reason: 'a training run on Fashion-MNIST' },
];

/** Why an example is not run, or null. */
function noRunReason(ex: Example): string | null {
  if (noRun(ex.code)) return 'doctest: no-run in the example';
  return NO_RUN.find((r) => r.file === ex.file && ex.code.includes(r.contains))?.reason ?? null;
}

/** The "cannot find name" diagnostics: a fragment's free variables. */
const CANNOT_FIND = new Set([2304, 2552, 18004]);

/**
 * The files of the Node-style library surface (pipelines, bundled models, sampling defaults, class
 * names, loading), whose examples are the ones an app copies first. The sweep over all of src/
 * (about 330 examples) is `checkExamples(extractExamples(root))`.
 */
const LIBRARY_FILES: readonly string[] = [
  'src/pipelines/diffusion_pipeline.ts', 'src/pipelines/generated_images.ts', 'src/pipelines/async.ts', 'src/pipelines/abort_error.ts',
  'src/pipelines/generate.ts', 'src/io/bundled_models.ts', 'src/io/model_class_names.ts', 'src/io/sampling_config.ts', 'src/nn/unet_2d.ts',
];

describe('JSDoc @example blocks', () => {
  it('finds the examples of every file of src/', () => {
    const examples = extractExamples(packageRoot());
    assert.ok(examples.length > 300, `found only ${examples.length} @example blocks in src/; is the extraction broken?`);
    const own = examples.filter((e) => e.file === 'src/pipelines/diffusion_pipeline.ts');
    assert.ok(own.some((e) => e.code.includes("DiffusionPipeline.fromPretrained('fashion-mnist')") && e.code.includes('\n')), 'a multi-line example is extracted whole');
  });

  it('the library surface: every example type-checks against the package, and every whole-program example runs', { timeout: 900_000 }, () => {
    const root = packageRoot();
    const examples = extractExamples(root).filter((e) => LIBRARY_FILES.includes(e.file));
    assert.ok(examples.length >= 20, `found only ${examples.length} examples in ${LIBRARY_FILES.join(', ')}`);
    const pkg = exportNames(join(root, 'dist', 'src', 'index.d.ts'));
    const dir = mkdtempSync(join(tmpdir(), 'diffuse-doctest-'));
    try {
      mkdirSync(join(dir, 'node_modules'));
      symlinkSync(root, join(dir, 'node_modules', 'diffuse'), 'dir');
      for (const d of ['models', 'configs']) symlinkSync(join(root, d), join(dir, d), 'dir');
      writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'doctest', type: 'module', private: true }));
      writeFileSync(join(dir, 'expect.ts'), EXPECT_MODULE);
      const options: ts.CompilerOptions = { ...COMPILER_OPTIONS, typeRoots: [join(root, 'node_modules', '@types')], outDir: join(dir, 'out'), rootDir: dir };

      const write = (ex: Example, i: number, missing: readonly string[]): string => {
        const own = join(root, 'dist', ex.file.replace(/\.ts$/, '.js'));
        const ownNames = exportNames(own.replace(/\.js$/, '.d.ts'));
        const words = mentioned(ex.code);
        const fromPkg = [...pkg].filter((n) => words.has(n) && !missing.includes(n)).sort();
        const fromOwn = [...ownNames].filter((n) => words.has(n) && !pkg.has(n) && !missing.includes(n)).sort();
        const file = join(dir, `ex_${String(i).padStart(3, '0')}.ts`);
        writeFileSync(file, exampleModule(ex, fromPkg, own, fromOwn, missing));
        return file;
      };
      const files = examples.map((ex, i) => write(ex, i, []));
      const first = ts.createProgram([...files, join(dir, 'expect.ts')], options);
      // Pass 1: which names each example leaves undefined (a fragment's variables).
      const missing = files.map((f) => {
        const names = new Set<string>();
        for (const d of ts.getPreEmitDiagnostics(first, first.getSourceFile(f))) {
          if (!CANNOT_FIND.has(d.code)) continue;
          const m = /'([^']+)'/.exec(ts.flattenDiagnosticMessageText(d.messageText, '\n'));
          if (m !== null) names.add(m[1]!);
        }
        return [...names].sort();
      });
      const rewritten = examples.map((ex, i) => (missing[i]!.length > 0 ? write(ex, i, missing[i]!) : files[i]!));
      // Pass 2: everything else must type-check.
      const program = ts.createProgram([...rewritten, join(dir, 'expect.ts')], options, undefined, first);
      const failures: string[] = [];
      rewritten.forEach((f, i) => {
        for (const d of ts.getPreEmitDiagnostics(program, program.getSourceFile(f))) {
          failures.push(`${examples[i]!.file}:${examples[i]!.line}: type error: ${ts.flattenDiagnosticMessageText(d.messageText, ' ')}\n    ${examples[i]!.code.split('\n').join('\n    ')}`);
        }
      });
      program.emit();
      // Run the whole programs, one process, in order.
      const runnable = examples.map((ex, i) => ({ ex, i })).filter(({ ex, i }) => missing[i]!.length === 0 && noRunReason(ex) === null);
      const runner = `
        const results = [];
        for (const i of ${JSON.stringify(runnable.map((r) => r.i))}) {
          const t0 = performance.now();
          try { await (await import('./out/ex_' + String(i).padStart(3, '0') + '.js')).run(); }
          catch (e) { results.push([i, e instanceof Error ? e.name + ': ' + e.message : String(e)]); }
          process.stderr.write(i + ' ' + Math.round(performance.now() - t0) + String.fromCharCode(10));
        }
        (await import('node:fs')).writeFileSync('results.json', JSON.stringify(results));
        process.exit(0); // an example's server or timer must not keep the runner alive`;
      writeFileSync(join(dir, 'runner.mjs'), runner);
      try {
        execFileSync(process.execPath, ['runner.mjs'], { cwd: dir, encoding: 'utf8', timeout: 600_000, stdio: ['ignore', 'pipe', 'ignore'], maxBuffer: 64 * 2 ** 20 });
      } catch (e) {
        failures.push(`running the examples failed: ${(e as Error).message}`);
      }
      const results = existsSync(join(dir, 'results.json')) ? (JSON.parse(readFileSync(join(dir, 'results.json'), 'utf8')) as [number, string][]) : [];
      for (const [i, msg] of results) {
        failures.push(`${examples[i]!.file}:${examples[i]!.line}: threw ${msg}\n    ${examples[i]!.code.split('\n').join('\n    ')}`);
      }
      process.stdout.write(`# ${examples.length} examples: ${runnable.length} run as programs, ${examples.length - runnable.length} type-checked only\n`);
      assert.deepEqual(failures, [], `${failures.length} @example blocks are broken:\n${failures.join('\n')}`);
    } finally {
      if (process.env['DOCTEST_KEEP'] === undefined) rmSync(dir, { recursive: true, force: true });
      else process.stdout.write(`# kept ${dir}\n`);
    }
  });
});
