// One API's name and scopes (a row each: the value tokens carry and the words the consent
// page shows), saved as one PATCH that replaces the scope list; its deletion; and the form
// that registers an API.

import { useEffect, useRef, useState } from "preact/hooks";
import { type Api, enc } from "../api";
import { reason } from "../hooks/format";
import { done, failed, type Notice, NoticeLine } from "../hooks/notice";
import { BuiltInNote, MANAGEMENT_AUDIENCE } from "./built-in";
import { Confirm } from "./confirm";
import { fieldOf, itemOf, orAbsent, refuse, within } from "./fields";
import { EditorActions, GridSubmit } from "./form-parts";
import { useFormState } from "./form-state";
import type { ResourceApi, Scope } from "./types";

interface Row {
  value: string;
  description: string;
}

const rowsOf = (scopes: Scope[]): Row[] => scopes.map((s) => ({ value: s.value, description: s.description ?? "" }));

export function ApiEditor({
  api,
  resource,
  onResource,
  onDeleted,
  onClose,
}: {
  api: Api;
  resource: ResourceApi;
  onResource: (r: ResourceApi) => void;
  onDeleted: () => void;
  onClose: () => void;
}) {
  const builtIn = resource.identifier === MANAGEMENT_AUDIENCE;
  const [name, setName] = useState(resource.name);
  const [rows, setRows] = useState<Row[]>(() => rowsOf(resource.scopes));
  // The refused field, as the draft's row (`scopes[i]` counts only the rows sent).
  const [bad, setBad] = useState<{ field: string; row?: number } | null>(null);
  const [busy, setBusy] = useState(false);
  const [notice, setNotice] = useState<Notice>(null);
  const heading = useRef<HTMLHeadingElement>(null);
  const table = useRef<HTMLTableSectionElement>(null);
  // After "Add scope", focus goes to the new row's value.
  const focusRow = useRef<number | null>(null);

  useEffect(() => heading.current?.focus(), []);
  useEffect(() => {
    if (focusRow.current === null) return;
    table.current?.querySelectorAll<HTMLInputElement>(".api-scope-value")[focusRow.current]?.focus();
    focusRow.current = null;
  }, [rows.length]);

  const setRow = (i: number, r: Partial<Row>) => setRows(rows.map((x, j) => (j === i ? { ...x, ...r } : x)));

  async function submit(e: Event) {
    e.preventDefault();
    // Blank rows are not scopes; `sent[k]` remembers the draft row of the k-th scope sent.
    const sent: number[] = [];
    const scopes: Scope[] = [];
    rows.forEach((r, i) => {
      if (!r.value.trim() && !r.description.trim()) return;
      sent.push(i);
      scopes.push({ value: r.value.trim(), description: orAbsent(r.description) ?? null });
    });
    const body: Record<string, unknown> = {};
    if (name.trim() !== resource.name) body.name = name.trim();
    if (JSON.stringify(scopes) !== JSON.stringify(rowsOf(resource.scopes).map((r) => ({ value: r.value, description: r.description || null })))) {
      body.scopes = scopes.map((s) => (s.description ? s : { value: s.value }));
    }
    setBad(null);
    if (Object.keys(body).length === 0) {
      setNotice(done("Nothing to save: nothing changed."));
      return;
    }
    setBusy(true);
    setNotice(null);
    try {
      if (body.name === "") throw refuse("name", "give the API a name");
      const r = await api.patch<ResourceApi>(`/apis/${enc(resource.id)}`, body);
      onResource(r);
      setRows(rowsOf(r.scopes));
      setNotice(done(`Saved ${Object.keys(body).join(" and ")}.`));
    } catch (err) {
      const field = fieldOf(err) ?? "";
      const item = itemOf(field);
      const row = item && item[0] === "scopes" ? sent[item[1]] : undefined;
      setBad({ field, row });
      const where = row === undefined ? "" : ` (scope ${row + 1})`;
      setNotice({ ok: false, text: `Not saved: ${reason(err)}${where}` });
      if (row !== undefined) {
        const part = field.endsWith(".description") ? ".api-scope-description" : ".api-scope-value";
        table.current?.querySelectorAll<HTMLInputElement>(part)[row]?.focus();
      }
    } finally {
      setBusy(false);
    }
  }

  const rowInvalid = (i: number, part: "value" | "description") =>
    bad?.row === i && (bad.field.endsWith(`.${part}`) || (part === "value" && !bad.field.includes("."))) ? "true" : undefined;

  return (
    <section id="api-editor" aria-labelledby="api-editor-title" class="editor-panel" data-api-id={resource.id}>
      <h2 id="api-editor-title" ref={heading} tabIndex={-1}>
        API {resource.name}
      </h2>
      <p class="muted">
        Identifier <code id="api-identifier">{resource.identifier}</code>: the <code>aud</code> its access tokens carry, fixed once
        registered.
      </p>
      {builtIn && (
        <BuiltInNote id="api-built-in">
          The management API this dashboard calls (scope <code>manage</code>): built in, so it is read-only here, and the API
          refuses to change or delete it (409).
        </BuiltInNote>
      )}
      <form id="api-form" noValidate onSubmit={submit} onInput={() => setBad(null)}>
        <fieldset class="plain" disabled={builtIn}>
          <legend class="sr-only">The API {resource.name}</legend>
          <div class="field-grid">
            <label for="api-name">Name</label>
            <input
              id="api-name"
              autocomplete="off"
              value={name}
              aria-invalid={bad?.field === "name" ? "true" : undefined}
              onInput={(e) => setName(e.currentTarget.value)}
            />
          </div>
          <table id="api-scopes" class="data scopes">
            <caption>Scopes (saving replaces the list)</caption>
            <thead>
              <tr>
                <th scope="col">Value</th>
                <th scope="col">Description, shown on the consent page</th>
                <th scope="col">
                  <span class="sr-only">Action</span>
                </th>
              </tr>
            </thead>
            <tbody ref={table}>
              {rows.length === 0 && (
                <tr>
                  <td colSpan={3} class="muted">
                    No scopes.
                  </td>
                </tr>
              )}
              {rows.map((r, i) => (
                <tr key={i} class="api-scope" data-index={i}>
                  <td>
                    <input
                      class="api-scope-value"
                      autocomplete="off"
                      spellcheck={false}
                      aria-label={`Scope ${i + 1}: value`}
                      value={r.value}
                      aria-invalid={rowInvalid(i, "value")}
                      onInput={(e) => setRow(i, { value: e.currentTarget.value })}
                    />
                  </td>
                  <td>
                    <input
                      class="api-scope-description"
                      autocomplete="off"
                      aria-label={`Scope ${i + 1}: description`}
                      value={r.description}
                      aria-invalid={rowInvalid(i, "description")}
                      onInput={(e) => setRow(i, { description: e.currentTarget.value })}
                    />
                  </td>
                  <td>
                    <button
                      type="button"
                      class="api-scope-remove"
                      aria-label={`Remove scope ${i + 1}${r.value ? ` (${r.value})` : ""}`}
                      onClick={() => setRows(rows.filter((_, j) => j !== i))}
                    >
                      Remove
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
          <p class="muted hint">Values are printable ASCII without spaces, such as read:reports; at most 200 scopes.</p>
        </fieldset>
        <EditorActions prefix="api" builtIn={builtIn} busy={busy} saveText="Save API" onClose={onClose}>
          <button
            id="api-scope-add"
            type="button"
            onClick={() => {
              focusRow.current = rows.length;
              setRows([...rows, { value: "", description: "" }]);
            }}
          >
            Add scope
          </button>
        </EditorActions>
      </form>
      <NoticeLine id="api-notice" notice={notice} />
      {!builtIn && (
        <Confirm
          id="api-delete"
          start="Delete API…"
          question={
            <>
              Delete the API <strong>{resource.name}</strong> (<code>{resource.identifier}</code>)? Applications can no longer get
              tokens for it; tokens already issued stay valid until they expire. This cannot be undone.
            </>
          }
          yes={`Yes, delete ${resource.name}`}
          failure="Not deleted"
          run={async () => {
            await api.delete(`/apis/${enc(resource.id)}`);
            onDeleted();
          }}
        />
      )}
    </section>
  );
}

export function ApiCreate({ api, onCreated }: { api: Api; onCreated: (r: ResourceApi) => void }) {
  const [identifier, setIdentifier] = useState("");
  const [name, setName] = useState("");
  const { setBad, busy, notice, setNotice, form, attempt, invalid } = useFormState();

  function submit(e: Event) {
    e.preventDefault();
    attempt(
      async () => {
        if (!identifier.trim()) throw refuse("identifier", "give the API an identifier, such as https://api.example.com");
        if (!name.trim()) throw refuse("name", "give the API a name");
        const r = await api.post<ResourceApi>("/apis", { identifier: identifier.trim(), name: name.trim() });
        setIdentifier("");
        setName("");
        setNotice(done(`Registered ${r.name} (${r.identifier}); add its scopes in the editor above.`));
        onCreated(r);
      },
      (err) => failed("Not registered", err),
      (field) => (within(field, "identifier") ? "api-create-identifier" : within(field, "name") ? "api-create-name" : undefined),
    );
  }

  return (
    <section aria-labelledby="api-create-title" class="create">
      <h2 id="api-create-title">Register an API</h2>
      <form id="api-create-form" ref={form} class="field-grid" noValidate onSubmit={submit} onInput={() => setBad(undefined)}>
        <label for="api-create-identifier">Identifier</label>
        <div>
          <input
            id="api-create-identifier"
            autocomplete="off"
            spellcheck={false}
            value={identifier}
            aria-invalid={invalid("identifier")}
            aria-describedby="api-create-identifier-help"
            onInput={(e) => setIdentifier(e.currentTarget.value)}
          />
          <p id="api-create-identifier-help" class="muted hint">
            The audience its tokens carry, usually its URL (https://api.example.com): unique, without spaces, fixed once registered.
          </p>
        </div>
        <label for="api-create-name">Name</label>
        <input
          id="api-create-name"
          autocomplete="off"
          value={name}
          aria-invalid={invalid("name")}
          onInput={(e) => setName(e.currentTarget.value)}
        />
        <GridSubmit id="api-create-submit" busy={busy} busyText="Registering…" text="Register API" />
      </form>
      <NoticeLine id="api-create-notice" notice={notice} />
    </section>
  );
}
