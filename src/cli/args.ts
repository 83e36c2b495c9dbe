import { UsageError } from '../errors.ts';
// Command-line values more than one command reads.
import { LORA_TARGETS, type LoraTarget } from '../model/types.ts';

/** `--targets q_proj,v_proj`: LoRA target modules, each one the engine knows. */
export function parseLoraTargets(list: string): LoraTarget[] {
  const t = list.split(',').map((x) => x.trim());
  const bad = t.filter((x) => !(LORA_TARGETS as readonly string[]).includes(x));
  if (bad.length) throw new UsageError(`--targets: unknown module ${bad.join(', ')}; choose from ${LORA_TARGETS.join(', ')}`);
  return t as LoraTarget[];
}

/**
 * `--repo-share X` (train, dataset, export --format job): the share of runs of a repository's
 * related files trained together as one repository-level sequence, from 0 (every file alone) to 1.
 */
export function parseRepoShare(v: string): number {
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n) || n < 0 || n > 1)
    throw new UsageError(`--repo-share must be a number from 0 to 1 (the share of repository sequences), not "${v}".`);
  return n;
}
