// The Content-Security-Policy nonce of this page's response, which the server writes into the
// `csp-nonce` meta element: CodeMirror mounts its generated styles in a `<style>` element, which
// the policy admits only with this nonce.

import { EditorView } from "@codemirror/view";

export function styleNonce(): string {
  return document.querySelector<HTMLMetaElement>('meta[name="csp-nonce"]')?.content ?? "";
}

/** The editor extension that gives CodeMirror the nonce. */
export const cspNonce = EditorView.cspNonce.of(styleNonce());
