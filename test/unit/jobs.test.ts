// The worker harness through real comlink over a MessageChannel: progress arrives,
// aborting the UI-side signal cancels the worker-side job, and the typed client wrapper
// (workerClient) runs jobs with their options last.
import { describe, expect, it } from 'vitest';
import { MessageChannel } from 'node:worker_threads';
import * as Comlink from 'comlink';
import '../../src/workers/error-transfer.ts';
import { JobHost, startJob, startRemoteJob, workerClient, type CancellableApi, type JobId } from '../../src/workers/jobs.ts';
import { SourceError, type SourceErrorCode } from '../../src/data/errors.ts';
import { isAbort, type Progress, type ProgressListener } from '../../src/progress.ts';

interface Api {
  count(id: string, onProgress: ProgressListener, n: number): Promise<number>;
  cancel(id: string): Promise<boolean>;
}

function connect(): { remote: Comlink.Remote<Api>; host: JobHost; close: () => void } {
  const host = new JobHost();
  const api: Api = {
    count: (id, onProgress, n) =>
      host.run(id, async (signal) => {
        for (let i = 0; i < n; i++) {
          signal.throwIfAborted();
          await onProgress({ phase: 'count', done: i, total: n });
          await new Promise((r) => setTimeout(r, 5));
        }
        return n;
      }),
    cancel: async (id) => host.cancel(id),
  };
  const { port1, port2 } = new MessageChannel();
  Comlink.expose(api, port1 as unknown as Comlink.Endpoint);
  const remote = Comlink.wrap<Api>(port2 as unknown as Comlink.Endpoint);
  return {
    remote,
    host,
    close: () => {
      port1.close();
      port2.close();
    },
  };
}

describe('worker jobs', () => {
  it('reports progress and returns the result', async () => {
    const { remote, close } = connect();
    const seen: Progress[] = [];
    const onProgress = (p: Progress) => void seen.push(p);
    const got = await startJob(
      (id) => remote.cancel(id),
      (id) => remote.count(id, Comlink.proxy(onProgress), 5),
      { onProgress },
    );
    expect(got).toBe(5);
    expect(seen.map((p) => p.done)).toEqual([0, 1, 2, 3, 4]);
    expect(seen.every((p) => p.total === 5 && p.phase === 'count')).toBe(true);
    close();
  });

  it('cancels the worker-side job when the signal aborts', async () => {
    const { remote, host, close } = connect();
    const ctl = new AbortController();
    let progressCount = 0;
    const onProgress = () => {
      if (++progressCount === 3) ctl.abort();
    };
    const err = await startJob(
      (id) => remote.cancel(id),
      (id) => remote.count(id, Comlink.proxy(onProgress), 1000),
      {
        signal: ctl.signal,
      },
    ).catch((e: unknown) => e);
    expect(isAbort(err)).toBe(true);
    expect(progressCount).toBeLessThan(10); // stopped within a step or two, not after 1000
    expect(host.active).toEqual([]);
    close();
  });

  it('refuses to start when the signal is already aborted', async () => {
    let started = false;
    const ctl = new AbortController();
    ctl.abort();
    await expect(
      startJob(
        () => {},
        async () => (started = true),
        { signal: ctl.signal },
      ),
    ).rejects.toThrow();
    expect(started).toBe(false);
  });

  it('cancel of an unknown or finished job is a no-op', () => {
    expect(new JobHost().cancel('nope')).toBe(false);
  });

  it('workerClient runs job methods with options last, passes listeners, and errors cross typed', async () => {
    interface TypedApi extends CancellableApi {
      echo(text: string): Promise<string>;
      count(id: JobId, onProgress: ProgressListener, n: number, onEach: (i: number) => void): Promise<number>;
      fail(id: JobId, onProgress: ProgressListener, code: string): Promise<void>;
    }
    const host = new JobHost();
    const api: TypedApi = {
      echo: async (text) => text,
      count: (id, onProgress, n, onEach) =>
        host.run(id, async (signal) => {
          for (let i = 0; i < n; i++) {
            signal.throwIfAborted();
            await onEach(i);
            await onProgress({ phase: 'count', done: i, total: n });
            await new Promise((r) => setTimeout(r, 5));
          }
          return n;
        }),
      fail: (id, _p, code) =>
        host.run(id, async () => {
          throw new SourceError(code as SourceErrorCode, `failed with ${code}`);
        }),
      cancel: async (id) => host.cancel(id),
    };
    const { port1, port2 } = new MessageChannel();
    Comlink.expose(api, port1 as unknown as Comlink.Endpoint);
    const remote = Comlink.wrap<TypedApi>(port2 as unknown as Comlink.Endpoint);
    const client = workerClient(remote, { count: 2, fail: 1 });
    // The contract is checked: a job left out of the table, or a wrong arity, fails the type check.
    // @ts-expect-error fail is missing
    workerClient(remote, { count: 2 });
    // @ts-expect-error count takes two arguments
    workerClient(remote, { count: 1, fail: 1 });
    expect(await client.echo('hi')).toBe('hi');
    const each: number[] = [];
    const seen: number[] = [];
    expect(await client.count(3, (i) => void each.push(i), { onProgress: (p) => seen.push(p.done) })).toBe(3);
    expect(each).toEqual([0, 1, 2]);
    expect(seen).toEqual([0, 1, 2]);
    const err = await client.fail('GIT_AUTH').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SourceError);
    expect((err as SourceError).code).toBe('GIT_AUTH');
    const ctl = new AbortController();
    const stopped = client.count(1000, (i) => (i === 2 ? ctl.abort() : undefined), { signal: ctl.signal }).catch((e: unknown) => e);
    expect(isAbort(await stopped)).toBe(true);
    await new Promise((r) => setTimeout(r, 50));
    expect(host.active).toEqual([]);
    port1.close();
    port2.close();
  });

  it('startRemoteJob drops a progress report that arrives after the job settled', async () => {
    const seen: string[] = [];
    let late: ProgressListener | undefined;
    await startRemoteJob(
      () => {},
      async (_id, onProgress) => {
        onProgress({ phase: 'working', done: 1, total: 2 });
        late = onProgress;
        return 'ok';
      },
      { onProgress: (p) => seen.push(p.phase) },
    );
    late!({ phase: 'late', done: 2, total: 2 });
    expect(seen).toEqual(['working']);
  });
});
