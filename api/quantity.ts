/**
 * Kubernetes resource quantities (`500m`, `1Gi`, `2e3`), parsed exactly.
 * A template read from a ConfigMap has not been through the API server's
 * schema, so the operator checks its quantities itself; comparing a limit
 * with its request needs exact arithmetic (`100m` against `0.1` must be
 * equal), hence BigInt fractions rather than floating point.
 */

/** A non-negative or negative quantity as the fraction `num / den` (den > 0). */
export interface Quantity {
  num: bigint;
  den: bigint;
}

const QUANTITY = /^([+-]?)(\d+(?:\.\d*)?|\.\d+)(Ki|Mi|Gi|Ti|Pi|Ei|[eE][+-]?\d+|m|k|M|G|T|P|E)?$/;

const BINARY: Record<string, number> = { Ki: 10, Mi: 20, Gi: 30, Ti: 40, Pi: 50, Ei: 60 };
const DECIMAL: Record<string, number> = { m: -3, "": 0, k: 3, M: 6, G: 9, T: 12, P: 15, E: 18 };

/** Exponents beyond this are refused: no real resource is that large, and BigInt math must stay small. */
const MAX_EXPONENT = 30;

/**
 * Parses a quantity in the Kubernetes grammar (sign, digits with an optional
 * fraction, then a binary suffix, a decimal suffix or an exponent). Returns
 * undefined when the text is not one. A number is taken as its decimal text.
 */
export function parseQuantity(input: string | number): Quantity | undefined {
  const text = typeof input === "number" ? numberText(input) : input;
  if (text === undefined) return undefined;
  const m = QUANTITY.exec(text);
  if (!m) return undefined;
  const [, sign = "", digits = "", suffix = ""] = m;
  const [whole = "", fraction = ""] = digits.split(".");
  let num = BigInt(`${whole}${fraction}` || "0");
  let exp10 = -fraction.length;
  let exp2 = 0;
  if (suffix in BINARY) exp2 = BINARY[suffix] ?? 0;
  else if (suffix in DECIMAL) exp10 += DECIMAL[suffix] ?? 0;
  else {
    const e = Number(suffix.slice(1));
    if (!Number.isSafeInteger(e) || Math.abs(e) > MAX_EXPONENT) return undefined;
    exp10 += e;
  }
  if (sign === "-") num = -num;
  num *= 2n ** BigInt(exp2);
  return exp10 >= 0
    ? { num: num * 10n ** BigInt(exp10), den: 1n }
    : { num, den: 10n ** BigInt(-exp10) };
}

/** -1, 0 or 1 as `a` is less than, equal to or greater than `b`. */
export function compareQuantities(a: Quantity, b: Quantity): -1 | 0 | 1 {
  const l = a.num * b.den;
  const r = b.num * a.den;
  return l < r ? -1 : l > r ? 1 : 0;
}

/** A JSON number as quantity text; undefined for NaN and infinities. */
function numberText(n: number): string | undefined {
  // String() may give an exponent form ("1e+21", "1e-7"), which the grammar accepts.
  return Number.isFinite(n) ? String(n) : undefined;
}
