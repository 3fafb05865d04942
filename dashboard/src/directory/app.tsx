// One application's page: settings, `client_metadata`, the client secret's rotation, deletion.
// The dashboard's own client is shown read-only: the API refuses to change or delete it
// (409), and this page is signed in through it.

import { useEffect, useState } from "preact/hooks";
import { type Api, enc } from "../api";
import { pretty, when } from "../hooks/format";
import { Failure } from "../ui";
import { AppSettings } from "./app-settings";
import { AuditLink } from "./audit";
import { BuiltInNote, isDashboardClient } from "./built-in";
import { Confirm } from "./confirm";
import { MetadataEditor } from "./metadata-editor";
import { SecretOnce } from "./secret-once";
import type { Application, RotatedSecret } from "./types";

export function AppPage({ api, id }: { api: Api; id: string }) {
  const [app, setApp] = useState<Application | null>(null);
  const [failure, setFailure] = useState<unknown>(null);

  useEffect(() => {
    let gone = false;
    setApp(null);
    setFailure(null);
    api.get<Application>(`/applications/${enc(id)}`).then(
      (a) => !gone && setApp(a),
      (e) => !gone && setFailure(e),
    );
    return () => {
      gone = true;
    };
  }, [api, id]);

  if (!app) {
    return (
      <section aria-labelledby="app-title">
        <p class="crumbs">
          <a href="#/applications">All applications</a>
        </p>
        <h1 id="app-title">Application</h1>
        {failure ? <Failure error={failure} /> : <p role="status">Loading the application…</p>}
      </section>
    );
  }

  const builtIn = isDashboardClient(app.client_id);
  const base = `/applications/${enc(app.client_id)}`;
  return (
    <section key={app.client_id} aria-labelledby="app-title" class="directory-page app-page" data-client-id={app.client_id} data-built-in={builtIn ? "true" : undefined}>
      <p class="crumbs">
        <a href="#/applications">All applications</a>
      </p>
      <h1 id="app-title">{app.name}</h1>
      <p class="muted">
        Client ID <code id="app-client-id">{app.client_id}</code>, <span id="app-type">{app.type}</span>, registered{" "}
        <time dateTime={app.created_at}>{when(app.created_at)}</time>.{" "}
        <AuditLink resourceId={app.client_id}>Changes in the audit log</AuditLink>
      </p>
      {builtIn && (
        <BuiltInNote id="app-built-in">
          The dashboard's own client, which this page signed in with: built in, so it is read-only here, and the API refuses to
          change or delete it (409). The server points its redirect URI at its public URL when it starts.
        </BuiltInNote>
      )}
      <AppSettings api={api} app={app} readOnly={builtIn} onApp={setApp} />
      {builtIn ? (
        <section aria-labelledby="client-metadata-title">
          <h2 id="client-metadata-title">Client metadata</h2>
          <pre id="client-metadata" class="json-view">
            {pretty(app.client_metadata)}
          </pre>
        </section>
      ) : (
        <MetadataEditor
          api={api}
          path={`${base}/client_metadata`}
          route="/applications/{client_id}/client_metadata"
          field="client_metadata"
          editorId="client-metadata-editor"
          prefix="client-metadata"
          title="Client metadata"
          intro="Data about the application (plan, features) that hooks and JWT templates read on each login to it."
          value={app.client_metadata}
          onSaved={(v) => setApp((old) => (old ? { ...old, client_metadata: v } : old))}
        />
      )}
      {app.type === "confidential" && !builtIn && <RotateSecret api={api} app={app} />}
      {!builtIn && (
        <section aria-labelledby="app-delete-title" class="danger-zone">
          <h2 id="app-delete-title">Delete</h2>
          <p class="muted">Deleting an application ends its logins and token requests, and removes its JWT template overrides.</p>
          <Confirm
            id="app-delete"
            start="Delete application…"
            question={
              <>
                Delete <strong>{app.name}</strong> (<code>{app.client_id}</code>)? Its users can no longer log in to it and its
                token requests fail. This cannot be undone.
              </>
            }
            yes={`Yes, delete ${app.name}`}
            failure="Not deleted"
            run={async () => {
              await api.delete(base);
              window.location.hash = "#/applications";
            }}
          />
        </section>
      )}
    </section>
  );
}

/** A new secret replaces the old one at once, so the step asks first and then shows the new
 * secret, the only time it can be seen. */
function RotateSecret({ api, app }: { api: Api; app: Application }) {
  const [secret, setSecret] = useState<string | null>(null);

  return (
    <section aria-labelledby="app-secret-title">
      <h2 id="app-secret-title">Client secret</h2>
      <p class="muted">
        Sigil keeps only a hash of the secret, so it cannot be shown again; a lost secret is replaced by rotating, which stops the
        old one at once.
      </p>
      <Confirm
        id="app-rotate-secret"
        start="Rotate secret…"
        question={
          <>
            Replace the secret of <strong>{app.name}</strong>? The current secret stops working now: the application fails to get
            tokens until it is given the new one.
          </>
        }
        yes="Yes, rotate the secret"
        failure="Not rotated"
        run={async () => {
          const r = await api.post<RotatedSecret>(`/applications/${enc(app.client_id)}/rotate-secret`);
          setSecret(r.client_secret);
          return "Rotated: the old secret no longer works.";
        }}
      />
      {secret && <SecretOnce id="app-secret" secret={secret} clientId={app.client_id} onDismiss={() => setSecret(null)} />}
    </section>
  );
}
