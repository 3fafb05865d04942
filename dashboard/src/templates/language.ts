// The template language inside the JSON editor: expressions in JSON strings highlighted by
// token, `{{` and `}}` matched as brackets are, and the tenant's JSON otherwise left to
// @codemirror/lang-json.

import { syntaxTree } from "@codemirror/language";
import { type EditorState, RangeSetBuilder } from "@codemirror/state";
import { Decoration, type DecorationSet, EditorView, ViewPlugin, type ViewUpdate } from "@codemirror/view";
import { type Expression, scanString } from "./scan";

/** The expressions of every JSON string in `from..to` of the document. */
export function expressionsIn(state: EditorState, from = 0, to = state.doc.length): Expression[] {
  const out: Expression[] = [];
  syntaxTree(state).iterate({
    from,
    to,
    enter(node) {
      if (node.name !== "String" && node.name !== "PropertyName") return;
      if (node.name === "PropertyName") return false;
      const inner = state.doc.sliceString(node.from + 1, Math.max(node.from + 1, node.to - 1));
      out.push(...scanString(inner, node.from + 1));
      return false;
    },
  });
  return out;
}

/** The expression the position `pos` is in or touches, if any. */
export function expressionAt(state: EditorState, pos: number): Expression | undefined {
  return expressionsIn(state, Math.max(0, pos - 1), Math.min(state.doc.length, pos + 1)).find(
    (e) => pos >= e.open && pos <= (e.close === -1 ? Infinity : e.close + 2),
  );
}

const marks: Record<string, Decoration> = {};
function mark(kind: string): Decoration {
  return (marks[kind] ??= Decoration.mark({ class: `cm-tpl-${kind}` }));
}
const expression = Decoration.mark({ class: "cm-tpl-expr" });
const matched = Decoration.mark({ class: "cm-tpl-matching" });

function decorate(view: EditorView): DecorationSet {
  const b = new RangeSetBuilder<Decoration>();
  const cursor = view.state.selection.main.head;
  for (const { from, to } of view.visibleRanges) {
    for (const e of expressionsIn(view.state, from, to)) {
      const end = e.close === -1 ? Math.max(...e.tokens.map((t) => t.to)) : e.close + 2;
      // Nested marks must be added in order of start: the whole expression, then its tokens.
      const ranges: [number, number, Decoration][] = [[e.open, end, expression]];
      const touching = e.close !== -1 && (near(cursor, e.open) || near(cursor, e.close));
      for (const t of e.tokens) {
        const m = touching && (t.kind === "open" || t.kind === "close") ? matched : mark(t.kind);
        ranges.push([t.from, t.to, m]);
      }
      ranges.sort((x, y) => x[0] - y[0] || y[1] - x[1]);
      for (const [f, t, d] of ranges) if (t > f) b.add(f, t, d);
    }
  }
  return b.finish();
}

/** Within or just beside a two-character brace starting at `at`. */
function near(cursor: number, at: number): boolean {
  return cursor >= at && cursor <= at + 2;
}

/** Highlighting and brace matching of expressions. */
export const templateLanguage = ViewPlugin.fromClass(
  class {
    decorations: DecorationSet;
    constructor(view: EditorView) {
      this.decorations = decorate(view);
    }
    update(u: ViewUpdate) {
      if (u.docChanged || u.viewportChanged || u.selectionSet || syntaxTree(u.startState) !== syntaxTree(u.state)) {
        this.decorations = decorate(u.view);
      }
    }
  },
  { decorations: (v) => v.decorations },
);
