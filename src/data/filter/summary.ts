// Counts by reason and language, and the one-sentence explanation when nothing is accepted
// (Refact's users got "No train files provided" and nothing else).
import { REJECT_REASONS, type DecisionReason, type FileDecision, type RejectReason } from '../types.ts';
import type { FilterSettings } from './settings.ts';
import { isNotebook } from './notebook.ts';

/** Counts for the commits of the history (their own group: `total` and the rest count files only). */
export interface HistorySummary {
  total: number;
  accepted: number;
  rejected: number;
  byReason: Partial<Record<DecisionReason, number>>;
}

export interface FilterSummary {
  total: number;
  accepted: number;
  rejected: number;
  acceptedTest: number;
  byReason: Record<DecisionReason, number>;
  byLanguage: Record<string, { accepted: number; rejected: number }>;
  /** When nothing is accepted: why, and what to change. */
  explanation: string | null;
  /** The commits of the history, when any source brought some. */
  history?: HistorySummary;
  /** Jupyter notebooks among the files (read as the code of their cells), when there are some. */
  notebooks?: { total: number; accepted: number };
}

export const REASON_LABELS: Record<DecisionReason, string> = {
  accepted: 'accepted',
  linguist_error: 'could not be analysed',
  bot_author: 'written by a bot',
  not_text: 'not text',
  secrets: 'holds a secret',
  not_code: 'not code',
  too_large: 'too large',
  generated: 'generated',
  vendored: 'vendored',
  lots_of_digits: 'lots of digits',
  excluded_by_mask: 'excluded by your globs',
  ignored: 'ignored by .gitignore',
  type_off: 'language switched off',
  duplicate: 'duplicate',
};

const ADVICE: Record<RejectReason, (s: FilterSettings, d: FileDecision[]) => string> = {
  linguist_error: () => 'see the details of those files',
  bot_author: () => 'add commits written by people',
  not_text: () => 'add sources with source code: these files are binary',
  secrets: () => 'remove the keys and tokens from those files (and revoke them): files holding secrets are never trained on',
  not_code: () => 'add source files whose language Homecoder knows (by extension or #! line)',
  too_large: (s) => `raise the size limit above ${Math.round(s.maxBytes / 1024)} KiB`,
  generated: () => 'force-include the generated files you want with a glob',
  vendored: () => 'force-include the vendored folders you want with a glob (e.g. "vendor/**")',
  lots_of_digits: (s) => `raise the digits limit above ${s.maxDigitsRatio}`,
  excluded_by_mask: () => 'remove or narrow your exclude globs',
  ignored: () => 'turn off "apply .gitignore" or force-include those paths',
  type_off: (_s, d) => {
    const langs = [...new Set(d.filter((x) => x.reason === 'type_off').map((x) => x.language))].slice(0, 3).join(', ');
    return `switch on ${langs || 'their languages'} under Languages`;
  },
  duplicate: () => 'add files that are not copies of each other',
};

function historySummary(commits: FileDecision[]): HistorySummary {
  const byReason: HistorySummary['byReason'] = {};
  for (const d of commits) byReason[d.reason] = (byReason[d.reason] ?? 0) + 1;
  const accepted = byReason.accepted ?? 0;
  return { total: commits.length, accepted, rejected: commits.length - accepted, byReason };
}

export function summarise(all: FileDecision[], settings: FilterSettings): FilterSummary {
  const decisions = all.filter((d) => d.kind !== 'commit');
  const commits = all.filter((d) => d.kind === 'commit');
  const notebooks = decisions.filter((d) => isNotebook(d.path));
  const byReason = Object.fromEntries(['accepted', ...REJECT_REASONS].map((r) => [r, 0])) as Record<DecisionReason, number>;
  const byLanguage: FilterSummary['byLanguage'] = {};
  let acceptedTest = 0;
  for (const d of decisions) {
    byReason[d.reason]++;
    const lang = d.language ?? '(none)';
    const l = (byLanguage[lang] ??= { accepted: 0, rejected: 0 });
    if (d.accepted) {
      l.accepted++;
      if (d.test) acceptedTest++;
    } else l.rejected++;
  }
  const accepted = byReason.accepted;
  let explanation: string | null = null;
  if (decisions.length === 0)
    explanation = 'There are no files yet: add a git repository, an archive, files or a folder on the Sources page.';
  else if (accepted === 0) {
    const [top, n] = REJECT_REASONS.map((r) => [r, byReason[r]] as const).sort((a, b) => b[1] - a[1])[0];
    explanation = `All ${decisions.length} files were rejected, most of them (${n}) as ${REASON_LABELS[top]}: ${ADVICE[top](settings, decisions)}.`;
  }
  return {
    total: decisions.length,
    accepted,
    rejected: decisions.length - accepted,
    acceptedTest,
    byReason,
    byLanguage,
    explanation,
    ...(commits.length ? { history: historySummary(commits) } : {}),
    ...(notebooks.length ? { notebooks: { total: notebooks.length, accepted: notebooks.filter((d) => d.accepted).length } } : {}),
  };
}
