/**
 * Step 1: the age and sex that the severity heads take, from the caller or the image header.
 */
import { log } from '../log.js';

/** Age used when neither the caller nor the header gives one, in years. */
export const DEFAULT_AGE_YEARS = 65;
/** The heads take age / 100, clipped to this range. */
export const AGE_FEATURE_RANGE: readonly [number, number] = [0.25, 0.95];
/** Sex as the heads encode it: 1 male, 0 female, 0.5 other or unknown. */
export const SEX_VALUES = [0, 0.5, 1] as const;
export type Sex = (typeof SEX_VALUES)[number];

const DAYS_PER_YEAR = 365.25;
const UNIT_IN_YEARS: Record<string, number> = { Y: 1, M: 1 / 12, W: 7 / DAYS_PER_YEAR, D: 1 / DAYS_PER_YEAR };

export interface AgeSex {
  /** Age feature: years / 100, clipped to `AGE_FEATURE_RANGE`. */
  age: number;
  /** Sex feature: 0, 0.5 or 1. */
  sex: Sex;
  /** Age in years before scaling, and where it came from. */
  ageYears: number;
  ageSource: 'caller' | 'metadata' | 'default';
  sexSource: 'caller' | 'metadata' | 'default';
}

/** Removes the space and NUL padding that DICOM and MetaImage writers leave around values. */
function stripPadding(value: string): string {
  return value.replace(/^[\s\0]+|[\s\0]+$/g, '');
}

/**
 * Parses a DICOM-style age string into years: `065Y`, `030M`, `002W`, `010D`, or a bare number of
 * years. Returns undefined for an empty or unreadable value.
 */
export function parseAgeYears(text: string): number | undefined {
  const match = /^(\d+(?:\.\d*)?|\.\d+)\s*([YMWD]?)$/i.exec(stripPadding(text));
  if (match === null) {
    return undefined;
  }
  const unit = match[2].toUpperCase() || 'Y';
  return Number(match[1]) * UNIT_IN_YEARS[unit];
}

/**
 * Maps `PatientSex` as the reference does (`M` is 1, `F` is 0, anything else 0.5, case-sensitive),
 * except that space and NUL padding is removed first: DICOM pads `M` to `M `.
 */
export function parseSex(text: string): Sex {
  const value = stripPadding(text);
  if (value === 'M') return 1;
  if (value === 'F') return 0;
  return 0.5;
}

export function checkSex(sex: number, parameter = 'sex'): Sex {
  if (!SEX_VALUES.includes(sex as Sex)) {
    throw new RangeError(`invalid ${parameter} ${sex}: expected 0 (female), 0.5 (unknown) or 1 (male)`);
  }
  return sex as Sex;
}

export function checkAgeYears(age: number, parameter = 'age'): number {
  if (!Number.isFinite(age) || age < 0 || age > 150) {
    throw new RangeError(`invalid ${parameter} ${age}: expected a number of years between 0 and 150`);
  }
  return age;
}

/** Resolves age and sex: the caller's values first, then `PatientAge` / `PatientSex`, then defaults. */
export function parseAgeSex(metadata: Map<string, string>, options: { age?: number; sex?: number } = {}): AgeSex {
  let ageYears = DEFAULT_AGE_YEARS;
  let ageSource: AgeSex['ageSource'] = 'default';
  if (options.age !== undefined) {
    ageYears = checkAgeYears(options.age);
    ageSource = 'caller';
  } else if (metadata.has('PatientAge')) {
    const text = metadata.get('PatientAge') ?? '';
    const parsed = parseAgeYears(text);
    if (parsed === undefined) {
      log.warn(`PatientAge ${JSON.stringify(text)} is not a valid age; using the default of ${DEFAULT_AGE_YEARS} years`);
    } else {
      ageYears = parsed;
      ageSource = 'metadata';
    }
  }

  let sex: Sex = 0.5;
  let sexSource: AgeSex['sexSource'] = 'default';
  if (options.sex !== undefined) {
    sex = checkSex(options.sex);
    sexSource = 'caller';
  } else if (metadata.has('PatientSex')) {
    sex = parseSex(metadata.get('PatientSex') ?? '');
    sexSource = 'metadata';
  }

  const [low, high] = AGE_FEATURE_RANGE;
  const age = Math.min(Math.max(ageYears / 100, low), high);
  return { age, sex, ageYears, ageSource, sexSource };
}
