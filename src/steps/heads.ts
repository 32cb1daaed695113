/**
 * Step 11: the four logistic regressions trained on STOIC, and their weighted averages.
 */

export const HEAD_NAMES = ['full_covid', 'lung_covid', 'full_severe', 'lung_severe'] as const;
export type HeadName = (typeof HEAD_NAMES)[number];

/** Logistic regression weights, as `heads.json` of a models directory stores them. */
export interface HeadWeights {
  /** Length of each feature vector. */
  features: number;
  heads: Record<HeadName, { coef: number[]; intercept: number }>;
  /** Weight of each head in its average: `covid` from the covid heads, `severe` from the severe ones. */
  alpha: Record<HeadName, number>;
}

export interface Prediction {
  covid: number;
  severe: number;
  /** Probability of each head. */
  heads: Record<HeadName, number>;
  /** Logit (`x · coef + intercept`) of each head. */
  logits: Record<HeadName, number>;
}

export function sigmoid(x: number): number {
  return 1 / (1 + Math.exp(-x));
}

/** Checks that weights fit features of `features` values (the severity heads take age and sex too). */
export function checkHeadWeights(weights: HeadWeights, source = 'heads'): void {
  for (const name of HEAD_NAMES) {
    const head = weights.heads?.[name];
    const expected = weights.features + (name.endsWith('severe') ? 2 : 0);
    if (head === undefined || !Array.isArray(head.coef) || !Number.isFinite(head.intercept)) {
      throw new Error(`${source}: head ${name} is missing or has no coef / intercept`);
    }
    if (head.coef.length !== expected) {
      throw new Error(`${source}: head ${name} has ${head.coef.length} coefficients, expected ${expected}`);
    }
    if (!Number.isFinite(weights.alpha?.[name])) {
      throw new Error(`${source}: alpha of head ${name} is missing`);
    }
  }
}

/**
 * Applies the heads: `full_*` on the whole-image features, `lung_*` on the lung features, the
 * severity heads on the features followed by `[age, sex]`.
 */
export function applyHeads(weights: HeadWeights, features: { full: Float32Array; lung: Float32Array }, age: number, sex: number): Prediction {
  const logits = {} as Record<HeadName, number>;
  const heads = {} as Record<HeadName, number>;
  for (const name of HEAD_NAMES) {
    const vector = name.startsWith('full') ? features.full : features.lung;
    if (vector.length !== weights.features) {
      throw new RangeError(`head ${name} expects ${weights.features} features, got ${vector.length}`);
    }
    const { coef, intercept } = weights.heads[name];
    let logit = 0;
    for (let i = 0; i < vector.length; i++) logit += vector[i] * coef[i];
    if (name.endsWith('severe')) {
      logit += age * coef[vector.length] + sex * coef[vector.length + 1];
    }
    logit += intercept;
    logits[name] = logit;
    heads[name] = sigmoid(logit);
  }

  const covid = weights.alpha.full_covid * heads.full_covid + weights.alpha.lung_covid * heads.lung_covid;
  const severe = weights.alpha.full_severe * heads.full_severe + weights.alpha.lung_severe * heads.lung_severe;
  return { covid, severe, heads, logits };
}
