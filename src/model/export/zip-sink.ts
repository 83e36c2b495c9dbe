// A folder of export files as one .zip, streamed: each file opened through the factory
// becomes an entry deflated as it is written, and the archive's bytes go straight to one
// sink (an OPFS file in the browser), so a folder can be one download without being held in
// memory. Files are written one after another, as the exports do.
import { Zip, ZipDeflate } from 'fflate';
import type { ByteSink, SinkFactory } from './sink.ts';

export function zipSinks(out: ByteSink): { open: SinkFactory; finish(): Promise<void> } {
  let pending: Promise<void> = Promise.resolve();
  let failure: unknown;
  // fflate calls back synchronously with each piece; the writes are chained in order and
  // each entry's write waits for them, which is the backpressure.
  const zip = new Zip((err, data, final) => {
    if (err) failure = err;
    else pending = pending.then(() => out.write(data));
    if (final && !err) pending = pending.then(() => out.close());
  });
  const settle = async () => {
    await pending;
    if (failure) throw failure;
  };
  return {
    open: async (name) => {
      const entry = new ZipDeflate(name, { level: 6 });
      zip.add(entry);
      return {
        write: async (chunk) => {
          entry.push(chunk);
          await settle();
        },
        close: async () => {
          entry.push(new Uint8Array(0), true);
          await settle();
        },
      };
    },
    finish: async () => {
      zip.end();
      await settle();
    },
  };
}
