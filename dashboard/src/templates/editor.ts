// The template editor: CodeMirror 6 with JSON, the template language, autocomplete and
// validation. The page owns the view; this only assembles it.

import { autocompletion, completionKeymap, type Completion } from "@codemirror/autocomplete";
import { defaultKeymap, history, historyKeymap } from "@codemirror/commands";
import { json } from "@codemirror/lang-json";
import { bracketMatching, defaultHighlightStyle, foldGutter, indentOnInput, syntaxHighlighting } from "@codemirror/language";
import { linter, lintGutter, lintKeymap } from "@codemirror/lint";
import { EditorState, type Extension } from "@codemirror/state";
import { EditorView, drawSelection, highlightActiveLine, highlightActiveLineGutter, keymap, lineNumbers } from "@codemirror/view";
import type { Api } from "../api";
import { cspNonce } from "../nonce";
import { pathCompletions } from "./complete";
import { templateLanguage } from "./language";
import { type Problem, templateLinter } from "./lint";

export interface EditorOptions {
  doc: string;
  api: Api;
  /** The completion options (standard fields and the tenant's metadata paths). */
  options: () => Completion[];
  onProblems: (p: Problem[]) => void;
  onChange: (doc: string) => void;
  label: string;
}

export function editorExtensions(o: EditorOptions): Extension[] {
  return [
    cspNonce,
    lineNumbers(),
    highlightActiveLineGutter(),
    foldGutter(),
    history(),
    drawSelection(),
    indentOnInput(),
    syntaxHighlighting(defaultHighlightStyle, { fallback: true }),
    bracketMatching(),
    highlightActiveLine(),
    json(),
    templateLanguage,
    autocompletion({ override: [pathCompletions(o.options)], icons: false }),
    linter(templateLinter(o.api, o.onProblems), { delay: 300 }),
    lintGutter(),
    // No Tab binding: Tab leaves the editor, so the page stays keyboard-navigable. No
    // bracket closing either: a `{` typed in a template string is the start of `{{`.
    keymap.of([...defaultKeymap, ...historyKeymap, ...completionKeymap, ...lintKeymap]),
    EditorView.contentAttributes.of({ "aria-label": o.label }),
    EditorView.updateListener.of((u) => {
      if (u.docChanged) o.onChange(u.state.doc.toString());
    }),
  ];
}

export function createEditor(parent: HTMLElement, o: EditorOptions): EditorView {
  return new EditorView({
    parent,
    state: EditorState.create({ doc: o.doc, extensions: editorExtensions(o) }),
  });
}

/** "line L, column C" of a position (both from 1), as the problems list shows it. */
export function lineAndColumn(view: EditorView, pos: number): string {
  const line = view.state.doc.lineAt(pos);
  return `line ${line.number}, column ${pos - line.from + 1}`;
}
