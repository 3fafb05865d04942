// The organizations page: the tenant's organizations, paged on the server; finding them by the
// start of the name, or one by exact name or external ID (the API's filters); creating one.

import { type Api, enc } from "../api";
import { when } from "../hooks/format";
import { ListBody, ListFooter } from "../list-parts";
import { usePaged } from "../paged";
import { BY_NAME_PREFIX, FindForm, type Found, type FoundMemory, NOTHING_FOUND, useFound } from "./find-form";
import { CreateOrg } from "./org-create";
import type { Organization } from "./types";

const remembered: FoundMemory = { found: NOTHING_FOUND };

const FIND_BY = [
  BY_NAME_PREFIX,
  { by: "name", label: "Name" },
  { by: "external_id", label: "External ID" },
];

function describe(f: Found): string {
  if (!f.by) return "Showing every organization.";
  if (f.by === "name_prefix") return `Showing the organizations whose name starts with ${f.value}.`;
  return `Showing the organization whose ${f.by === "name" ? "name" : "external ID"} is ${f.value}.`;
}

export function OrgsPage({ api }: { api: Api }) {
  const { found, query, generation, apply, restart } = useFound(remembered);
  const orgs = usePaged<Organization>(api, "/organizations", { query, generation });

  return (
    <section aria-labelledby="orgs-title" class="directory-page">
      <h1 id="orgs-title">Organizations</h1>
      <p class="muted">
        Groups of users (your customers' companies, teams). A user logs in through one with <code>organization=</code>, and the
        tokens then carry its id and the user's roles in it.
      </p>
      <FindForm prefix="orgs" label="Find an organization" options={FIND_BY} applied={found} onApply={apply} describe={describe}>
        By the start of the name (letters A to Z in any case: "glo" finds Globex), the whole name as written, or the whole
        external ID.
      </FindForm>
      <ListBody
        paged={orgs}
        loadingText="Loading the organizations…"
        emptyId="orgs-empty"
        emptyText={
          found.by === "name_prefix"
            ? `No organization's name starts with ${found.value}.`
            : found.by
              ? "No organization matches exactly."
              : "No organizations yet: create one below."
        }
      >
        <div class="table-scroll" role="region" aria-labelledby="orgs-title" tabIndex={0}>
          <table id="orgs-list" class="data">
            <caption class="sr-only">The tenant's organizations, oldest first</caption>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Display name</th>
                <th scope="col">External ID</th>
                <th scope="col">Created</th>
                <th scope="col">ID</th>
              </tr>
            </thead>
            <tbody>
              {(orgs.items ?? []).map((o) => (
                <tr key={o.id} data-org-id={o.id}>
                  <th scope="row">
                    <a class="org-link" href={`#/organizations/${enc(o.id)}`}>
                      {o.name}
                    </a>
                  </th>
                  <td>{o.display_name ?? <span class="muted">none</span>}</td>
                  <td>{o.external_id ? <code>{o.external_id}</code> : <span class="muted">none</span>}</td>
                  <td>
                    <time dateTime={o.created_at}>{when(o.created_at)}</time>
                  </td>
                  <td>
                    <code>{o.id}</code>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      </ListBody>
      <ListFooter paged={orgs} moreId="orgs-more" moreText="more organizations" />
      <CreateOrg api={api} onCreated={restart} />
    </section>
  );
}
