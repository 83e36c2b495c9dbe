// The memory planner's figures for the catalog's models, as the Markdown table in
// docs/MODELS.md (a unit test checks the doc against this). Run: npx tsx scripts/plan-table.ts
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseConfig } from '../src/model/config.ts';
import { planMemory } from '../src/gpu/planner.ts';
import { LORA_TARGETS } from '../src/model/types.ts';

export const PLANNED_MODELS = ['Qwen2.5-Coder-0.5B', 'Qwen2.5-Coder-1.5B', 'deepseek-coder-1.3b-base', 'Qwen2.5-Coder-3B'];
const CASES = [
  { seqLen: 2048, training: true, lowMemory: false },
  { seqLen: 2048, training: true, lowMemory: true },
  { seqLen: 4096, training: true, lowMemory: false },
  { seqLen: 2048, training: false, lowMemory: false },
];

export function planTable(): string[] {
  const gib = (b: number) => (b / 2 ** 30).toFixed(2);
  const rows = [
    '| model | use | tokens | weights | adapter + optimizer | kept activations | working memory | total (GiB) |',
    '| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |',
  ];
  for (const m of PLANNED_MODELS) {
    const config = parseConfig(
      JSON.parse(readFileSync(new URL(`../src/model/configs/${m}.json`, import.meta.url), 'utf8')),
      `${m}/config.json`,
    );
    for (const c of CASES) {
      const p = planMemory({
        config,
        seqLen: c.seqLen,
        lora: { r: 16, targets: LORA_TARGETS },
        training: c.training,
        lowMemory: c.lowMemory,
      });
      const use = c.training ? `LoRA r=16, 7 targets${c.lowMemory ? ', low memory' : ''}` : 'forward only';
      rows.push(
        `| ${m} | ${use} | ${c.seqLen} | ${gib(p.weights)} | ${gib(p.lora + p.optimizer)} | ${gib(p.activations)} | ${gib(p.scratch)} | **${gib(p.total)}** |`,
      );
    }
  }
  return rows;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) console.log(planTable().join('\n'));
