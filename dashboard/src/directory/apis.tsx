// The APIs page: the tenant's resource servers (the audiences of access tokens), paged on the
// server and found by the start of their name; one at a time opens in an editor below the list
// (name and scopes; the identifier is fixed once created); registering one. The management API
// is built in and shown read-only.

import type { Api } from "../api";
import { ListBody, ListFooter } from "../list-parts";
import { usePaged } from "../paged";
import { ApiCreate, ApiEditor } from "./api-editor";
import { BuiltInBadge, MANAGEMENT_AUDIENCE } from "./built-in";
import { BY_NAME_PREFIX, describeByName, FindForm, type FoundMemory, NOTHING_FOUND, useFound } from "./find-form";
import { EditButton, useOpenedEditor } from "./opened-editor";
import type { ResourceApi } from "./types";

const remembered: FoundMemory = { found: NOTHING_FOUND };

const FIND_BY = [BY_NAME_PREFIX];

const describe = describeByName("APIs", "API");

export function ApisPage({ api }: { api: Api }) {
  const { found, query, generation, apply, restart } = useFound(remembered);
  const apis = usePaged<ResourceApi>(api, "/apis", { query, generation });
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
      <FindForm prefix="apis" label="Find an API" options={FIND_BY} applied={found} onApply={apply} describe={describe}>
        By the start of the name, letters A to Z in any case ("bill" finds Billing).
      </FindForm>
      <ListBody paged={apis} loadingText="Loading the APIs…" emptyId="apis-empty" emptyText={found.by ? `No API's name starts with ${found.value}.` : "No APIs yet: register one below."}>
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
          restart();
          // Straight to its scopes, which creation leaves empty.
          editor.show(r);
        }}
      />
    </section>
  );
}
