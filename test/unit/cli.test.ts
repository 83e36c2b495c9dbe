// The `homecoder` command as a user runs it (a real process through bin/homecoder.mjs).
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';

const run = (...args: string[]) => spawnSync(process.execPath, ['bin/homecoder.mjs', ...args], { encoding: 'utf8', timeout: 60_000 });

describe('homecoder CLI', () => {
  it('prints help listing its commands', () => {
    const r = run('--help');
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('Usage: homecoder <command>');
    expect(r.stdout).toContain('gpu-info');
  });
  it('prints a command help', () => {
    const r = run('gpu-info', '--help');
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('--json');
  });
  it('rejects an unknown command with usage and exit code 2', () => {
    const r = run('frobnicate');
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('Unknown command "frobnicate"');
  });
  it('rejects an unknown option with a message, not a stack trace', () => {
    const r = run('gpu-info', '--bogus');
    expect(r.status).toBe(1);
    expect(r.stderr).toContain("Unknown option '--bogus'");
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });
});
