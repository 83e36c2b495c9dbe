// `homecoder serve` argument handling as a user meets it (a real process). Serving itself
// is tested in test/gpu/serve-clients.test.ts.
import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.ts';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';

describe('homecoder serve', () => {
  it('is listed, and its help names the options', () => {
    expect(runCli('--help').stdout).toContain('serve');
    const r = runCli('serve', '--help');
    expect(r.status).toBe(0);
    for (const o of ['--model', '--adapter', '--combination', '--api-key', '--context', '--port', '--allow-tab'])
      expect(r.stdout).toContain(o);
  });
  it('needs --model (exit 2) and says what is wrong with a folder that is not a model', () => {
    const none = runCli('serve');
    expect(none.status).toBe(2);
    expect(none.stderr).toContain('give --model');
    const empty = runCli('serve', '--model', mkdtempSync(`${tmpdir()}/hc-empty-`), '--port', '0');
    expect(empty.status).toBe(1);
    expect(empty.stderr).toMatch(/config\.json/);
    expect(empty.stderr).not.toMatch(/\n\s+at /);
    const bad = runCli('serve', '--model', '.', '--combination', 'average');
    expect(bad.status).toBe(1);
    expect(bad.stderr).toContain('--combination must be cat or linear');
  });
  it('--context-source refuses a folder with nothing to index, before loading the model', () => {
    const empty = mkdtempSync(`${tmpdir()}/hc-ctx-empty-`);
    const r = runCli('serve', '--model', 'no-such-model', '--port', '0', '--context-source', empty);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('--context-source: no file');
    expect(runCli('serve', '--help').stdout).toContain('--context-source');
  });
});
