// Near-duplicate detection: MinHash over token shingles, banded LSH to find candidates.
// 128 hash functions in 16 bands of 8 rows: a pair at Jaccard 0.85 becomes a candidate with
// probability 1 − (1 − 0.85⁸)¹⁶ ≈ 0.994, one at 0.7 with ≈ 0.61, one at 0.5 with ≈ 0.06
// (candidates are then checked with the signature's estimate, standard error ≤ 0.045 at 128
// hashes). Looser bands (4 rows) made boilerplate-heavy trees, whose files share half their
// shingles, compare every file with every other.

export const MINHASH_SIZE = 128;
export const LSH_BANDS = 16;
/** At most this many candidates are checked per file: bounds the work on very repetitive trees. */
const MAX_CANDIDATES = 256;
const ROWS = MINHASH_SIZE / LSH_BANDS;
/** Tokens per shingle. */
export const SHINGLE = 5;
/** Files with fewer shingles than this are compared only exactly (too short to estimate). */
const MIN_SHINGLES = 8;

function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

const SEEDS = (() => {
  const s = new Uint32Array(MINHASH_SIZE);
  let x = 0x9e3779b9;
  for (let i = 0; i < MINHASH_SIZE; i++) {
    x = fmix32(x + 0x6d2b79f5);
    s[i] = x;
  }
  return s;
})();

const TOKEN = /[A-Za-z_$][A-Za-z0-9_$]*|\d+|[^\sA-Za-z0-9_$]/g;

function tokenHash(t: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < t.length; i++) h = Math.imul(h ^ t.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/** The MinHash signature of a text's token 5-shingles, or null when it is too short. */
export function minhashSignature(text: string): Uint32Array | null {
  const tokens: number[] = [];
  for (const m of text.matchAll(TOKEN)) tokens.push(tokenHash(m[0]));
  const n = tokens.length - SHINGLE + 1;
  if (n < MIN_SHINGLES) return null;
  const shingles = new Set<number>();
  for (let i = 0; i < n; i++) {
    let h = 0;
    for (let k = 0; k < SHINGLE; k++) h = fmix32(h ^ Math.imul(tokens[i + k], k + 1) ^ (k << 24));
    shingles.add(h);
  }
  const sig = new Uint32Array(MINHASH_SIZE).fill(0xffffffff);
  for (const x of shingles) {
    for (let j = 0; j < MINHASH_SIZE; j++) {
      const v = fmix32(x ^ SEEDS[j]);
      if (v < sig[j]) sig[j] = v;
    }
  }
  return sig;
}

/** Estimated Jaccard similarity of two signatures: the fraction of equal minima. */
export function estimateJaccard(a: Uint32Array, b: Uint32Array): number {
  let same = 0;
  for (let i = 0; i < MINHASH_SIZE; i++) if (a[i] === b[i]) same++;
  return same / MINHASH_SIZE;
}

/** Banded LSH index: add kept signatures, query for the most similar kept one above a threshold. */
export class LshIndex<T> {
  private buckets = new Map<string, number[]>();
  private items: Array<{ sig: Uint32Array; value: T }> = [];

  private keys(sig: Uint32Array): string[] {
    const keys: string[] = [];
    for (let b = 0; b < LSH_BANDS; b++) {
      let h = b;
      for (let r = 0; r < ROWS; r++) h = fmix32(h ^ sig[b * ROWS + r]);
      keys.push(`${b}:${h}`);
    }
    return keys;
  }

  add(sig: Uint32Array, value: T): void {
    const id = this.items.push({ sig, value }) - 1;
    for (const k of this.keys(sig)) {
      const list = this.buckets.get(k);
      if (list) list.push(id);
      else this.buckets.set(k, [id]);
    }
  }

  /**
   * The earliest kept item whose estimated Jaccard with `sig` is at least `threshold`
   * (candidates from the shared bands, in the order they were kept), or null.
   */
  nearest(sig: Uint32Array, threshold: number): { value: T; similarity: number } | null {
    const candidates = new Set<number>();
    for (const k of this.keys(sig)) for (const id of this.buckets.get(k) ?? []) candidates.add(id);
    const ordered = [...candidates].sort((a, b) => a - b);
    for (let i = 0; i < ordered.length && i < MAX_CANDIDATES; i++) {
      const s = estimateJaccard(sig, this.items[ordered[i]].sig);
      if (s >= threshold) return { value: this.items[ordered[i]].value, similarity: s };
    }
    return null;
  }
}
