// A repository's own rules about its files: `.gitignore` (the `ignore` package, nested files
// applied from the root down) and `.gitattributes` (linguist-generated, linguist-vendored,
// -diff, binary), each found at any depth and applying below its folder.
import ignore, { type Ignore } from 'ignore';
import picomatch from 'picomatch';

interface IgnoreFile {
  dir: string; // '' for the root, else 'a/b/'
  file: string;
  ig: Ignore;
}

interface AttrRule {
  dir: string;
  file: string;
  pattern: string;
  match: (path: string) => boolean;
  attrs: Map<string, boolean>;
}

export interface AttributeVerdict {
  value: boolean;
  /** Where it was said: ".gitattributes: *.gen.ts linguist-generated". */
  origin: string;
}

const dirOf = (path: string) => path.slice(0, path.lastIndexOf('/') + 1);

export class RepoRules {
  private ignores: IgnoreFile[] = [];
  private attrs: AttrRule[] = [];

  /** `files`: every path of the source with a reader for the few rule files. */
  constructor(files: Iterable<{ path: string; text: () => string }>) {
    for (const f of files) {
      const base = f.path.slice(f.path.lastIndexOf('/') + 1);
      if (base === '.gitignore') this.ignores.push({ dir: dirOf(f.path), file: f.path, ig: ignore().add(f.text()) });
      else if (base === '.gitattributes') this.addAttributes(dirOf(f.path), f.path, f.text());
    }
    // Root first, deeper later: a deeper file's rules override.
    this.ignores.sort((a, b) => a.dir.length - b.dir.length);
    this.attrs.sort((a, b) => a.dir.length - b.dir.length);
  }

  private addAttributes(dir: string, file: string, text: string): void {
    for (const raw of text.split(/\r?\n/)) {
      const line = raw.trim();
      if (!line || line.startsWith('#') || line.startsWith('[attr]')) continue;
      const [pattern, ...rest] = line.split(/\s+/);
      const attrs = new Map<string, boolean>();
      for (const a of rest) {
        if (a.startsWith('!')) continue; // unspecified: leaves earlier rules alone
        if (a.startsWith('-')) attrs.set(a.slice(1), false);
        else if (a.includes('=')) {
          const [k, v] = a.split('=');
          attrs.set(k, v !== 'false' && v !== '0');
        } else attrs.set(a, true);
      }
      if (attrs.get('binary')) attrs.set('diff', false);
      if (!attrs.size || pattern.endsWith('/')) continue; // attributes never match folders
      const anchored = pattern.includes('/');
      const glob = pattern.replace(/^\//, '');
      const m = picomatch(glob, { dot: true, basename: !anchored });
      this.attrs.push({ dir, file, pattern, attrs, match: m });
    }
  }

  /** The .gitignore rule that ignores `path`, or null. */
  ignoredBy(path: string): string | null {
    let verdict: string | null = null;
    for (const f of this.ignores) {
      if (!path.startsWith(f.dir)) continue;
      const r = f.ig.test(path.slice(f.dir.length));
      if (r.ignored) verdict = `${f.file}: ${r.rule?.pattern ?? ''}`.trim();
      else if (r.unignored) verdict = null;
    }
    return verdict;
  }

  /** A gitattribute's value for `path` (later and deeper rules win), or null when unset. */
  attribute(path: string, name: string): AttributeVerdict | null {
    let verdict: AttributeVerdict | null = null;
    for (const r of this.attrs) {
      if (!path.startsWith(r.dir) || !r.attrs.has(name)) continue;
      if (!r.match(path.slice(r.dir.length))) continue;
      const value = r.attrs.get(name)!;
      verdict = { value, origin: `${r.file}: ${r.pattern} ${value ? '' : '-'}${name}` };
    }
    return verdict;
  }
}
