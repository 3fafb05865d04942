// The test runner's event editor: CodeMirror 6 with plain JSON, as the template editor has it
// but without the template language, completion or the server's checks (an event is checked
// by the run itself, which names the field at fault).

import { closeBrackets, closeBracketsKeymap } from "@codemirror/autocomplete";
import { defaultKeymap, history, historyKeymap } from "@codemirror/commands";
import { json, jsonParseLinter } from "@codemirror/lang-json";
import { bracketMatching, defaultHighlightStyle, foldGutter, indentOnInput, syntaxHighlighting } from "@codemirror/language";
import { type Diagnostic, linter, lintGutter, lintKeymap } from "@codemirror/lint";
import { EditorState } from "@codemirror/state";
import { EditorView, drawSelection, highlightActiveLine, highlightActiveLineGutter, keymap, lineNumbers } from "@codemirror/view";
import { cspNonce } from "../nonce";

export interface EventEditorOptions {
  doc: string;
  label: string;
  onChange: (doc: string) => void;
  /** The JSON syntax errors after each check (empty when the JSON parses). */
  onProblems: (p: Diagnostic[]) => void;
}

export function createEventEditor(parent: HTMLElement, o: EventEditorOptions): EditorView {
  const parseErrors = jsonParseLinter();
  return new EditorView({
    parent,
    state: EditorState.create({
      doc: o.doc,
      extensions: [
        cspNonce,
        lineNumbers(),
        highlightActiveLineGutter(),
        foldGutter(),
        history(),
        drawSelection(),
        indentOnInput(),
        syntaxHighlighting(defaultHighlightStyle, { fallback: true }),
        bracketMatching(),
        closeBrackets(),
        highlightActiveLine(),
        json(),
        linter(
          (view) => {
            const found = parseErrors(view);
            o.onProblems(found);
            return found;
          },
          { delay: 300 },
        ),
        lintGutter(),
        // No Tab binding: Tab leaves the editor, so the page stays keyboard-navigable.
        keymap.of([...closeBracketsKeymap, ...defaultKeymap, ...historyKeymap, ...lintKeymap]),
        EditorView.contentAttributes.of({ "aria-label": o.label }),
        EditorView.updateListener.of((u) => {
          if (u.docChanged) o.onChange(u.state.doc.toString());
        }),
      ],
    }),
  });
}

/** Replaces the whole document (a prefilled event), as one undoable change. */
export function replaceDoc(view: EditorView, text: string) {
  view.dispatch({ changes: { from: 0, to: view.state.doc.length, insert: text } });
}
