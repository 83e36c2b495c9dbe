// Downloading from a hub-shaped server on loopback into a store on disk: sharded models,
// resume after an interruption (HTTP Range), refusal before any weight for unsupported
// architectures, truncated files detected and fetched again, gated repos.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeTinyModel } from '../../src/model/fixtures/tiny-model.ts';
import { Hub, HubError } from '../../src/model/hub/client.ts';
import { downloadModel } from '../../src/model/hub/download.ts';
import { nodeStore } from '../../src/model/storage/node-store.ts';
import { openModel } from '../../src/model/loader.ts';
import type { ModelError } from '../../src/model/errors.ts';
import { isAbort, type Progress } from '../../src/progress.ts';
import { startMockHub, type MockHub } from '../helpers/mock-hub.ts';

const model = makeTinyModel({ arch: 'qwen2', layers: 2, hidden: 64, shards: 3 });
const bad = new Map(makeTinyModel({ arch: 'llama', layers: 1, hidden: 16, heads: 2, kvHeads: 1, intermediate: 32 }).files);
bad.set('config.json', new TextEncoder().encode(JSON.stringify({ architectures: ['MambaForCausalLM'] })));
let hub: MockHub;
let root: string;

beforeAll(async () => {
  hub = await startMockHub(
    new Map([
      ['test/tiny-coder', model.files],
      ['test/mamba', bad],
      ['test/gated', model.files],
    ]),
    { gated: ['test/gated'], token: 'hf_secret' },
  );
  root = mkdtempSync(join(tmpdir(), 'hc-store-'));
});
afterAll(async () => {
  await hub.close();
  rmSync(root, { recursive: true, force: true });
});

describe('model download', () => {
  it('downloads a sharded model with progress; the files are byte-identical and load', async () => {
    const store = nodeStore(join(root, 'a'));
    const seen: Progress[] = [];
    const m = await downloadModel(new Hub('test/tiny-coder', { endpoint: hub.url }), store, { onProgress: (p) => seen.push(p) });
    expect(m.complete).toBe(true);
    expect(Object.keys(m.files).filter((f) => f.endsWith('.safetensors'))).toHaveLength(3);
    for (const [name, bytes] of model.files) {
      if (name === 'generation_config.json' || name.endsWith('.json') || name.endsWith('.safetensors')) {
        expect(readFileSync(join(root, 'a', m.id, name)).equals(Buffer.from(bytes)), name).toBe(true);
      }
    }
    const downloading = seen.filter((p) => p.phase === 'downloading');
    expect(downloading.length).toBeGreaterThan(3);
    expect(downloading.at(-1)!.done).toBe(downloading.at(-1)!.total);
    expect(downloading[0].detail).toMatch(/MiB\/s/);
    const opened = await openModel((await store.folder(m.id)).files());
    expect(opened.config.architecture).toBe('Qwen2ForCausalLM');
    expect((await store.list()).map((x) => x.repo)).toEqual(['test/tiny-coder']);
  });

  it('resumes an interrupted download from where it stopped (HTTP Range)', async () => {
    const store = nodeStore(join(root, 'b'));
    const ctl = new AbortController();
    hub.throttle = 2_000_000;
    let stoppedAt = 0;
    const err = await downloadModel(new Hub('test/tiny-coder', { endpoint: hub.url }), store, {
      signal: ctl.signal,
      onProgress: (p) => {
        if (p.phase === 'downloading' && p.done > p.total / 2 && !ctl.signal.aborted) {
          stoppedAt = p.done;
          ctl.abort();
        }
      },
    }).catch((e: unknown) => e);
    hub.throttle = 0;
    expect(isAbort(err)).toBe(true);
    const before = hub.log.length;
    let firstDone = -1;
    const m = await downloadModel(new Hub('test/tiny-coder', { endpoint: hub.url }), store, {
      onProgress: (p) => {
        if (p.phase === 'downloading' && firstDone < 0) firstDone = p.done;
      },
    });
    expect(m.complete).toBe(true);
    expect(firstDone).toBeGreaterThanOrEqual(stoppedAt * 0.8); // it did not start from zero
    const ranged = hub.log.slice(before).filter((r) => r.range && r.range !== 'bytes=0-');
    expect(ranged.length).toBeGreaterThan(0);
    await openModel((await store.folder(m.id)).files());
  });

  it('refuses an unsupported architecture before downloading any weight', async () => {
    const before = hub.log.length;
    const err = (await downloadModel(new Hub('test/mamba', { endpoint: hub.url }), nodeStore(join(root, 'c'))).catch(
      (e: unknown) => e,
    )) as ModelError;
    expect(err.code).toBe('UNSUPPORTED_ARCHITECTURE');
    expect(err.message).toContain('MambaForCausalLM');
    expect(hub.log.slice(before).map((r) => r.path)).toEqual(['/test/mamba/resolve/main/config.json']);
  });

  it('detects a truncated shard and downloads it again', async () => {
    const shard = [...model.files.keys()].find((n) => n.endsWith('2-of-00003.safetensors'))!;
    hub.truncateOnce.add(shard);
    const store = nodeStore(join(root, 'd'));
    const m = await downloadModel(new Hub('test/tiny-coder', { endpoint: hub.url }), store);
    expect(hub.truncateOnce.has(shard)).toBe(false); // the short answer was served
    expect(readFileSync(join(root, 'd', m.id, shard)).equals(Buffer.from(model.files.get(shard)!))).toBe(true);
  });

  it('says a gated repo needs a token, and works with one', async () => {
    const err = (await downloadModel(new Hub('test/gated', { endpoint: hub.url }), nodeStore(join(root, 'e'))).catch(
      (e: unknown) => e,
    )) as HubError;
    expect(err).toBeInstanceOf(HubError);
    expect(err.code).toBe('GATED');
    expect(err.message).toContain('token');
    const m = await downloadModel(new Hub('test/gated', { endpoint: hub.url, token: 'hf_secret' }), nodeStore(join(root, 'e')));
    expect(m.complete).toBe(true);
  });

  it('says a missing repo is missing', async () => {
    const err = (await downloadModel(new Hub('test/nope', { endpoint: hub.url }), nodeStore(join(root, 'f'))).catch(
      (e: unknown) => e,
    )) as HubError;
    expect(err.code).toBe('NOT_FOUND');
    expect(() => new Hub('not a repo')).toThrow(/owner\/name/);
  });
});
