/**
 * Plain data types shared by every step: 3D volumes with their physical geometry, and
 * C-order arrays for the steps that work on array layouts as the reference does.
 */

export type TypedArray =
  | Int8Array
  | Uint8Array
  | Int16Array
  | Uint16Array
  | Int32Array
  | Uint32Array
  | Float32Array
  | Float64Array;

/** Voxel component types, named as itk-wasm names them. */
export type ComponentType = 'int8' | 'uint8' | 'int16' | 'uint16' | 'int32' | 'uint32' | 'float32' | 'float64';

export type Vec3 = [number, number, number];

/** Physical placement of a voxel grid, as ITK defines it. */
export interface Geometry {
  /** Number of voxels along x, y, z. */
  size: Vec3;
  /** Voxel spacing along x, y, z, in mm. */
  spacing: Vec3;
  /** Physical position of voxel (0, 0, 0), in mm. */
  origin: Vec3;
  /** Direction cosines, row-major: `direction[3 * row + column]`, column j is the direction of axis j. */
  direction: number[];
}

/** A scalar 3D image; `data` is stored x fastest, then y, then z (ITK's order). */
export interface Volume<T extends TypedArray = TypedArray> extends Geometry {
  data: T;
  componentType: ComponentType;
  /** Header fields such as `PatientAge` and `PatientSex`. */
  metadata: Map<string, string>;
}

/** An n-dimensional array in C order (last axis fastest), as numpy stores it. */
export interface NdArray<T extends TypedArray = TypedArray> {
  data: T;
  shape: number[];
}

export function numberOfElements(shape: readonly number[]): number {
  return shape.reduce((product, length) => product * length, 1);
}

export function ndarray<T extends TypedArray>(data: T, shape: number[]): NdArray<T> {
  if (data.length !== numberOfElements(shape)) {
    throw new RangeError(`array of ${data.length} elements cannot have shape (${shape.join(', ')})`);
  }
  return { data, shape };
}

/** Allocates an array of the same kind as `like` (same constructor) with `length` elements. */
export function allocateLike<T extends TypedArray>(like: T, length: number): T {
  const Constructor = like.constructor as new (length: number) => T;
  return new Constructor(length);
}

/** Returns the typed array constructor that stores a component type. */
export function arrayConstructorOf(componentType: ComponentType): new (length: number) => TypedArray {
  switch (componentType) {
    case 'int8': return Int8Array;
    case 'uint8': return Uint8Array;
    case 'int16': return Int16Array;
    case 'uint16': return Uint16Array;
    case 'int32': return Int32Array;
    case 'uint32': return Uint32Array;
    case 'float32': return Float32Array;
    case 'float64': return Float64Array;
  }
}
