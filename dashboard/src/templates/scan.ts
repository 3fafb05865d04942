// Finds the `{{ ... }}` expressions in the source text of one JSON string and splits them into
// tokens, for highlighting and brace matching. The server's parser (src/templates/expr.rs) is
// the authority on what is valid; this only has to agree with it on where things are.

import { isRoot } from "./fields";

/** A token of an expression, by absolute position in the document. */
export interface Token {
  from: number;
  to: number;
  kind: "open" | "close" | "unclosed" | "op" | "literal" | "number" | "keyword" | "root" | "unknown-root" | "field" | "dot";
}

/** One expression: where its `{{` and `}}` are (`close` is -1 when it is not closed). */
export interface Expression {
  open: number;
  close: number;
  tokens: Token[];
}



/**
 * Scans `text`, the source of a JSON string without its quotes, which starts at document
 * position `at`.
 */
export function scanString(text: string, at: number): Expression[] {
  const out: Expression[] = [];
  let i = 0;
  while (i < text.length - 1) {
    if (text[i] === "{" && text[i + 1] === "{") {
      // `\{{` (in JSON source `\\{{`) is a literal `{{`.
      let backslashes = 0;
      for (let k = i - 1; k >= 0 && text[k] === "\\"; k--) backslashes++;
      if (backslashes >= 2) {
        i += 2;
        continue;
      }
      const e = scanExpression(text, i, at);
      out.push(e);
      i = e.close === -1 ? text.length : e.close - at + 2;
      continue;
    }
    i++;
  }
  return out;
}

function scanExpression(text: string, start: number, at: number): Expression {
  const tokens: Token[] = [];
  let i = start + 2;
  let first = true;
  while (i < text.length) {
    const c = text[i];
    if (c === "}" && text[i + 1] === "}") {
      tokens.unshift({ from: at + start, to: at + start + 2, kind: "open" });
      tokens.push({ from: at + i, to: at + i + 2, kind: "close" });
      return { open: at + start, close: at + i, tokens };
    }
    if (c === " " || c === "\\" && (text[i + 1] === "t" || text[i + 1] === "n")) {
      i += c === " " ? 1 : 2;
      continue;
    }
    if (c === "|" && text[i + 1] === "|") {
      tokens.push({ from: at + i, to: at + i + 2, kind: "op" });
      i += 2;
      first = true;
      continue;
    }
    // Literals: 'text', or "text" written \"text\" in the JSON source.
    if (c === "'" || (c === "\\" && text[i + 1] === '"')) {
      const quote = c === "'" ? "'" : '\\"';
      const end = endOfLiteral(text, i + quote.length, quote);
      tokens.push({ from: at + i, to: at + end, kind: "literal" });
      i = end;
      first = false;
      continue;
    }
    const num = /^-?\d+(\.\d+)?([eE][-+]?\d+)?/.exec(text.slice(i));
    if (num && first) {
      tokens.push({ from: at + i, to: at + i + num[0].length, kind: "number" });
      i += num[0].length;
      first = false;
      continue;
    }
    const path = /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*\.?/.exec(text.slice(i));
    if (path) {
      const segments = path[0].split(".");
      let p = i;
      segments.forEach((s, n) => {
        if (n > 0) {
          tokens.push({ from: at + p, to: at + p + 1, kind: "dot" });
          p += 1;
        }
        if (s.length === 0) return;
        let kind: Token["kind"] = "field";
        if (n === 0) {
          if (segments.length === 1 && (s === "true" || s === "false")) kind = "keyword";
          else kind = isRoot(s) ? "root" : "unknown-root";
        }
        tokens.push({ from: at + p, to: at + p + s.length, kind });
        p += s.length;
      });
      i += path[0].length;
      first = false;
      continue;
    }
    i++;
  }
  tokens.unshift({ from: at + start, to: at + start + 2, kind: "unclosed" });
  return { open: at + start, close: -1, tokens };
}

/** Where a literal that opened before `j` ends (after its closing quote), in JSON source: a
 * decoded backslash (`\\` in the source) escapes the decoded character after it. */
function endOfLiteral(text: string, j: number, quote: string): number {
  while (j < text.length) {
    if (text.startsWith("\\\\", j)) {
      j += 2;
      j += text[j] === "\\" ? 2 : 1;
      continue;
    }
    if (text.startsWith(quote, j)) return j + quote.length;
    j += text[j] === "\\" ? 2 : 1;
  }
  return text.length;
}
