import { test } from 'uvu';
import * as assert from 'uvu/assert';

import { toHwz } from '../../src/steps/to-arrays.js';

test('toHwz transposes and reverses rows', () => {
  // numpy: np.arange(12).reshape(2, 2, 3).transpose(1, 2, 0)[::-1]
  const result = toHwz({ data: Int16Array.from({ length: 12 }, (_, i) => i), shape: [2, 2, 3] });
  assert.ok(result.data instanceof Int16Array);
  assert.equal(result.shape, [2, 3, 2]);
  assert.equal(Array.from(result.data), [3, 9, 4, 10, 5, 11, 0, 6, 1, 7, 2, 8]);
});

test('toHwz rejects a 2D array', () => {
  assert.throws(
    () => toHwz({ data: new Uint8Array(4), shape: [2, 2] }),
    (error: Error) => error instanceof RangeError && /expected a \(z, y, x\) array/.test(error.message),
  );
});

test.run();
