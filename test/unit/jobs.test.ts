// The worker harness through real comlink over a MessageChannel: progress arrives,
// and aborting the UI-side signal cancels the worker-side job.
import { describe, expect, it } from 'vitest';
import { MessageChannel } from 'node:worker_threads';
import * as Comlink from 'comlink';
import { JobHost, startJob, startRemoteJob } from '../../src/workers/jobs.ts';
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

  it('runForPage maps errors for the page but keeps a cancellation an AbortError', async () => {
    const host = new JobHost();
    const toPage = (err: unknown) => new Error(`page: ${(err as Error).message}`);
    await expect(
      host.runForPage(
        'a',
        async () => {
          throw new TypeError('boom');
        },
        toPage,
      ),
    ).rejects.toThrow('page: boom');
    const running = host.runForPage(
      'b',
      (signal) => new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason))),
      toPage,
    );
    host.cancel('b');
    const err = await running.catch((e: unknown) => e);
    expect(isAbort(err)).toBe(true);
    expect(host.active).toEqual([]);
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
