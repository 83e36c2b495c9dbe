// The user's filter settings, with Refact's defaults where Refact has one.
export interface FilterSettings {
  /** Files larger than this are rejected as too large (Refact: 512 KiB). */
  maxBytes: number;
  /** Digits over non-whitespace characters above this: "lots of digits" (Refact: 0.3). */
  maxDigitsRatio: number;
  /** A line longer than this marks minified code. */
  minifiedLine: number;
  /** An average line length above this marks minified code (personal-copilot: 100). */
  minifiedAverage: number;
  /** Near-duplicates: estimated Jaccard similarity at or above this (0.85). 1 keeps only exact dedup. */
  nearDuplicate: number;
  /** Globs (picomatch; without a "/" they match the file name at any depth) whose files are left out. */
  exclude: string[];
  /** Globs whose files are kept whatever else is said of them (but binary files stay out). */
  include: string[];
  /** Language switches on top of the table's defaults, by language name. */
  languages: Record<string, boolean>;
  /** Apply the repositories' own .gitignore files. */
  useGitignore: boolean;
  /** A commit of the history whose message and diffs are larger than this is rejected as too large. */
  maxCommitBytes: number;
}

export const DEFAULT_FILTER_SETTINGS: FilterSettings = {
  maxBytes: 512 * 1024,
  maxDigitsRatio: 0.3,
  minifiedLine: 1000,
  minifiedAverage: 100,
  nearDuplicate: 0.85,
  exclude: [],
  include: [],
  languages: {},
  useGitignore: true,
  maxCommitBytes: 64 * 1024,
};

export function withDefaults(s: Partial<FilterSettings> = {}): FilterSettings {
  return { ...DEFAULT_FILTER_SETTINGS, ...s, languages: { ...s.languages } };
}
