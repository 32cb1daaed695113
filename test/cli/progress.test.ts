import { test } from 'uvu';
import * as assert from 'uvu/assert';

import { BatchProgress, formatDuration } from '../../src/cli/progress.js';
import { setLogLevel } from '../../src/log.js';

setLogLevel('silent');

/** Creates a progress tracker on a clock that the test moves by hand, in seconds. */
function trackerAt(total: number, columns = 200) {
  let nowMs = 0;
  const progress = new BatchProgress({ total, live: false, now: () => nowMs, columns: () => columns });
  return { progress, advance: (seconds: number) => { nowMs += seconds * 1000; } };
}

test('formatDuration', () => {
  assert.is(formatDuration(0), '0:00');
  assert.is(formatDuration(59.4), '0:59');
  assert.is(formatDuration(61), '1:01');
  assert.is(formatDuration(3725), '1:02:05');
});

test('remaining time unknown before a scan is scored', () => {
  const { progress, advance } = trackerAt(3);
  progress.startScan(1, 'a.mha');
  progress.onStep('read_image');
  advance(5);
  assert.is(progress.remainingSeconds(), undefined);
  assert.match(progress.statusText(), /time left: estimated after the first scan/);
});

test('remaining time from the scans scored', () => {
  const { progress, advance } = trackerAt(3);
  progress.startScan(1, 'a.mha');
  advance(10);
  // 2 s reading, 6 s lung mask, 2 s features.
  progress.finishScan({ ok: true, seconds: 10, timings: { lung_mask: 6, features_full: 2 } });
  assert.is(progress.remainingSeconds(), 20);

  progress.startScan(2, 'b.mha');
  progress.onStep('read_image');
  advance(2);
  progress.onStep('lung_mask');
  advance(3);
  // Half of the lung mask step: 2 + 3 of the expected 10 s are done.
  assert.is(progress.scanFraction(), 0.5);
  assert.is(progress.remainingSeconds(), 5 + 10);
  assert.match(progress.statusText(), /^\[2\/3\] b\.mha \| lung_mask \(step 5\/15\) \| \[##########----------\]  50% \| scan 0:05 \| total 0:15 \| about 0:15 left$/);
});

test('failed scan does not count in the estimate', () => {
  const { progress, advance } = trackerAt(3);
  progress.startScan(1, 'a.mha');
  advance(10);
  progress.finishScan({ ok: true, seconds: 10 });
  progress.startScan(2, 'broken.mha');
  advance(1);
  progress.finishScan({ ok: false, seconds: 1, message: 'broken.mha: not an image' });
  assert.is(progress.remainingSeconds(), 10);
});

test('status line fits the terminal', () => {
  const { progress } = trackerAt(2, 40);
  progress.startScan(1, 'a-scan-with-a-rather-long-name.mha');
  const text = progress.statusText();
  assert.is(text.length, 39);
  assert.ok(text.endsWith('…'), text);
});

test.run();
