/**
 * A built-in 5 × 7 bitmap font (capitals and digits 7 pixels high, with 2 more rows below the
 * baseline for descenders), drawn at integer scales. Characters it lacks are drawn as a box.
 */
import type { Raster, Rgb } from './raster.js';

/** Glyph width in font pixels. */
const GLYPH_WIDTH = 5;
/** Rows from the top of a capital to the baseline, then descender rows. */
const GLYPH_ASCENT = 7;
const GLYPH_HEIGHT = 9;
/** Font pixels from one glyph's left edge to the next one's. */
const ADVANCE = GLYPH_WIDTH + 1;
/** Font pixels from one line's top to the next one's. */
const LINE_HEIGHT = GLYPH_HEIGHT + 2;

/**
 * Glyph rows from the top, `#` for ink. Rows after the seventh hang below the baseline; glyphs
 * with fewer than nine rows have nothing there.
 */
const GLYPHS: Record<string, string> = {
  ' ': '..... ..... ..... ..... ..... ..... .....',
  A: '.###. #...# #...# ##### #...# #...# #...#',
  B: '####. #...# #...# ####. #...# #...# ####.',
  C: '.###. #...# #.... #.... #.... #...# .###.',
  D: '####. #...# #...# #...# #...# #...# ####.',
  E: '##### #.... #.... ####. #.... #.... #####',
  F: '##### #.... #.... ####. #.... #.... #....',
  G: '.###. #...# #.... #.### #...# #...# .####',
  H: '#...# #...# #...# ##### #...# #...# #...#',
  I: '.###. ..#.. ..#.. ..#.. ..#.. ..#.. .###.',
  J: '..### ...#. ...#. ...#. ...#. #..#. .##..',
  K: '#...# #..#. #.#.. ##... #.#.. #..#. #...#',
  L: '#.... #.... #.... #.... #.... #.... #####',
  M: '#...# ##.## #.#.# #.#.# #...# #...# #...#',
  N: '#...# #...# ##..# #.#.# #..## #...# #...#',
  O: '.###. #...# #...# #...# #...# #...# .###.',
  P: '####. #...# #...# ####. #.... #.... #....',
  Q: '.###. #...# #...# #...# #.#.# #..#. .##.#',
  R: '####. #...# #...# ####. #.#.. #..#. #...#',
  S: '.#### #.... #.... .###. ....# ....# ####.',
  T: '##### ..#.. ..#.. ..#.. ..#.. ..#.. ..#..',
  U: '#...# #...# #...# #...# #...# #...# .###.',
  V: '#...# #...# #...# #...# #...# .#.#. ..#..',
  W: '#...# #...# #...# #.#.# #.#.# #.#.# .#.#.',
  X: '#...# #...# .#.#. ..#.. .#.#. #...# #...#',
  Y: '#...# #...# .#.#. ..#.. ..#.. ..#.. ..#..',
  Z: '##### ....# ...#. ..#.. .#... #.... #####',
  a: '..... ..... .###. ....# .#### #...# .####',
  b: '#.... #.... ####. #...# #...# #...# ####.',
  c: '..... ..... .###. #.... #.... #.... .###.',
  d: '....# ....# .#### #...# #...# #...# .####',
  e: '..... ..... .###. #...# ##### #.... .###.',
  f: '..##. .#... ####. .#... .#... .#... .#...',
  g: '..... ..... .#### #...# #...# #...# .#### ....# .###.',
  h: '#.... #.... ####. #...# #...# #...# #...#',
  i: '..#.. ..... .##.. ..#.. ..#.. ..#.. .###.',
  j: '...#. ..... ..##. ...#. ...#. ...#. ...#. #..#. .##..',
  k: '#.... #.... #..#. #.#.. ##... #.#.. #..#.',
  l: '.##.. ..#.. ..#.. ..#.. ..#.. ..#.. .###.',
  m: '..... ..... ##.#. #.#.# #.#.# #.#.# #.#.#',
  n: '..... ..... ####. #...# #...# #...# #...#',
  o: '..... ..... .###. #...# #...# #...# .###.',
  p: '..... ..... ####. #...# #...# #...# ####. #.... #....',
  q: '..... ..... .#### #...# #...# #...# .#### ....# ....#',
  r: '..... ..... #.##. ##..# #.... #.... #....',
  s: '..... ..... .#### #.... .###. ....# ####.',
  t: '.#... .#... ####. .#... .#... .#..# ..##.',
  u: '..... ..... #...# #...# #...# #..## .##.#',
  v: '..... ..... #...# #...# #...# .#.#. ..#..',
  w: '..... ..... #...# #...# #.#.# #.#.# .#.#.',
  x: '..... ..... #...# .#.#. ..#.. .#.#. #...#',
  y: '..... ..... #...# #...# #...# #...# .#### ....# .###.',
  z: '..... ..... ##### ...#. ..#.. .#... #####',
  0: '.###. #...# #..## #.#.# ##..# #...# .###.',
  1: '..#.. .##.. ..#.. ..#.. ..#.. ..#.. .###.',
  2: '.###. #...# ....# ...#. ..#.. .#... #####',
  3: '####. ....# ....# .###. ....# ....# ####.',
  4: '...#. ..##. .#.#. #..#. ##### ...#. ...#.',
  5: '##### #.... ####. ....# ....# #...# .###.',
  6: '..##. .#... #.... ####. #...# #...# .###.',
  7: '##### ....# ...#. ..#.. .#... .#... .#...',
  8: '.###. #...# #...# .###. #...# #...# .###.',
  9: '.###. #...# #...# .#### ....# ...#. .##..',
  '.': '..... ..... ..... ..... ..... .##.. .##..',
  ',': '..... ..... ..... ..... ..... .##.. .##.. ..#.. .#...',
  ':': '..... .##.. .##.. ..... .##.. .##.. .....',
  ';': '..... .##.. .##.. ..... .##.. .##.. ..#.. .#...',
  '%': '##..# ##..# ...#. ..#.. .#... #..## #..##',
  '(': '...#. ..#.. .#... .#... .#... ..#.. ...#.',
  ')': '.#... ..#.. ...#. ...#. ...#. ..#.. .#...',
  '[': '.###. .#... .#... .#... .#... .#... .###.',
  ']': '.###. ...#. ...#. ...#. ...#. ...#. .###.',
  '-': '..... ..... ..... .###. ..... ..... .....',
  '\u2212': '..... ..... ..... ##### ..... ..... .....',
  '+': '..... ..#.. ..#.. ##### ..#.. ..#.. .....',
  '\u00b1': '..#.. ..#.. ##### ..#.. ..#.. ..... #####',
  '=': '..... ..... ##### ..... ##### ..... .....',
  '/': '....# ....# ...#. ..#.. .#... #.... #....',
  _: '..... ..... ..... ..... ..... ..... ..... #####',
  "'": '..#.. ..#.. .#... ..... ..... ..... .....',
  '<': '...#. ..#.. .#... #.... .#... ..#.. ...#.',
  '>': '.#... ..#.. ...#. ....# ...#. ..#.. .#...',
  '?': '.###. #...# ....# ...#. ..#.. ..... ..#..',
  '!': '..#.. ..#.. ..#.. ..#.. ..#.. ..... ..#..',
  '|': '..#.. ..#.. ..#.. ..#.. ..#.. ..#.. ..#.. ..#..',
  '*': '..... #.#.# .###. ##### .###. #.#.# .....',
  '\u00d7': '..... #...# .#.#. ..#.. .#.#. #...# .....',
  '\u00b7': '..... ..... ..... .##.. .##.. ..... .....',
  '\u2190': '..... ..#.. .#... ##### .#... ..#.. .....',
  '\u2192': '..... ..#.. ...#. ##### ...#. ..#.. .....',
};

/** Drawn for characters the font lacks. */
const MISSING_GLYPH = '##### #...# #...# #...# #...# #...# #####';

/** Ink pixels of each glyph as (column, row) pairs, decoded once. */
const INK = new Map<string, [number, number][]>();
for (const [character, pattern] of [...Object.entries(GLYPHS), ['', MISSING_GLYPH] as const]) {
  const rows = pattern.split(' ');
  if (rows.length > GLYPH_HEIGHT || rows.some((row) => row.length !== GLYPH_WIDTH)) {
    throw new Error(`font: glyph ${JSON.stringify(character)} is not ${GLYPH_WIDTH} pixels wide and at most ${GLYPH_HEIGHT} high`);
  }
  const ink: [number, number][] = [];
  rows.forEach((row, y) => {
    for (let x = 0; x < GLYPH_WIDTH; x++) if (row[x] === '#') ink.push([x, y]);
  });
  INK.set(character, ink);
}

export interface TextStyle {
  /** Screen pixels per font pixel (a positive integer). Default 2. */
  scale?: number;
  colour?: Rgb;
  /** Colour of a one-font-pixel outline around the ink, which keeps text readable on images. Default: none. */
  outline?: Rgb;
  /** Horizontal anchor at `x`: the text's left edge, centre or right edge. Default `left`. */
  align?: 'left' | 'center' | 'right';
}

export function hasGlyph(character: string): boolean {
  return INK.has(character) && character !== '';
}

/** Width in screen pixels of one line of text, without the space after the last glyph. */
export function textWidth(text: string, scale = 2): number {
  const count = [...text].length;
  return count === 0 ? 0 : (count * ADVANCE - 1) * scale;
}

/** Height in screen pixels of one line of text from the top of capitals to the bottom of descenders. */
export function textHeight(scale = 2): number {
  return GLYPH_HEIGHT * scale;
}

/** Distance in screen pixels between the tops of two lines of text. */
export function lineHeight(scale = 2): number {
  return LINE_HEIGHT * scale;
}

/** Height in screen pixels of capitals and digits (from their top to the baseline). */
export function capitalHeight(scale = 2): number {
  return GLYPH_ASCENT * scale;
}

/** Draws one line of text with the top of its capitals at `y`; returns its width in pixels. */
export function drawText(raster: Raster, text: string, x: number, y: number, style: TextStyle = {}): number {
  const scale = style.scale ?? 2;
  if (!Number.isInteger(scale) || scale < 1) {
    throw new RangeError(`invalid text scale ${scale}: expected a positive integer`);
  }
  const colour = style.colour ?? [0, 0, 0];
  const width = textWidth(text, scale);
  let left = Math.round(x);
  if (style.align === 'center') left -= Math.round(width / 2);
  if (style.align === 'right') left -= width;
  const top = Math.round(y);

  const characters = [...text];
  const glyphs = characters.map((character) => INK.get(character) ?? INK.get('')!);
  if (style.outline !== undefined) {
    glyphs.forEach((ink, index) => {
      const glyphLeft = left + index * ADVANCE * scale;
      for (const [column, row] of ink) {
        raster.fillRect(glyphLeft + (column - 1) * scale, top + (row - 1) * scale, 3 * scale, 3 * scale, style.outline!);
      }
    });
  }
  glyphs.forEach((ink, index) => {
    const glyphLeft = left + index * ADVANCE * scale;
    for (const [column, row] of ink) {
      raster.fillRect(glyphLeft + column * scale, top + row * scale, scale, scale, colour);
    }
  });
  return width;
}
