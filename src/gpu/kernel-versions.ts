// Several versions of each hot kernel side by side (as llm.c keeps them), and which one
// the engine uses. A version declares the optional features it needs and the shapes it
// handles; the selection picks, per operation and shape, the version the tuner measured
// fastest on this adapter (src/gpu/tuner.ts), or one family everywhere when forced
// (`--kernels`), and otherwise the operation's first version (the register-blocked one,
// which runs on every adapter and every shape).
import type { KernelRunner } from './kernel.ts';

/** Families of versions; `--kernels NAME` forces one for every operation that has it. */
export const KERNEL_FAMILIES = ['register', 'tiled', 'tiled-f16', 'subgroup'] as const;
export type KernelFamily = (typeof KERNEL_FAMILIES)[number];

export type KernelOp = 'linear' | 'linear-dx' | 'gemv' | 'attention' | 'attention-cached';
export const KERNEL_OPS: readonly KernelOp[] = ['linear', 'linear-dx', 'gemv', 'attention', 'attention-cached'];

/** A dispatch's problem size: T tokens (rows of the activation), reduction K, outputs N.
 *  For attention: K is the head size and N the query heads per kv head; for cached
 *  attention T is the cache length (keys the last query sees). */
export interface OpShape {
  T: number;
  K: number;
  N: number;
}

export interface KernelVersion<A> {
  op: KernelOp;
  /** Unique within the op, e.g. `linear.tiled`. */
  name: string;
  family: KernelFamily;
  /** Device features the WGSL needs (`shader-f16`, `subgroups`). */
  features: readonly string[];
  /** Workgroup memory one workgroup uses (checked against the device limit). */
  workgroupBytes: number;
  summary: string;
  /** Whether this version handles these arguments (alignment, vector widths). */
  supports(args: A): boolean;
  /** Records the dispatch(es) for one call. */
  record(runner: KernelRunner, pass: GPUComputePassEncoder, args: A): void;
}

/** Token counts are bucketed to powers of two: a pick made at T=512 serves T=500. */
export function tokenBucket(T: number): number {
  return 2 ** Math.ceil(Math.log2(Math.max(1, T)));
}

export function shapeKey(op: KernelOp, s: OpShape): string {
  return `${op} T${tokenBucket(s.T)} K${s.K} N${s.N}`;
}

/** The tuner's choices, as stored: shape key → version name. */
export type KernelPicks = Record<string, string>;

export class KernelSelection {
  /** When set, every op uses its version of this family (where it has one that fits). */
  forced?: KernelFamily;
  /** Calls per version name since creation (the bench and tests read which versions ran). */
  readonly used = new Map<string, number>();
  /** op K N → (token bucket → version name). */
  private picks = new Map<string, Map<number, string>>();

  constructor(
    private readonly features: ReadonlySet<string>,
    private readonly maxWorkgroupBytes: number,
  ) {}

  static forDevice(device: GPUDevice): KernelSelection {
    return new KernelSelection(new Set([...device.features].map(String)), device.limits.maxComputeWorkgroupStorageSize);
  }

  /** Whether this device can run the version at all. */
  available(v: KernelVersion<unknown>): boolean {
    return v.features.every((f) => this.features.has(f)) && v.workgroupBytes <= this.maxWorkgroupBytes;
  }

  setPick(op: KernelOp, shape: OpShape, name: string): void {
    const k = `${op} K${shape.K} N${shape.N}`;
    let m = this.picks.get(k);
    if (!m) this.picks.set(k, (m = new Map()));
    m.set(tokenBucket(shape.T), name);
  }

  /** Loads stored picks (unknown keys are ignored: a pick for a version this build lacks falls back). */
  loadPicks(picks: KernelPicks): void {
    for (const [key, name] of Object.entries(picks)) {
      const m = /^(\S+) T(\d+) K(\d+) N(\d+)$/.exec(key);
      if (m) this.setPick(m[1] as KernelOp, { T: Number(m[2]), K: Number(m[3]), N: Number(m[4]) }, name);
    }
  }

  picksRecord(): KernelPicks {
    const out: KernelPicks = {};
    for (const [k, m] of this.picks) {
      const [op, K, N] = k.split(' ');
      for (const [t, name] of m) out[`${op} T${t} ${K} ${N}`] = name;
    }
    return out;
  }

  /** The tuned pick for this shape: the same (op, K, N) at the nearest token bucket. */
  private picked(op: KernelOp, shape: OpShape): string | undefined {
    const m = this.picks.get(`${op} K${shape.K} N${shape.N}`);
    if (!m) return undefined;
    const b = Math.log2(tokenBucket(shape.T));
    let best: string | undefined;
    let dist = Infinity;
    for (const [t, name] of m) {
      const d = Math.abs(Math.log2(t) - b);
      if (d < dist) [best, dist] = [name, d];
    }
    return best;
  }

  /** The version to run for these arguments; the first version is the fallback. */
  choose<A>(versions: readonly KernelVersion<A>[], shape: OpShape, args: A): KernelVersion<A> {
    const fits = (v: KernelVersion<A> | undefined): v is KernelVersion<A> => !!v && this.available(v) && v.supports(args);
    let v: KernelVersion<A> | undefined;
    if (this.forced) v = versions.find((x) => x.family === this.forced);
    else {
      const name = this.picked(versions[0].op, shape);
      v = name ? versions.find((x) => x.name === name) : undefined;
    }
    const chosen = fits(v) ? v : versions[0];
    this.used.set(chosen.name, (this.used.get(chosen.name) ?? 0) + 1);
    return chosen;
  }
}
