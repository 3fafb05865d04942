// Where an error the API reports (a JSON pointer to a string, RFC 6901, and a character offset
// in that string's value) is in the editor's text.

import { syntaxTree } from "@codemirror/language";
import type { EditorState } from "@codemirror/state";
import type { SyntaxNode } from "@lezer/common";

const VALUES = new Set(["Object", "Array", "String", "Number", "True", "False", "Null"]);

function children(node: SyntaxNode): SyntaxNode[] {
  const out: SyntaxNode[] = [];
  for (let c = node.firstChild; c; c = c.nextSibling) out.push(c);
  return out;
}

function decodePointer(pointer: string): string[] {
  if (pointer === "") return [];
  return pointer
    .slice(1)
    .split("/")
    .map((s) => s.replace(/~1/g, "/").replace(/~0/g, "~"));
}

/** The document position of character `offset` of the string at `pointer`; the start of the
 * document when the pointer leads nowhere (the API and the editor disagree only while the
 * text changes under a request). */
export function locate(state: EditorState, pointer: string, offset: number): number {
  const top = syntaxTree(state).topNode;
  let node: SyntaxNode | null = children(top).find((c) => VALUES.has(c.name)) ?? null;
  for (const segment of decodePointer(pointer)) {
    if (!node) break;
    if (node.name === "Object") {
      const prop: SyntaxNode | undefined = children(node).find((p) => {
        if (p.name !== "Property") return false;
        const name = p.getChild("PropertyName");
        return name !== null && decodeString(state.doc.sliceString(name.from, name.to)) === segment;
      });
      node = prop ? (children(prop).filter((c) => VALUES.has(c.name)).pop() ?? null) : null;
    } else if (node.name === "Array") {
      node = children(node).filter((c) => VALUES.has(c.name))[Number(segment)] ?? null;
    } else {
      node = null;
    }
  }
  if (!node) return 0;
  if (node.name !== "String") return node.from;
  return positionOfChar(state.doc.sliceString(node.from, node.to), offset) + node.from;
}

function decodeString(source: string): string | undefined {
  try {
    return JSON.parse(source);
  } catch {
    return undefined;
  }
}

/** The source position (from the opening quote) of decoded character `offset` of a JSON string
 * literal: escapes count as one character, a surrogate pair (`\ud83d\ude00` or the character
 * itself) as one, as the server counts Unicode scalar values. */
export function positionOfChar(source: string, offset: number): number {
  let i = 1;
  let n = 0;
  while (i < source.length - 1 && n < offset) {
    if (source[i] === "\\") {
      if (source[i + 1] === "u") {
        const code = parseInt(source.slice(i + 2, i + 6), 16);
        i += 6;
        if (code >= 0xd800 && code <= 0xdbff && source.startsWith("\\u", i)) i += 6;
      } else {
        i += 2;
      }
    } else {
      const code = source.codePointAt(i) ?? 0;
      i += code > 0xffff ? 2 : 1;
    }
    n++;
  }
  return i;
}
