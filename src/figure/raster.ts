/**
 * A small RGB raster for the figures: pixels, filled rectangles, lines and alpha blending.
 * Coordinates are integer pixels, x to the right and y down from the top-left corner; drawing
 * outside the raster is clipped.
 */

/** An 8-bit colour: red, green, blue. */
export type Rgb = readonly [number, number, number];

export const WHITE: Rgb = [255, 255, 255];
export const BLACK: Rgb = [0, 0, 0];

export interface LineStyle {
  /** Line width in pixels, drawn as a square brush. Default 1. */
  width?: number;
  /** Dash pattern: pixels drawn, then pixels skipped, along the major axis. Default: solid. */
  dash?: [number, number];
}

export class Raster {
  /** Pixels, three bytes each, row by row from the top. */
  readonly data: Uint8Array;

  constructor(
    readonly width: number,
    readonly height: number,
    background: Rgb = WHITE,
  ) {
    if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
      throw new RangeError(`invalid raster size ${width} × ${height}: expected positive integers`);
    }
    this.data = new Uint8Array(width * height * 3);
    this.fillRect(0, 0, width, height, background);
  }

  contains(x: number, y: number): boolean {
    return x >= 0 && y >= 0 && x < this.width && y < this.height;
  }

  getPixel(x: number, y: number): Rgb {
    const offset = 3 * (y * this.width + x);
    return [this.data[offset], this.data[offset + 1], this.data[offset + 2]];
  }

  setPixel(x: number, y: number, colour: Rgb): void {
    if (!this.contains(x, y)) return;
    const offset = 3 * (y * this.width + x);
    this.data[offset] = colour[0];
    this.data[offset + 1] = colour[1];
    this.data[offset + 2] = colour[2];
  }

  /** Mixes `colour` into a pixel: `alpha` 0 keeps the pixel, 1 replaces it. */
  blendPixel(x: number, y: number, colour: Rgb, alpha: number): void {
    if (!this.contains(x, y)) return;
    const offset = 3 * (y * this.width + x);
    for (let channel = 0; channel < 3; channel++) {
      const mixed = (1 - alpha) * this.data[offset + channel] + alpha * colour[channel];
      this.data[offset + channel] = Math.round(mixed);
    }
  }

  fillRect(x: number, y: number, width: number, height: number, colour: Rgb): void {
    const left = Math.max(0, Math.round(x));
    const top = Math.max(0, Math.round(y));
    const right = Math.min(this.width, Math.round(x + width));
    const bottom = Math.min(this.height, Math.round(y + height));
    for (let row = top; row < bottom; row++) {
      for (let column = left; column < right; column++) this.setPixel(column, row, colour);
    }
  }

  /** Draws the outline of a rectangle, `lineWidth` pixels wide, inside its bounds. */
  strokeRect(x: number, y: number, width: number, height: number, colour: Rgb, lineWidth = 1): void {
    this.fillRect(x, y, width, lineWidth, colour);
    this.fillRect(x, y + height - lineWidth, width, lineWidth, colour);
    this.fillRect(x, y, lineWidth, height, colour);
    this.fillRect(x + width - lineWidth, y, lineWidth, height, colour);
  }

  /** Draws a straight line between two pixel centres (Bresenham's algorithm). */
  drawLine(x0: number, y0: number, x1: number, y1: number, colour: Rgb, style: LineStyle = {}): void {
    const lineWidth = style.width ?? 1;
    const before = Math.floor((lineWidth - 1) / 2);
    let x = Math.round(x0);
    let y = Math.round(y0);
    const xEnd = Math.round(x1);
    const yEnd = Math.round(y1);
    const dx = Math.abs(xEnd - x);
    const dy = -Math.abs(yEnd - y);
    const stepX = x < xEnd ? 1 : -1;
    const stepY = y < yEnd ? 1 : -1;
    let error = dx + dy;
    for (let step = 0; ; step++) {
      const drawn = style.dash === undefined || step % (style.dash[0] + style.dash[1]) < style.dash[0];
      if (drawn) this.fillRect(x - before, y - before, lineWidth, lineWidth, colour);
      if (x === xEnd && y === yEnd) break;
      const doubled = 2 * error;
      if (doubled >= dy) {
        error += dy;
        x += stepX;
      }
      if (doubled <= dx) {
        error += dx;
        y += stepY;
      }
    }
  }

  /** Returns a copy of the rectangle of `width` × `height` pixels from (x, y), which must lie inside. */
  crop(x: number, y: number, width: number, height: number): Raster {
    if (x < 0 || y < 0 || x + width > this.width || y + height > this.height) {
      throw new RangeError(`crop ${width} × ${height} at (${x}, ${y}) is outside the ${this.width} × ${this.height} raster`);
    }
    const cropped = new Raster(width, height);
    for (let row = 0; row < height; row++) {
      const from = 3 * ((y + row) * this.width + x);
      cropped.data.set(this.data.subarray(from, from + 3 * width), 3 * row * width);
    }
    return cropped;
  }

  /** Copies another raster with its top-left corner at (x, y). */
  drawRaster(source: Raster, x: number, y: number): void {
    for (let row = 0; row < source.height; row++) {
      const targetY = y + row;
      if (targetY < 0 || targetY >= this.height) continue;
      for (let column = 0; column < source.width; column++) {
        this.setPixel(x + column, targetY, source.getPixel(column, row));
      }
    }
  }
}

/** Maps a value to a grey level: `low` and below are black, `high` and above white, linear between. */
export function windowGrey(value: number, low: number, high: number): Rgb {
  const level = Math.round((255 * (value - low)) / (high - low));
  const grey = Math.min(255, Math.max(0, level));
  return [grey, grey, grey];
}
