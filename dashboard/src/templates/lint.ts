// Validation as you type: the JSON first (in the page), then the template as the server checks
// it when saving (POST jwt-templates/preview with the draft against the sample event, which
// validates without rendering against anyone), each error underlined at its position.

import type { Diagnostic } from "@codemirror/lint";
import type { EditorView } from "@codemirror/view";
import { jsonParseLinter } from "@codemirror/lang-json";
import { type Api, ApiFailure } from "../api";
import { expressionAt } from "./language";
import { locate } from "./locate";

const jsonErrors = jsonParseLinter();

/** A positioned problem, as the page lists it under the editor. */
export interface Problem {
  from: number;
  to: number;
  message: string;
}

/** Checks the draft; `report` receives what is shown (empty when the draft is valid). */
export function templateLinter(api: Api, report: (p: Problem[]) => void) {
  return async (view: EditorView): Promise<Diagnostic[]> => {
    const text = view.state.doc.toString();
    const syntax = jsonErrors(view);
    if (syntax.length > 0) {
      report(syntax.map((d) => ({ from: d.from, to: d.to, message: `JSON: ${d.message}` })));
      return syntax;
    }
    let template: unknown;
    try {
      template = JSON.parse(text);
    } catch {
      return [];
    }
    try {
      await api.post("/jwt-templates/preview", { template });
      report([]);
      return [];
    } catch (e) {
      if (!(e instanceof ApiFailure) || e.errors.length === 0) {
        const message = e instanceof ApiFailure ? e.describe() : String(e);
        const d: Diagnostic = { from: 0, to: 0, severity: "warning", message: `Not checked: ${message}` };
        report([{ from: 0, to: 0, message: d.message }]);
        return [d];
      }
      if (view.state.doc.toString() !== text) return [];
      const out: Diagnostic[] = e.errors.map((x) => {
        const pointer = x.pointer.replace(/^\/template/, "");
        const from = locate(view.state, pointer, x.offset);
        const ex = expressionAt(view.state, from);
        // Underline the expression at fault, or one character where there is none.
        const to = ex && ex.close !== -1 && from < ex.close + 2 ? ex.close + 2 : Math.min(view.state.doc.length, from + 1);
        return { from, to: Math.max(to, from), severity: "error", message: x.message, source: x.code };
      });
      report(out.map((d) => ({ from: d.from, to: d.to, message: d.message })));
      return out;
    }
  };
}
