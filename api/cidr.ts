/**
 * IP ranges as numbers. Egress rules must be written in the canonical form
 * the API server accepts (newer servers refuse host bits and odd spellings),
 * and deciding which private or metadata ranges an allowed range covers is
 * interval arithmetic, which is exact on BigInts and error-prone on strings.
 */
import { isIP } from "node:net";

/** A CIDR: `prefix` leading bits of `base` (host bits always zero). */
export interface Cidr {
  family: 4 | 6;
  base: bigint;
  prefix: number;
}

const bits = (family: 4 | 6) => (family === 4 ? 32 : 128);

/**
 * Parses `a.b.c.d/n`, an IPv6 CIDR, or a bare address (a /32 or /128).
 * Host bits are cleared (`10.1.2.3/8` is `10.0.0.0/8`). Undefined when the
 * text is none of these; zone ids (`fe80::1%eth0`) are refused. An
 * IPv4-mapped IPv6 range (`::ffff:169.254.169.254`) becomes its IPv4 range.
 */
export function parseCidr(text: string): Cidr | undefined {
  const slash = text.indexOf("/");
  const addr = slash < 0 ? text : text.slice(0, slash);
  const family = isIP(addr);
  if ((family !== 4 && family !== 6) || addr.includes("%")) return undefined;
  const width = bits(family);
  let prefix = width;
  if (slash >= 0) {
    const p = text.slice(slash + 1);
    if (!/^\d{1,3}$/.test(p)) return undefined;
    prefix = Number(p);
    if (prefix > width) return undefined;
  }
  const value = family === 4 ? ipv4Value(addr) : ipv6Value(addr);
  const host = (1n << BigInt(width - prefix)) - 1n;
  const base = value & ~host;
  // Packets to an IPv4-mapped address (::ffff:a.b.c.d) leave as IPv4, so
  // that is how the range is matched.
  if (family === 6 && prefix >= 96 && base >> 32n === 0xffffn)
    return { family: 4, base: base & 0xffffffffn, prefix: prefix - 96 };
  return { family, base, prefix };
}

/** True when `inner` lies within `outer` (equal counts). */
export function containsCidr(outer: Cidr, inner: Cidr): boolean {
  if (outer.family !== inner.family || inner.prefix < outer.prefix) return false;
  const shift = BigInt(bits(outer.family) - outer.prefix);
  return inner.base >> shift === outer.base >> shift;
}

/** True when both name the same range. */
export function sameCidr(a: Cidr, b: Cidr): boolean {
  return a.family === b.family && a.prefix === b.prefix && a.base === b.base;
}

/** The canonical text: dotted quad, or RFC 5952 IPv6 (lowercase, longest zero run as `::`). */
export function formatCidr(c: Cidr): string {
  return `${c.family === 4 ? formatIpv4(c.base) : formatIpv6(c.base)}/${c.prefix}`;
}

function ipv4Value(addr: string): bigint {
  return addr.split(".").reduce((acc, part) => (acc << 8n) | BigInt(Number(part)), 0n);
}

function ipv6Value(addr: string): bigint {
  let text = addr;
  // An embedded IPv4 tail (::ffff:1.2.3.4) is two groups.
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (v4?.[1]) {
    const n = ipv4Value(v4[1]);
    text = `${text.slice(0, -v4[1].length)}${(n >> 16n).toString(16)}:${(n & 0xffffn).toString(16)}`;
  }
  const [head = "", tail] = text.split("::");
  const groups = (s: string) => (s === "" ? [] : s.split(":"));
  const h = groups(head);
  const t = tail === undefined ? [] : groups(tail);
  const all =
    tail === undefined ? h : [...h, ...Array<string>(8 - h.length - t.length).fill("0"), ...t];
  return all.reduce((acc, g) => (acc << 16n) | BigInt(parseInt(g, 16)), 0n);
}

function formatIpv4(n: bigint): string {
  return [24n, 16n, 8n, 0n].map((s) => String((n >> s) & 0xffn)).join(".");
}

function formatIpv6(n: bigint): string {
  const groups = Array.from({ length: 8 }, (_, i) => Number((n >> BigInt(112 - 16 * i)) & 0xffffn));
  // The longest run of two or more zero groups (the first on a tie) becomes "::".
  let best = { at: -1, len: 1 };
  for (let i = 0; i < 8;) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > best.len) best = { at: i, len: j - i };
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (best.at < 0) return hex.join(":");
  return `${hex.slice(0, best.at).join(":")}::${hex.slice(best.at + best.len).join(":")}`;
}
