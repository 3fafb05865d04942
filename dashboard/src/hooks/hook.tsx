// One hook's page: its versions (deploy, roll back), secrets, limits, allowed destinations, a
// test runner, and deletion. Every change answers the whole hook, which replaces the page's
// copy, so what is shown is what the server holds.

import { useEffect, useRef, useState } from "preact/hooks";
import { type Api, enc } from "../api";
import { Failure } from "../ui";
import { AllowList } from "./allow";
import { when } from "./format";
import { LimitsForm } from "./limits";
import { failed, type Notice, NoticeLine } from "./notice";
import { Secrets } from "./secrets";
import { TestRunner } from "./test-runner";
import type { Hook, LimitOverrides, TenantLimits } from "./types";
import { Versions } from "./versions";

export function HookPage({ api, id }: { api: Api; id: string }) {
  const [hook, setHook] = useState<Hook | null>(null);
  const [tenant, setTenant] = useState<TenantLimits | null>(null);
  const [failure, setFailure] = useState<unknown>(null);

  // After a change that answers nothing (a secret): a failed reload is the page's failure, not
  // the change's, which did happen.
  async function reload() {
    try {
      setHook(await api.get<Hook>(`/hooks/${enc(id)}`));
    } catch (e) {
      setFailure(e);
    }
  }

  useEffect(() => {
    let gone = false;
    setHook(null);
    setFailure(null);
    api.get<Hook>(`/hooks/${enc(id)}`).then(
      (h) => !gone && setHook(h),
      (e) => !gone && setFailure(e),
    );
    api.get<TenantLimits>("/hook-limits").then(
      (t) => !gone && setTenant(t),
      (e) => !gone && setFailure(e),
    );
    return () => {
      gone = true;
    };
  }, [api, id]);

  if (!hook) {
    return (
      <section aria-labelledby="hook-title">
        <h1 id="hook-title">Hook</h1>
        <p>
          <a href="#/hooks">All hooks</a>
        </p>
        {failure ? <Failure error={failure} /> : <p role="status">Loading the hook…</p>}
      </section>
    );
  }

  async function saveLimits(o: LimitOverrides) {
    setHook(await api.put<Hook>(`/hooks/${enc(hook!.id)}/limits`, o));
  }

  return (
    <section key={hook.id} aria-labelledby="hook-title" class="hook-page" data-hook-id={hook.id}>
      <p class="crumbs">
        <a href="#/hooks">All hooks</a>
      </p>
      <h1 id="hook-title">{hook.name}</h1>
      <p class="muted">
        <code id="hook-id">{hook.id}</code>, created <time dateTime={hook.created_at}>{when(hook.created_at)}</time>;{" "}
        <span id="hook-deployed">
          {hook.deployed_version == null ? "nothing deployed" : `version ${hook.deployed_version} deployed`}
        </span>
        . Bind it in the <a href="#/flow">post-login flow</a> to run it on logins.
      </p>
      <Failure error={failure} />
      <Versions api={api} hook={hook} onHook={setHook} />
      <Secrets api={api} hook={hook} onChanged={reload} />
      <section aria-labelledby="limits-title">
        <h2 id="limits-title">Limits</h2>
        <p class="muted">This hook's own limits: they can only lower the tenant's (set on the hooks page).</p>
        <LimitsForm
          prefix="limit"
          saveId="limits-save"
          noticeId="limits-notice"
          overrides={hook.limits}
          base={tenant ? tenant.effective : null}
          baseLabel="Tenant's"
          save={saveLimits}
        />
      </section>
      <AllowList api={api} hook={hook} onHook={setHook} />
      <TestRunner api={api} hook={hook} />
      <DeleteHook api={api} hook={hook} />
    </section>
  );
}

/** Deleting asks first, in the page: the versions and their artifacts go with the hook. */
function DeleteHook({ api, hook }: { api: Api; hook: Hook }) {
  const [asking, setAsking] = useState(false);
  const [busy, setBusy] = useState(false);
  const [notice, setNotice] = useState<Notice>(null);
  const cancel = useRef<HTMLButtonElement>(null);
  const start = useRef<HTMLButtonElement>(null);
  // Focus follows the step, so a keyboard user lands on the safe choice and comes back.
  const moved = useRef(false);

  useEffect(() => {
    if (!moved.current) return;
    (asking ? cancel : start).current?.focus();
  }, [asking]);

  function step(ask: boolean) {
    moved.current = true;
    setAsking(ask);
  }

  async function remove() {
    setBusy(true);
    setNotice(null);
    try {
      await api.delete(`/hooks/${enc(hook.id)}`);
      window.location.hash = "#/hooks";
    } catch (err) {
      setNotice(failed("Not deleted", err));
      step(false);
    } finally {
      setBusy(false);
    }
  }

  return (
    <section aria-labelledby="delete-title" class="danger-zone">
      <h2 id="delete-title">Delete</h2>
      {asking ? (
        <div id="hook-delete-confirmation" role="group" aria-labelledby="hook-delete-question">
          <p id="hook-delete-question">
            Delete <strong>{hook.name}</strong> and its {hook.versions.length} version{hook.versions.length === 1 ? "" : "s"}{" "}
            and secrets? This cannot be undone.
          </p>
          <div class="actions">
            <button id="hook-delete-confirm" class="danger" disabled={busy} onClick={remove}>
              Yes, delete {hook.name}
            </button>
            <button id="hook-delete-cancel" ref={cancel} disabled={busy} onClick={() => step(false)}>
              Cancel
            </button>
          </div>
        </div>
      ) : (
        <>
          <p class="muted">A hook bound in the post-login flow cannot be deleted: remove it from the flow first.</p>
          <button id="hook-delete" ref={start} class="danger" onClick={() => step(true)}>
            Delete hook…
          </button>
        </>
      )}
      <NoticeLine id="hook-delete-notice" notice={notice} />
    </section>
  );
}
