// The APIs page: the tenant's resource servers (the audiences of access tokens), paged on the
// server; one at a time opens in an editor below the list (name and scopes; the identifier is
// fixed once created); registering one. The management API is built in and shown read-only.

import { useState } from "preact/hooks";
import type { Api } from "../api";
import { ListBody, ListFooter } from "../list-parts";
import { usePaged } from "../paged";
import { ApiCreate, ApiEditor } from "./api-editor";
import { BuiltInBadge, MANAGEMENT_AUDIENCE } from "./built-in";
import { EditButton, useOpenedEditor } from "./opened-editor";
import type { ResourceApi } from "./types";

export function ApisPage({ api }: { api: Api }) {
  const [generation, setGeneration] = useState(0);
  const apis = usePaged<ResourceApi>(api, "/apis", { generation });
  const editor = useOpenedEditor<ResourceApi>(apis, "apis-title");
  const open = editor.open;

  return (
    <section aria-labelledby="apis-title" class="directory-page">
      <h1 id="apis-title" tabIndex={-1}>
        APIs
      </h1>
      <p class="muted">
        Your resource servers. An application asks for an access token for one by its identifier (<code>audience</code> or{" "}
        <code>resource</code>), with the scopes it defines; the consent page describes each scope in its words.
      </p>
      <ListBody paged={apis} loadingText="Loading the APIs…" emptyId="apis-empty" emptyText="No APIs yet: register one below.">
        <div class="table-scroll" role="region" aria-labelledby="apis-title" tabIndex={0}>
          <table id="apis-list" class="data">
            <caption class="sr-only">The tenant's APIs</caption>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Identifier (audience)</th>
                <th scope="col">Scopes</th>
                <th scope="col">
                  <span class="sr-only">Action</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {(apis.items ?? []).map((a) => {
                const builtIn = a.identifier === MANAGEMENT_AUDIENCE;
                return (
                  <tr key={a.id} data-api-id={a.id} data-identifier={a.identifier} data-built-in={builtIn ? "true" : undefined}>
                    <th scope="row">
                      {a.name} {builtIn && <BuiltInBadge />}
                    </th>
                    <td>
                      <code>{a.identifier}</code>
                    </td>
                    <td class="api-scopes">
                      {a.scopes.length ? a.scopes.map((s) => <code class="chip" title={s.description ?? undefined}>{s.value}</code>) : <span class="muted">none</span>}
                    </td>
                    <td>
                      <EditButton prefix="api" row={a} what={`the API ${a.name}`} builtIn={builtIn} editor={editor} />
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      </ListBody>
      <ListFooter paged={apis} moreId="apis-more" moreText="more APIs" />
      {open && (
        <ApiEditor
          key={open.id}
          api={api}
          resource={open}
          onResource={editor.saved}
          onDeleted={editor.deleted}
          onClose={editor.close}
        />
      )}
      <ApiCreate
        api={api}
        onCreated={(r) => {
          setGeneration((g) => g + 1);
          // Straight to its scopes, which creation leaves empty.
          editor.show(r);
        }}
      />
    </section>
  );
}
