// isomorphic-git and seek-bzip use Node's Buffer; in the browser the `buffer` package stands in.
import { Buffer as BufferPolyfill } from 'buffer';

const g = globalThis as { Buffer?: unknown };
g.Buffer ??= BufferPolyfill;
