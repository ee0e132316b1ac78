#!/usr/bin/env node
// The `diffuse` command; the compiled CLI lives in dist/ (built by `npm ci` / `npm run build`).
import { main } from '../dist/src/cli/main.js';

process.exitCode = await main(process.argv.slice(2));
