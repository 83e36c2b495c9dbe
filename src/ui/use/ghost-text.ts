// Ghost-text completion for CodeMirror 6: after the user pauses typing, ask for a
// completion of the text around the cursor and show it greyed after the cursor; Tab
// accepts it, typing or moving dismisses it. A newer request aborts the older one.
import { StateEffect, StateField, Prec, type Extension } from '@codemirror/state';
import { Decoration, EditorView, ViewPlugin, WidgetType, keymap, type ViewUpdate } from '@codemirror/view';

interface Ghost {
  pos: number;
  text: string;
}

const setGhost = StateEffect.define<Ghost | null>();

class GhostWidget extends WidgetType {
  constructor(readonly text: string) {
    super();
  }
  override eq(other: GhostWidget): boolean {
    return other.text === this.text;
  }
  override toDOM(): HTMLElement {
    const span = document.createElement('span');
    span.className = 'cm-ghost';
    span.dataset.testid = 'ghost-text';
    span.textContent = this.text;
    return span;
  }
}

const ghostField = StateField.define<Ghost | null>({
  create: () => null,
  update(value, tr) {
    for (const e of tr.effects) if (e.is(setGhost)) return e.value;
    return tr.docChanged || tr.selection ? null : value;
  },
  provide: (f) =>
    EditorView.decorations.from(f, (g) =>
      g?.text ? Decoration.set([Decoration.widget({ widget: new GhostWidget(g.text), side: 1 }).range(g.pos)]) : Decoration.none,
    ),
});

export type CompletionFetcher = (prefix: string, suffix: string, signal: AbortSignal) => Promise<string>;

export function ghostText(fetchCompletion: CompletionFetcher, opts: { delayMs?: number; onError?: (e: Error) => void } = {}): Extension {
  const plugin = ViewPlugin.fromClass(
    class {
      private timer?: ReturnType<typeof setTimeout>;
      private ctl?: AbortController;
      constructor(readonly view: EditorView) {}
      update(u: ViewUpdate) {
        if (!u.docChanged) return;
        clearTimeout(this.timer);
        this.ctl?.abort();
        this.timer = setTimeout(() => void this.request(), opts.delayMs ?? 200);
      }
      async request() {
        const view = this.view;
        const state = view.state;
        const pos = state.selection.main.head;
        const ctl = (this.ctl = new AbortController());
        try {
          const text = await fetchCompletion(state.doc.sliceString(0, pos), state.doc.sliceString(pos), ctl.signal);
          // Show it only if nothing changed meanwhile.
          if (!ctl.signal.aborted && view.state.doc === state.doc && view.state.selection.main.head === pos)
            view.dispatch({ effects: setGhost.of({ pos, text }) });
        } catch (e) {
          if ((e as Error).name !== 'AbortError') opts.onError?.(e as Error);
        }
      }
      destroy() {
        clearTimeout(this.timer);
        this.ctl?.abort();
      }
    },
  );
  const accept = Prec.highest(
    keymap.of([
      {
        key: 'Tab',
        run: (view) => {
          const g = view.state.field(ghostField);
          if (!g?.text) return false;
          view.dispatch({ changes: { from: g.pos, insert: g.text }, selection: { anchor: g.pos + g.text.length } });
          return true;
        },
      },
      {
        key: 'Escape',
        run: (view) => {
          if (!view.state.field(ghostField)) return false;
          view.dispatch({ effects: setGhost.of(null) });
          return true;
        },
      },
    ]),
  );
  return [ghostField, plugin, accept, EditorView.baseTheme({ '.cm-ghost': { color: '#9aa3b2', whiteSpace: 'pre' } })];
}
