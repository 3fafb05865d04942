// The hooks page: the tenant's hooks (paged on the server), uploading a version, and the
// tenant's hook limits.

import { useEffect, useState } from "preact/hooks";
import type { Api } from "../api";
import { ListBody, ListFooter } from "../list-parts";
import { usePaged } from "../paged";
import { Failure } from "../ui";
import { when } from "./format";
import { LimitsForm } from "./limits";
import { type Hook, type LimitOverrides, POST_LOGIN, type TenantLimits } from "./types";
import { Upload } from "./upload";

export function HooksPage({ api }: { api: Api }) {
  // Bumped to start the list again from its first page (after an upload).
  const [generation, setGeneration] = useState(0);
  // After an upload the table stays up while the list reloads.
  const hooks = usePaged<Hook>(api, "/hooks", { generation, holdWhileReloading: true });

  return (
    <section aria-labelledby="hooks-title">
      <h1 id="hooks-title">Hooks</h1>
      <p class="muted">
        WebAssembly components that run on every login, in the order of the <a href="#/flow">post-login flow</a>. Each
        upload is a new immutable version; logins run the deployed one.
      </p>
      <ListBody paged={hooks} loadingText="Loading the hooks…" emptyId="hooks-empty" emptyText="No hooks yet: upload a .wasm below.">
        <HookList hooks={hooks.items ?? []} />
      </ListBody>
      <ListFooter paged={hooks} moreId="hooks-more" />
      <Upload api={api} onUploaded={() => setGeneration((g) => g + 1)} />
      <TenantLimitsPanel api={api} />
    </section>
  );
}

function HookList({ hooks }: { hooks: Hook[] }) {
  return (
    <table id="hooks-list" class="data">
      <caption class="sr-only">The tenant's hooks</caption>
      <thead>
        <tr>
          <th scope="col">Name</th>
          <th scope="col">ID</th>
          <th scope="col">Deployed</th>
          <th scope="col">Versions</th>
          <th scope="col">Secrets</th>
          <th scope="col">Created</th>
        </tr>
      </thead>
      <tbody>
        {hooks.map((h) => {
          const deployed = h.versions.find((v) => v.version === h.deployed_version);
          return (
            <tr key={h.id} data-hook-id={h.id}>
              <th scope="row">
                <a class="hook-link" data-name={h.name} href={`#/hooks/${h.id}`}>
                  {h.name}
                </a>
              </th>
              <td>
                <code>{h.id}</code>
              </td>
              <td class="hook-deployed">
                {deployed ? (
                  <>
                    version {deployed.version}
                    {deployed.world !== POST_LOGIN && <span class="muted"> ({deployed.world})</span>}
                  </>
                ) : (
                  <span class="muted">none</span>
                )}
              </td>
              <td class="hook-versions">
                {h.versions.length}
                {h.versions[0] && h.versions[0].version !== h.deployed_version && (
                  <span class="muted"> (newest: {h.versions[0].version})</span>
                )}
              </td>
              <td>{h.secrets.length}</td>
              <td>
                <time dateTime={h.created_at}>{when(h.created_at)}</time>
              </td>
            </tr>
          );
        })}
      </tbody>
    </table>
  );
}

/** The tenant's limits, which every hook's own overrides can lower further. */
function TenantLimitsPanel({ api }: { api: Api }) {
  const [limits, setLimits] = useState<TenantLimits | null>(null);
  const [failure, setFailure] = useState<unknown>(null);

  useEffect(() => {
    api.get<TenantLimits>("/hook-limits").then(setLimits, setFailure);
  }, [api]);

  async function save(o: LimitOverrides) {
    setLimits(await api.put<TenantLimits>("/hook-limits", o));
  }

  return (
    <section aria-labelledby="tenant-limits-title">
      <h2 id="tenant-limits-title">Limits of every hook</h2>
      <p class="muted">
        What one run of any of the tenant's hooks may use. They can only lower the operator's ceilings; each hook can lower
        them further on its page.
      </p>
      <Failure error={failure} />
      {limits ? (
        <LimitsForm
          prefix="tenant-limit"
          saveId="tenant-limits-save"
          noticeId="tenant-limits-notice"
          overrides={limits.overrides}
          base={limits.ceilings}
          baseLabel="Operator's ceiling"
          save={save}
        />
      ) : (
        !failure && (
          <p role="status" class="muted">
            Loading the limits…
          </p>
        )
      )}
    </section>
  );
}
