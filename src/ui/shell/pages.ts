// The user's path, one page per step (DESIGN: "The user's path").
export interface PageInfo {
  id: 'model' | 'sources' | 'filter' | 'train' | 'use';
  title: string;
  summary: string;
}

export const PAGES: PageInfo[] = [
  { id: 'model', title: 'Model', summary: 'Pick a base model and check that it fits this GPU.' },
  { id: 'sources', title: 'Sources', summary: 'Add the code to learn from: git repositories, archives, files or folders.' },
  { id: 'filter', title: 'Filter', summary: 'See which files are used for training, and why each of the others is not.' },
  { id: 'train', title: 'Train', summary: 'Fine-tune the model with LoRA and watch the train and test loss.' },
  { id: 'use', title: 'Use', summary: 'Try completions, connect your editor, export the adapter.' },
];

export function pageFromHash(hash: string): PageInfo['id'] {
  const id = hash.replace(/^#\/?/, '');
  return PAGES.find((p) => p.id === id)?.id ?? 'model';
}
