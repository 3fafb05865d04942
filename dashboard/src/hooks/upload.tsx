// Uploading a hook's `.wasm`: by drag and drop, or the file input, which keyboard users (and
// tests) use. The server validates, compiles and world-checks before storing anything, so the
// only feedback worth waiting for is its answer.

import { useRef, useState } from "preact/hooks";
import { type Api, enc } from "../api";
import { bytes } from "./format";
import { done, failed, type Notice, NoticeLine } from "./notice";
import type { Uploaded } from "./types";

/** The server's `MAX_UPLOAD_BYTES`: a larger body is cut off by the body limit before the API
 * can answer with its own message, so the page says it first. */
const MAX_UPLOAD = 4 << 20;

function isWasm(f: File): boolean {
  return f.name.toLowerCase().endsWith(".wasm") || f.type === "application/wasm";
}

/** A name the API takes (printable ASCII without spaces), suggested from the file's. */
function nameFrom(file: string): string {
  return file
    .replace(/\.wasm$/i, "")
    .replace(/[^\x21-\x7e]+/g, "-")
    .slice(0, 100);
}

export function Upload({ api, onUploaded }: { api: Api; onUploaded: (u: Uploaded) => void }) {
  const [name, setName] = useState("");
  const [file, setFile] = useState<File | null>(null);
  const [over, setOver] = useState(false);
  const [busy, setBusy] = useState(false);
  const [notice, setNotice] = useState<Notice>(null);
  const [uploaded, setUploaded] = useState<Uploaded | null>(null);
  const input = useRef<HTMLInputElement>(null);
  // dragenter and dragleave also fire for the zone's children: count them, so the highlight
  // does not flicker off while the pointer crosses the label.
  const depth = useRef(0);

  function choose(f: File | null | undefined) {
    setUploaded(null);
    if (!f) {
      setFile(null);
      return;
    }
    if (!isWasm(f)) {
      setFile(null);
      setNotice({ ok: false, text: `Not a hook: ${f.name} is not a .wasm file.` });
      return;
    }
    setNotice(null);
    setFile(f);
    if (!name.trim()) setName(nameFrom(f.name));
  }

  async function submit(e: Event) {
    e.preventDefault();
    setUploaded(null);
    const n = name.trim();
    if (!n) return setNotice({ ok: false, text: "Not uploaded: name: give the hook a name." });
    if (!file) return setNotice({ ok: false, text: "Not uploaded: wasm: choose or drop a .wasm file." });
    if (file.size > MAX_UPLOAD) {
      return setNotice({ ok: false, text: `Not uploaded: wasm: ${file.name} is ${bytes(file.size)}; a hook may be at most ${bytes(MAX_UPLOAD)}.` });
    }
    setBusy(true);
    setNotice(null);
    try {
      const u = await api.upload<Uploaded>(`/hooks/${enc(n)}/versions`, await file.arrayBuffer(), "application/wasm");
      setUploaded(u);
      setNotice(done(`Uploaded ${u.name} version ${u.version.version} (${u.version.world}, ${bytes(u.version.size)}). It is not deployed yet. `));
      setFile(null);
      if (input.current) input.current.value = "";
      onUploaded(u);
    } catch (err) {
      setNotice(failed("Not uploaded", err));
    } finally {
      setBusy(false);
    }
  }

  function drag(e: DragEvent, kind: "enter" | "over" | "leave") {
    e.preventDefault();
    if (kind === "enter") depth.current++;
    if (kind === "leave") depth.current = Math.max(0, depth.current - 1);
    if (kind === "over" && e.dataTransfer) e.dataTransfer.dropEffect = "copy";
    setOver(depth.current > 0);
  }

  function drop(e: DragEvent) {
    e.preventDefault();
    depth.current = 0;
    setOver(false);
    const files = e.dataTransfer?.files;
    if (files && files.length > 1) {
      setNotice({ ok: false, text: "Not a hook: drop one .wasm file at a time." });
      return;
    }
    choose(files?.[0]);
  }

  return (
    <form id="hook-upload" class="upload" onSubmit={submit} aria-labelledby="hook-upload-title">
      <h2 id="hook-upload-title">Upload a version</h2>
      <p class="muted">
        A new name creates the hook; an existing one gets its next version. Nothing runs until you deploy it and bind it in
        the <a href="#/flow">post-login flow</a>.
      </p>
      <div class="inline-form">
        <label for="hook-upload-name">Hook name</label>
        <input
          id="hook-upload-name"
          value={name}
          maxLength={100}
          autocomplete="off"
          spellcheck={false}
          onInput={(e) => setName(e.currentTarget.value)}
          placeholder="crm-enrich"
        />
      </div>
      <div
        id="hook-drop"
        class={over ? "drop-zone over" : "drop-zone"}
        onDragEnter={(e) => drag(e, "enter")}
        onDragOver={(e) => drag(e, "over")}
        onDragLeave={(e) => drag(e, "leave")}
        onDrop={drop}
      >
        <p>{over ? "Release to choose this file." : "Drop a .wasm file here, or choose one:"}</p>
        <label for="hook-upload-file">Component or core module (.wasm)</label>{" "}
        <input
          ref={input}
          type="file"
          id="hook-upload-file"
          accept=".wasm,application/wasm"
          onChange={(e) => choose(e.currentTarget.files?.[0])}
        />
        <p id="hook-upload-chosen" class="muted">
          {file ? `Chosen: ${file.name} (${bytes(file.size)})` : "No file chosen."}
        </p>
      </div>
      <div class="actions">
        <button id="hook-upload-submit" type="submit" class="primary" disabled={busy}>
          Upload
        </button>
        <span id="hook-upload-status" role="status" class="muted">
          {busy && file ? `Uploading ${file.name}: the server validates and compiles it…` : ""}
        </span>
      </div>
      <NoticeLine id="hook-upload-notice" notice={notice}>
        {uploaded && (
          <a id="hook-upload-link" href={`#/hooks/${uploaded.hook_id}`}>
            Open {uploaded.name} to deploy it
          </a>
        )}
      </NoticeLine>
    </form>
  );
}
