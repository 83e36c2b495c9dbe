// A small generated "repository" of code files with repeated idioms, so a tiny model's
// loss on held-out files drops within a few dozen steps.
import type { TrainingFile } from '../../src/data/types.ts';

export function tinyRepo(n = 8): TrainingFile[] {
  const files: TrainingFile[] = [];
  for (let i = 0; i < n; i++) {
    const name = ['alpha', 'beta', 'gamma', 'delta', 'eps', 'zeta', 'eta', 'theta', 'iota', 'kappa'][i % 10];
    const text =
      `def ${name}(a, b):\n    for i in range(10):\n        print("hello world", i)\n    return a + b\n\n` +
      `class Point${i}:\n    def __init__(self, x, y):\n        self.x = x\n        self.y = y\n`;
    files.push({ path: `src/${name}.py`, source: 'tiny-repo', text, test: false });
  }
  return files;
}
