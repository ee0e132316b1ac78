#!/usr/bin/env -S node --single-threaded-gc
// The `diffuse` command; the compiled CLI lives in dist/ (built by `npm ci` / `npm run build`).
// --single-threaded-gc: V8's background GC threads would compete with the compute threads for
// the cores (on 2 cores that cost 10-15% of training throughput); on the main thread GC is cheap,
// since tensors live outside the JS heap. bench/bench.ts runs its sections with the same flag.
import { main } from '../dist/src/cli/main.js';

process.exitCode = await main(process.argv.slice(2));
