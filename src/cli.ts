/**
 * Command-line entry point for bin/balaitous.js; the commands live in src/cli/.
 */
export { main } from './cli/main.js';
export { findInputImage } from './cli/gc.js';
