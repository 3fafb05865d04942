// Autocomplete inside `{{ }}`: the event's standard fields, and the metadata key paths that
// exist in this tenant (GET /t/{tenant}/api/metadata-keys, read once per editor).

import type { Completion, CompletionContext, CompletionResult, CompletionSource } from "@codemirror/autocomplete";
import { standardPaths } from "./fields";
import type { EditorState } from "@codemirror/state";

/** The options: standard paths first, then the tenant's metadata paths. */
export function pathOptions(metadata: string[]): Completion[] {
  const standard = standardPaths().map<Completion>((label) => ({
    label,
    type: label.includes(".") ? "property" : "namespace",
    detail: "standard",
  }));
  const known = new Set(standardPaths());
  const own = metadata
    .filter((p) => !known.has(p))
    .map<Completion>((label) => ({ label, type: "variable", detail: "metadata", boost: 1 }));
  return [...own, ...standard];
}

/**
 * Where the expression open at `pos` starts (its `{{`), if `pos` is inside one: found on the
 * line's text rather than the syntax tree, because while a claim is typed its string is not
 * closed yet, and JSON strings never span lines.
 */
export function openExpression(state: EditorState, pos: number): number | null {
  const line = state.doc.lineAt(pos);
  const text = line.text.slice(0, pos - line.from);
  const open = text.lastIndexOf("{{");
  if (open < 0 || text.includes("}}", open + 2)) return null;
  // `\{{` in the source is the template's escaped, literal `{{`.
  if (text.slice(Math.max(0, open - 2), open) === "\\\\") return null;
  let quotes = 0;
  for (let i = 0; i < open; i++) {
    if (text[i] === "\\") i++;
    else if (text[i] === '"') quotes++;
  }
  // Inside a string when an odd number of quotes precede it.
  return quotes % 2 === 1 ? line.from + open : null;
}

/** Offers paths where a path may be typed: inside an expression, after `{{` or `||`. */
export function pathCompletions(options: () => Completion[]): CompletionSource {
  return (ctx: CompletionContext): CompletionResult | null => {
    const open = openExpression(ctx.state, ctx.pos);
    if (open === null) return null;
    const word = ctx.matchBefore(/[A-Za-z0-9_.-]*/);
    if (!word) return null;
    const before = ctx.state.sliceDoc(open + 2, word.from).trimEnd();
    // A path starts the expression or follows `||`; elsewhere (inside a literal) nothing fits.
    if (before !== "" && !before.endsWith("||")) return null;
    return { from: word.from, options: options(), validFor: /^[A-Za-z0-9_.-]*$/ };
  };
}
