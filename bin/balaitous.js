#!/usr/bin/env node
import { installFaultHandlers, reportError } from '../dist/src/cli/faults.js';

// Installed before the modules load, so that a fault while they load is reported as one line too.
installFaultHandlers();
let main;
try {
  ({ main } = await import('../dist/src/cli.js'));
} catch (error) {
  reportError(new Error(`the program failed to start: ${error instanceof Error ? error.message : String(error)}; reinstall it with npm ci`, { cause: error }));
  process.exit(1);
}
process.exitCode = await main(process.argv.slice(2));
