/**
 * The scan being read or scored, so that an error raised outside any call into the library (an
 * uncaught exception, an unhandled promise rejection) can still name it.
 */

let activeScan: string | undefined;

/** Records the scan now being read or scored; undefined when none is. */
export function setActiveScan(scan: string | undefined): void {
  activeScan = scan;
}

/** Returns the scan now being read or scored, if any. */
export function getActiveScan(): string | undefined {
  return activeScan;
}
