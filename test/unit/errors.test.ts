// Every error class crosses a real MessageChannel through comlink (with the transfer handler
// the workers and their clients register) and arrives as the same class with the same code,
// data, hint and message; plain Errors and cancellations keep their name and message.
import { afterEach, describe, expect, it } from 'vitest';
import { MessageChannel } from 'node:worker_threads';
import * as Comlink from 'comlink';
import '../../src/workers/error-transfer.ts';
import { HomecoderError, UsageError } from '../../src/errors.ts';
import { HubError } from '../../src/model/hub/client.ts';
import { AdapterMixError } from '../../src/model/adapter-mix.ts';
import { ModelError } from '../../src/model/errors.ts';
import { ExportError } from '../../src/model/export/errors.ts';
import { SettingsError } from '../../src/train/settings.ts';
import { MemoryCheckError, RunError, TrainingError } from '../../src/train/errors.ts';
import { DatasetError, SourceError } from '../../src/data/errors.ts';
import { GpuError, outOfMemory } from '../../src/gpu/errors.ts';
import { CompletionError } from '../../src/serve/completion-service.ts';
import { RelayError } from '../../src/bridge/relay.ts';
import { HttpError } from '../../src/bridge/editor-api/http.ts';
import { abortError, isAbort } from '../../src/progress.ts';
import type { MemoryCheck } from '../../src/train/memory-check.ts';

const check: MemoryCheck = {
  fits: false,
  plan: { weights: 1, lora: 2, optimizer: 3, activations: 4, scratch: 5, total: 15, largestBuffer: 4 } as MemoryCheck['plan'],
  budget: 10,
  message: 'This run does not fit: use a sequence length of 512.',
  suggestion: { seqLen: 512 },
};

const cases: Array<[string, () => HomecoderError, (e: HomecoderError) => unknown]> = [
  ['HomecoderError', () => new HomecoderError('SOMETHING', 'went wrong', { data: { n: 1 }, hint: 'do this' }), () => 0],
  ['UsageError', () => new UsageError('--port must be a number', 'port'), () => 0],
  ['HubError', () => new HubError('GATED', 'gated: accept the licence', 403), (e) => (e as HubError).status],
  ['AdapterMixError', () => new AdapterMixError('Give at least one adapter a non-zero weight.'), () => 0],
  [
    'ModelError',
    () => new ModelError('MISSING_TENSOR', 'no lm_head', { file: 'model.safetensors', tensor: 'lm_head' }),
    (e) => [(e as ModelError).file, (e as ModelError).tensor],
  ],
  [
    'SettingsError',
    () => new SettingsError('loraDropout', 'loraDropout must be a number in [0, 0.9] (got 0.95).'),
    (e) => (e as SettingsError).setting,
  ],
  ['MemoryCheckError', () => new MemoryCheckError(check), (e) => (e as MemoryCheckError).check],
  ['RunError', () => new RunError('RUN_NOT_FOUND', 'No run r1.', { runId: 'r1' }), () => 0],
  ['TrainingError', () => new TrainingError(Number.NaN, 7), (e) => [(e as TrainingError).step, Number.isNaN((e as TrainingError).loss)]],
  ['DatasetError', () => new DatasetError('TOO_FEW_FILES', 'too few files'), () => 0],
  ['SourceError', () => new SourceError('GIT_AUTH', 'needs a token', { hint: 'make one', data: { url: 'https://x/y.git' } }), () => 0],
  ['GpuError', () => outOfMemory('loading the model'), () => 0],
  ['CompletionError', () => new CompletionError('NO_MODEL', 'Load a model first.'), () => 0],
  ['RelayError', () => new RelayError(503, 'No tab is serving.'), (e) => (e as RelayError).status],
  ['HttpError', () => new HttpError(413, 'The body is too large.'), (e) => (e as HttpError).status],
  ['ExportError', () => new ExportError('EXPORT_BAD_FORMAT', 'give gguf-f16', { format: 'x' }), (e) => (e as ExportError).data.format],
];

let close = () => {};
afterEach(() => close());

/** A remote whose `fail(i)` throws `make()` on the other end of a real MessageChannel. */
function remoteThrowing(make: (i: number) => unknown): Comlink.Remote<{ fail(i: number): Promise<void> }> {
  const { port1, port2 } = new MessageChannel();
  Comlink.expose(
    {
      async fail(i: number) {
        throw make(i);
      },
    },
    port1 as unknown as Comlink.Endpoint,
  );
  close = () => {
    port1.close();
    port2.close();
  };
  return Comlink.wrap(port2 as unknown as Comlink.Endpoint);
}

describe('errors across a MessageChannel', () => {
  it('every error class arrives as the same class with the same code, data, hint and message', async () => {
    const sent = cases.map(([, make]) => make());
    const remote = remoteThrowing((i) => sent[i]);
    for (const [i, [name, , extra]] of cases.entries()) {
      const got = (await remote.fail(i).catch((e: unknown) => e)) as HomecoderError;
      const want = sent[i];
      expect(got).not.toBe(want); // really rebuilt, not shared
      expect(got.constructor, name).toBe(want.constructor);
      expect(got).toBeInstanceOf(HomecoderError);
      expect(got).toBeInstanceOf(Error);
      expect({ name: got.name, code: got.code, data: got.data, hint: got.hint, message: got.message }).toEqual({
        name,
        code: want.code,
        data: want.data,
        hint: want.hint,
        message: want.message,
      });
      expect(extra(got)).toEqual(extra(want));
      expect(HomecoderError.fromJSON(JSON.parse(JSON.stringify(want)))).toBeInstanceOf(want.constructor);
    }
  });

  it('a GpuError keeps its hint apart and in its message, as the CLI prints it', async () => {
    const remote = remoteThrowing(() => outOfMemory('training'));
    const got = (await remote.fail(0).catch((e: unknown) => e)) as GpuError;
    expect(got).toBeInstanceOf(GpuError);
    expect(got.code).toBe('OUT_OF_MEMORY');
    expect(got.hint).toMatch(/shorter sequence length/);
    expect(got.message.endsWith(got.hint)).toBe(true);
  });

  it('a plain Error (a bug) keeps its name and message; a cancellation stays an AbortError', async () => {
    const remote = remoteThrowing((i) => (i === 0 ? new TypeError('x is undefined') : abortError('Stopped by the user.')));
    const bug = (await remote.fail(0).catch((e: unknown) => e)) as Error;
    expect(bug).not.toBeInstanceOf(HomecoderError);
    expect([bug.name, bug.message]).toEqual(['TypeError', 'x is undefined']);
    const cancelled = (await remote.fail(1).catch((e: unknown) => e)) as Error;
    expect(isAbort(cancelled)).toBe(true);
    expect(cancelled.message).toBe('Stopped by the user.');
  });
});
