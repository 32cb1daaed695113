/**
 * Last-resort reports for errors that escape every command: an uncaught exception, an unhandled
 * promise rejection, a WebAssembly abort. Each ends the process with exit code 1 and one line that
 * names the scan; the stack follows only under --verbose.
 */
import { getActiveScan } from '../active-scan.js';
import { log } from '../log.js';

let installed = false;

/** Prints an error as one `balaitous error:` line, and its stack as debug lines. */
export function reportError(error: unknown, context?: string): void {
  const message = error instanceof Error ? error.message : `non-error value thrown: ${String(error)}`;
  const firstLine = message.split('\n')[0];
  const prefix = context === undefined || firstLine.startsWith(context) ? '' : `${context}: `;
  process.stderr.write(`balaitous error: ${prefix}${message}\n`);
  if (error instanceof Error && error.stack !== undefined) {
    log.debug(error.stack);
  }
}

function handleFault(kind: string): (error: unknown) => void {
  return (error) => {
    const scan = getActiveScan();
    const name = error instanceof Error ? error.name : typeof error;
    const message = error instanceof Error ? error.message : String(error);
    const fault = new Error(`${kind} (${name}: ${message.split('\n')[0]}); this is a bug or a broken installation, please report it with the --verbose output`);
    if (error instanceof Error) fault.stack = error.stack;
    reportError(fault, scan);
    process.exit(1);
  };
}

/** Installs the process-wide handlers once. */
export function installFaultHandlers(): void {
  if (installed) return;
  installed = true;
  process.on('uncaughtException', handleFault('unexpected error'));
  process.on('unhandledRejection', handleFault('unhandled promise rejection'));
}
