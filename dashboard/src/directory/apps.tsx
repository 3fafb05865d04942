// The applications page: the tenant's OAuth clients, paged on the server, found by the start of
// their name, and registering one. The dashboard's own client is listed like any other, marked
// built in.

import { type Api, enc } from "../api";
import { when } from "../hooks/format";
import { ListBody, ListFooter } from "../list-parts";
import { usePaged } from "../paged";
import { CreateApp } from "./app-create";
import { BY_NAME_PREFIX, describeByName, FindForm, type FoundMemory, NOTHING_FOUND, useFound } from "./find-form";
import { BuiltInBadge, isDashboardClient } from "./built-in";
import type { Application } from "./types";

const remembered: FoundMemory = { found: NOTHING_FOUND };

const FIND_BY = [BY_NAME_PREFIX];

const describe = describeByName("applications", "application");

export function AppsPage({ api }: { api: Api }) {
  const { found, query, generation, apply, restart } = useFound(remembered);
  const apps = usePaged<Application>(api, "/applications", { query, generation });

  return (
    <section aria-labelledby="apps-title" class="directory-page">
      <h1 id="apps-title">Applications</h1>
      <p class="muted">
        The OAuth clients your users log in to: web and native apps, single-page apps, machine-to-machine services. Open one to
        edit its redirect URIs, grant types, token lifetimes and metadata, or to rotate its secret.
      </p>
      <FindForm prefix="apps" label="Find an application" options={FIND_BY} applied={found} onApply={apply} describe={describe}>
        By the start of the name, letters A to Z in any case ("por" finds Portal).
      </FindForm>
      <ListBody
        paged={apps}
        loadingText="Loading the applications…"
        emptyId="apps-empty"
        emptyText={found.by ? `No application's name starts with ${found.value}.` : "No applications yet: register one below."}
      >
        <div class="table-scroll" role="region" aria-labelledby="apps-title" tabIndex={0}>
          <table id="apps-list" class="data">
            <caption class="sr-only">The tenant's applications</caption>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Client ID</th>
                <th scope="col">Type</th>
                <th scope="col">Grant types</th>
                <th scope="col">Created</th>
              </tr>
            </thead>
            <tbody>
              {(apps.items ?? []).map((a) => {
                const builtIn = isDashboardClient(a.client_id);
                return (
                  <tr key={a.client_id} data-client-id={a.client_id} data-built-in={builtIn ? "true" : undefined}>
                    <th scope="row">
                      <a class="app-link" href={`#/applications/${enc(a.client_id)}`}>
                        {a.name}
                      </a>{" "}
                      {builtIn && <BuiltInBadge />}
                    </th>
                    <td>
                      <code>{a.client_id}</code>
                    </td>
                    <td>{a.type}</td>
                    <td class="app-grants">{a.grant_types.join(", ") || <span class="muted">none</span>}</td>
                    <td>
                      <time dateTime={a.created_at}>{when(a.created_at)}</time>
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      </ListBody>
      <ListFooter paged={apps} moreId="apps-more" moreText="more applications" />
      <CreateApp api={api} onCreated={restart} />
    </section>
  );
}
