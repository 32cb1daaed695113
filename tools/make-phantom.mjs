#!/usr/bin/env node
// Writes a synthetic chest CT phantom: air around an elliptic body of soft tissue under a fat
// layer, two lungs, a heart between them, a spine behind, and a little noise. Its only use is as
// an example input that the pipeline segments and scores; it is not a medical image.
//
// Usage: node tools/make-phantom.mjs OUT.mha   (after `npm run build`)
import { writeVolume } from '../dist/src/io/image.js';

const SIZE = [128, 128, 56];
const SPACING = [2.75, 2.75, 5];
const HU = { air: -1000, fat: -100, softTissue: 40, lung: -850, blood: 45, bone: 700 };

/** Park-Miller generator, so that the phantom is identical on every run. */
function random(seed) {
  let state = seed;
  return () => {
    state = (state * 48271) % 2147483647;
    return state / 2147483647;
  };
}

/** Whether (x, y, z), in mm from the volume centre, lies inside an ellipsoid. */
function inside([x, y, z], [cx, cy, cz], [ax, ay, az]) {
  return ((x - cx) / ax) ** 2 + ((y - cy) / ay) ** 2 + ((z - cz) / az) ** 2 <= 1;
}

const output = process.argv[2];
if (output === undefined) {
  process.stderr.write('usage: node tools/make-phantom.mjs OUT.mha\n');
  process.exit(2);
}

const next = random(20211);
const data = new Int16Array(SIZE[0] * SIZE[1] * SIZE[2]);
let index = 0;
for (let k = 0; k < SIZE[2]; k++) {
  for (let j = 0; j < SIZE[1]; j++) {
    for (let i = 0; i < SIZE[0]; i++, index++) {
      // mm from the centre; y grows towards the patient's back, as in LPS coordinates.
      const point = [(i - SIZE[0] / 2) * SPACING[0], (j - SIZE[1] / 2) * SPACING[1], (k - SIZE[2] / 2) * SPACING[2]];
      const [x, y] = point;
      let value = HU.air;
      const bodyRadius = ((x / 155) ** 2 + (y / 105) ** 2);
      if (bodyRadius <= 1) value = bodyRadius > 0.85 ? HU.fat : HU.softTissue;
      if (inside(point, [-62, -5, 10], [48, 68, 115]) || inside(point, [62, -5, 10], [45, 66, 110])) value = HU.lung;
      if (inside(point, [12, -25, -20], [45, 40, 60])) value = HU.blood;
      if (Math.hypot(x, y - 75) <= 16) value = HU.bone;
      data[index] = Math.round(value + (next() - 0.5) * 20);
    }
  }
}

const metadata = new Map([
  ['PatientAge', '058Y'],
  ['PatientSex', 'M'],
]);
await writeVolume(output, {
  data,
  componentType: 'int16',
  size: SIZE,
  spacing: SPACING,
  origin: SIZE.map((length, axis) => (-length / 2) * SPACING[axis]),
  direction: [1, 0, 0, 0, 1, 0, 0, 0, 1],
  metadata,
});
process.stdout.write(`wrote ${output}: ${SIZE.join(' × ')} voxels of ${SPACING.join(' × ')} mm\n`);
