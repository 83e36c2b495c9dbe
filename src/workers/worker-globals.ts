// Node-isms that lightning-fs' dependencies expect (`global`) and isomorphic-git's (`Buffer`),
// set before those modules load in the sources worker.
import '../data/sources/buffer-global.ts';

const g = globalThis as { global?: unknown };
g.global ??= globalThis;
