#!/usr/bin/env node
// Thin launcher: the program is compiled TypeScript in dist/.
import '../dist/src/main/cli.js';
