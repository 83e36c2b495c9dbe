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
    for (const o of ['--model', '--adapter', '--named-adapter', '--combination', '--api-key', '--context', '--port', '--allow-tab'])
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
  it('--kv-cache takes auto, f16 or f32 and says so before the model loads (exit 2)', () => {
    const r = runCli('serve', '--model', 'no-such-model', '--kv-cache', 'f8');
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('--kv-cache must be auto, f16 or f32, not f8');
    expect(runCli('serve', '--help').stdout).toContain('--kv-cache');
  });
  it('--gpu-memory takes a positive number of GiB, checked before the model loads (exit 2)', () => {
    const r = runCli('serve', '--model', 'no-such-model', '--gpu-memory', 'lots');
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('--gpu-memory must be a positive number of GiB, not lots');
    expect(runCli('serve', '--help').stdout).toContain('--gpu-memory');
  });
  it('--no-merge is a switch: listed in the help, and a value given to it is refused like any malformed option (exit 1)', () => {
    expect(runCli('serve', '--help').stdout).toContain('--no-merge');
    const r = runCli('serve', '--model', 'no-such-model', '--no-merge=yes');
    expect(r.status).toBe(1);
    expect(r.stderr).toContain("Option '--no-merge' does not take an argument");
  });
  it('--named-adapter needs NAME=DIR with a plain name, each name once, before the model loads', () => {
    for (const spec of ['just-a-dir', '=dir', '../x=dir', 'latest=dir', 'a b=dir', 'fn='])
      expect(runCli('serve', '--model', '.', '--named-adapter', spec).stderr, spec).toMatch(/give NAME=DIR/);
    const twice = runCli('serve', '--model', '.', '--named-adapter', 'fn=a', '--named-adapter', 'fn=b');
    expect(twice.status).toBe(1);
    expect(twice.stderr).toContain('--named-adapter fn is given twice');
  });
  it('--context-source refuses a folder with nothing to index, before loading the model', () => {
    const empty = mkdtempSync(`${tmpdir()}/hc-ctx-empty-`);
    const r = runCli('serve', '--model', 'no-such-model', '--port', '0', '--context-source', empty);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('--context-source: no file');
    expect(runCli('serve', '--help').stdout).toContain('--context-source');
  });
});
