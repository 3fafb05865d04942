// A hook's versions, newest first, with deploy and roll back. Versions are immutable: going
// back is deploying an older one, which the audit log records like any other deploy.

import { useState } from "preact/hooks";
import { type Api, enc } from "../api";
import { bytes, when } from "./format";
import { done, failed, type Notice, NoticeLine } from "./notice";
import { type Hook, POST_LOGIN } from "./types";

/** The version a rollback deploys: the newest before the deployed one (as the server picks). */
export function previousVersion(h: Hook): number | undefined {
  const current = h.deployed_version;
  if (current === null || current === undefined) return undefined;
  const earlier = h.versions.map((v) => v.version).filter((v) => v < current);
  return earlier.length ? Math.max(...earlier) : undefined;
}

export function Versions({ api, hook, onHook }: { api: Api; hook: Hook; onHook: (h: Hook) => void }) {
  const [busy, setBusy] = useState(false);
  const [notice, setNotice] = useState<Notice>(null);
  const previous = previousVersion(hook);
  // The API lists them newest first; sorted again so the page does not depend on it.
  const versions = [...hook.versions].sort((a, b) => b.version - a.version);

  async function act(what: string, verb: string, call: () => Promise<Hook>) {
    setBusy(true);
    setNotice(null);
    try {
      const h = await call();
      onHook(h);
      setNotice(done(`${verb}: version ${h.deployed_version} is deployed. Logins run it within 5 seconds on every node (bindings that pin a version keep theirs).`));
    } catch (err) {
      setNotice(failed(what, err));
    } finally {
      setBusy(false);
    }
  }

  const deploy = (version: number) =>
    act("Not deployed", "Deployed", () => api.post<Hook>(`/hooks/${enc(hook.id)}/deploy`, { version }));
  const rollback = () => act("Not rolled back", "Rolled back", () => api.post<Hook>(`/hooks/${enc(hook.id)}/rollback`));

  return (
    <section aria-labelledby="versions-title">
      <h2 id="versions-title">Versions</h2>
      {hook.versions.length === 0 ? (
        <p class="muted">No versions.</p>
      ) : (
        <table id="hook-versions" class="data">
          <thead>
            <tr>
              <th scope="col">Version</th>
              <th scope="col">Status</th>
              <th scope="col">Uploaded</th>
              <th scope="col">Kind</th>
              <th scope="col">Size</th>
              <th scope="col">SHA-256</th>
              <th scope="col">Imports</th>
              <th scope="col">
                <span class="sr-only">Action</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {versions.map((v) => {
              const deployed = v.version === hook.deployed_version;
              return (
                <tr key={v.version} data-version={v.version} class={deployed ? "deployed" : undefined}>
                  <th scope="row">{v.version}</th>
                  <td class="version-status">{deployed ? <strong class="badge">Deployed</strong> : ""}</td>
                  <td>
                    <time dateTime={v.created_at}>{when(v.created_at)}</time>
                  </td>
                  <td>{v.world === POST_LOGIN ? "post-login" : <span class="warn">{v.world}</span>}</td>
                  <td>{bytes(v.size)}</td>
                  <td>
                    <code title={v.hash}>{v.hash.slice(0, 12)}</code>
                  </td>
                  <td class="imports">{v.imports.length ? v.imports.join(", ") : <span class="muted">none</span>}</td>
                  <td>
                    <button
                      class="deploy"
                      data-version={v.version}
                      aria-label={`Deploy version ${v.version}`}
                      disabled={busy || deployed}
                      onClick={() => deploy(v.version)}
                    >
                      Deploy
                    </button>
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
      <div class="actions">
        <button id="hook-rollback" disabled={busy || previous === undefined} onClick={rollback}>
          {previous === undefined ? "Roll back" : `Roll back to version ${previous}`}
        </button>
        {previous === undefined && (
          <span class="muted">
            {hook.deployed_version == null ? "Nothing is deployed yet." : "No earlier version to roll back to."}
          </span>
        )}
      </div>
      <NoticeLine id="hook-notice" notice={notice} />
    </section>
  );
}
