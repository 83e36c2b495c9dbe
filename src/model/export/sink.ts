// Where an export's bytes go: a file written in order, chunk by chunk (a Node file, a
// FileSystemWritableFileStream in the browser, memory in tests), so a multi-GB export is
// never held whole.
export interface ByteSink {
  write(chunk: Uint8Array): Promise<void>;
  close(): Promise<void>;
}

/** Opens one output file of an export by name (a folder of files for the HF format). */
export type SinkFactory = (name: string) => Promise<ByteSink>;

/** A sink into memory (tests, small files such as config.json). */
export function memorySink(): ByteSink & { bytes(): Uint8Array } {
  const parts: Uint8Array[] = [];
  return {
    write: async (chunk) => {
      parts.push(chunk.slice());
    },
    close: async () => {},
    bytes() {
      const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
      let o = 0;
      for (const p of parts) {
        out.set(p, o);
        o += p.byteLength;
      }
      return out;
    },
  };
}

/** Progress of an export: bytes written so far of the total expected. */
export type ExportProgress = (done: number, total: number, what: string) => void;
