// The `homecoder` command as a user runs it (a real process through bin/homecoder.mjs).
import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.ts';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

describe('homecoder CLI', () => {
  it('prints help listing its commands', () => {
    const r = runCli('--help');
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('Usage: homecoder <command>');
    expect(r.stdout).toContain('gpu-info');
  });
  it('prints a command help', () => {
    const r = runCli('gpu-info', '--help');
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('--json');
  });
  it('rejects an unknown command with usage and exit code 2', () => {
    const r = runCli('frobnicate');
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('Unknown command "frobnicate"');
  });
  it('rejects an unknown option with a message, not a stack trace', () => {
    const r = runCli('gpu-info', '--bogus');
    expect(r.status).toBe(1);
    expect(r.stderr).toContain("Unknown option '--bogus'");
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });
});

describe('homecoder plan', () => {
  it('prints the memory plan of a real-size config as JSON', () => {
    // Qwen2.5-Coder-1.5B's config: 1.54 B parameters, so ≈ 3.09 GB of bf16 weights.
    const config = 'src/model/configs/Qwen2.5-Coder-1.5B.json';
    const r = runCli('plan', '--config', config, '--seq-len', '1024', '--gpu-memory', '8', '--json');
    expect(r.status, r.stderr).toBe(0);
    const p = JSON.parse(r.stdout) as Record<string, number | boolean>;
    expect(p.weights as number).toBeGreaterThan(3.05e9);
    expect(p.weights as number).toBeLessThan(3.15e9);
    expect(p.total).toBe(
      (p.weights as number) + (p.adapter as number) + (p.optimizer as number) + (p.activations as number) + (p.scratch as number),
    );
    expect(p.fits).toBe(true);
    expect(p.max_seq_len as number).toBeGreaterThan(1024);
    const inf = JSON.parse(runCli('plan', '--config', config, '--inference', '--json').stdout) as Record<string, number>;
    expect(inf.optimizer).toBe(0);
    // Serving one adapter merged: a 16-bit copy of the seven projections (≈ 1.31 B parameters), counted in weights.
    expect(inf.merged_copy).toBe(inf.weights - (p.weights as number));
    expect(inf.merged_copy).toBeGreaterThan(2.6e9);
    expect(inf.merged_copy).toBeLessThan(2.65e9);
  });
  it('refuses an unsupported architecture by name', () => {
    const dir = mkdtempSync(join(tmpdir(), 'hc-plan-'));
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ architectures: ['GPTNeoXForCausalLM'] }));
    const r = runCli('plan', '--config', join(dir, 'config.json'));
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('GPTNeoXForCausalLM is not supported');
  });
});
