// The demo model shipped with the app so it works offline on first start: a fixture
// with random weights (it completes nothing useful), served by the bridge in the hub's
// layout under /hub, so it goes through the same download path as any model.
import { makeTinyModel } from './tiny-model.ts';
import { DEMO_ENDPOINT_PATH, DEMO_REPO } from './demo-repo.ts';

export { DEMO_ENDPOINT_PATH, DEMO_REPO };

export function demoModelFiles(): Map<string, Uint8Array> {
  return makeTinyModel({ arch: 'qwen2', seed: 2026, layers: 4, hidden: 256, heads: 4, kvHeads: 2, intermediate: 704 }).files;
}

/** Path of a demo file inside the built app (dist/). */
export function demoFilePath(file: string): string {
  return `${DEMO_ENDPOINT_PATH.slice(1)}/${DEMO_REPO}/resolve/main/${file}`;
}
