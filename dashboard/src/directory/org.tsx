// One organization's page: its settings, metadata, members with their roles in it, and
// deletion (its memberships go with it; the users stay).

import { useEffect, useState } from "preact/hooks";
import { type Api, enc } from "../api";
import { when } from "../hooks/format";
import { CHOICES_PAGE_SIZE, usePaged } from "../paged";
import { Failure } from "../ui";
import { AuditLink } from "./audit";
import { Confirm } from "./confirm";
import { MetadataEditor } from "./metadata-editor";
import { OrgMembers } from "./org-members";
import { OrgSettings } from "./org-settings";
import type { Organization, Role } from "./types";

export function OrgPage({ api, id }: { api: Api; id: string }) {
  const [org, setOrg] = useState<Organization | null>(null);
  const [failure, setFailure] = useState<unknown>(null);
  const roles = usePaged<Role>(api, "/roles", { limit: CHOICES_PAGE_SIZE });

  useEffect(() => {
    let gone = false;
    setOrg(null);
    setFailure(null);
    api.get<Organization>(`/organizations/${enc(id)}`).then(
      (o) => !gone && setOrg(o),
      (e) => !gone && setFailure(e),
    );
    return () => {
      gone = true;
    };
  }, [api, id]);

  if (!org) {
    return (
      <section aria-labelledby="org-title">
        <p class="crumbs">
          <a href="#/organizations">All organizations</a>
        </p>
        <h1 id="org-title">Organization</h1>
        {failure ? <Failure error={failure} /> : <p role="status">Loading the organization…</p>}
      </section>
    );
  }

  const base = `/organizations/${enc(org.id)}`;
  return (
    <section key={org.id} aria-labelledby="org-title" class="directory-page org-page" data-org-id={org.id}>
      <p class="crumbs">
        <a href="#/organizations">All organizations</a>
      </p>
      <h1 id="org-title">{org.display_name || org.name}</h1>
      <p class="muted">
        <code id="org-id">{org.id}</code>, named <code>{org.name}</code>, created{" "}
        <time dateTime={org.created_at}>{when(org.created_at)}</time>. <AuditLink resourceId={org.id}>Changes in the audit log</AuditLink>
      </p>
      <OrgSettings api={api} org={org} onOrg={setOrg} />
      <MetadataEditor
        api={api}
        path={`${base}/metadata`}
        route="/organizations/{id}/metadata"
        field="metadata"
        editorId="org-metadata-editor"
        prefix="org-metadata"
        title="Metadata"
        intro="Data about the organization (tier, region) that hooks and JWT templates read when a user logs in through it."
        value={org.metadata}
        onSaved={(v) => setOrg((old) => (old ? { ...old, metadata: v } : old))}
      />
      <OrgMembers api={api} org={org} roles={roles} />
      <Failure error={roles.failure} />
      <section aria-labelledby="org-delete-title" class="danger-zone">
        <h2 id="org-delete-title">Delete</h2>
        <p class="muted">Deleting an organization removes its memberships; its users stay.</p>
        <Confirm
          id="org-delete"
          start="Delete organization…"
          question={
            <>
              Delete <strong>{org.display_name || org.name}</strong> and all its memberships? Logins through it stop working. This
              cannot be undone.
            </>
          }
          yes={`Yes, delete ${org.name}`}
          failure="Not deleted"
          run={async () => {
            await api.delete(base);
            window.location.hash = "#/organizations";
          }}
        />
      </section>
    </section>
  );
}
