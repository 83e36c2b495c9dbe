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
