// docs/MODELS.md shows the planner's figures for the catalog's models; they must be the
// planner's current output (the configs are the repos' real config.json files).
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { planTable, PLANNED_MODELS } from '../../scripts/plan-table.ts';
import { CATALOG } from '../../src/model/catalog.ts';
import { parseConfig } from '../../src/model/config.ts';
import { ModelError } from '../../src/model/errors.ts';

describe('planner figures for the catalog models', () => {
  it('docs/MODELS.md holds the current table', () => {
    const doc = readFileSync(new URL('../../docs/MODELS.md', import.meta.url), 'utf8');
    for (const row of planTable()) expect(doc).toContain(row);
  });

  it('Qwen2.5-Coder-1.5B trains in about 4 GiB at 2048 tokens', () => {
    const row = planTable().find((r) => r.startsWith('| Qwen2.5-Coder-1.5B | LoRA r=16, 7 targets | 2048'))!;
    expect(row).toContain('**4.00**');
    expect(PLANNED_MODELS).toContain('Qwen2.5-Coder-0.5B');
  });

  it('every catalog config parses; DeepSeek-Coder keeps its linear RoPE scaling', () => {
    for (const m of CATALOG) if (m.config) expect(parseConfig(m.config, m.repo).architecture).toBe(m.architecture);
    const ds = CATALOG.find((m) => m.repo === 'deepseek-ai/deepseek-coder-1.3b-base')!;
    expect(parseConfig(ds.config).ropeLinearFactor).toBe(4);
  });

  it('refuses a RoPE scaling it cannot run, naming it', () => {
    const cfg = { ...(CATALOG[1].config as object), rope_scaling: { type: 'yarn', factor: 4 } };
    expect(() => parseConfig(cfg, 'x/config.json')).toThrow(ModelError);
    expect(() => parseConfig(cfg, 'x/config.json')).toThrow(/rope_scaling "yarn"/);
  });
});
