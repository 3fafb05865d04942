// Running one version of a hook against an event, with the production runtime and nobody
// logged in. The event can be a real user's: the JWT template preview builds the same login
// event the flow would get, so the hook is tested against what it will really see.

import type { Diagnostic } from "@codemirror/lint";
import type { EditorView } from "@codemirror/view";
import { useEffect, useRef, useState } from "preact/hooks";
import { type Api, ApiFailure, enc, type Page } from "../api";
import { lineAndColumn } from "../templates/editor";
import { Failure } from "../ui";
import { createEventEditor, replaceDoc } from "./event-editor";
import { pretty } from "./format";
import { done, failed, type Notice, NoticeLine } from "./notice";
import { Outcome } from "./outcome";
import type { FlowOutcome, Hook } from "./types";

interface App {
  client_id: string;
  name: string;
}
interface UserRow {
  id: string;
  email: string;
}

/** The dashboard's own client is no application a customer's hook is tested for. */
const customerApps = (apps: App[]) => apps.filter((a) => !a.client_id.startsWith("sigil-dashboard-"));

function defaultVersion(hook: Hook): string {
  return String(hook.deployed_version ?? hook.versions[0]?.version ?? "");
}

export function TestRunner({ api, hook }: { api: Api; hook: Hook }) {
  const [apps, setApps] = useState<App[]>([]);
  const [appsNext, setAppsNext] = useState<string | undefined>(undefined);
  const [email, setEmail] = useState("");
  const [app, setApp] = useState("");
  const [version, setVersion] = useState(() => defaultVersion(hook));
  const [problems, setProblems] = useState<Diagnostic[] | null>(null);
  const [prefillNotice, setPrefillNotice] = useState<Notice>(null);
  const [result, setResult] = useState<FlowOutcome | null>(null);
  const [failure, setFailure] = useState<unknown>(null);
  const [busy, setBusy] = useState<"" | "prefill" | "run">("");
  const host = useRef<HTMLDivElement>(null);
  const view = useRef<EditorView | null>(null);
  // Whether the event was edited or filled in: the sample must not overwrite it if it arrives
  // late.
  const touched = useRef(false);

  async function loadApps(cursor?: string) {
    try {
      const page = await api.get<Page<App>>(`/applications?limit=100${cursor ? `&cursor=${enc(cursor)}` : ""}`);
      const more = customerApps(page.data);
      setApps((old) => (cursor ? [...old, ...more] : more));
      setApp((old) => old || more[0]?.client_id || "");
      setAppsNext(page.next_cursor);
    } catch (e) {
      setPrefillNotice(failed("The applications could not be listed", e));
    }
  }

  useEffect(() => {
    view.current = createEventEditor(host.current!, {
      doc: "{}\n",
      label: "Event (JSON)",
      onChange: () => (touched.current = true),
      onProblems: setProblems,
    });
    loadApps();
    // Without a user, the preview answers the sample event (docs/sample-event.json): a
    // complete event to start from.
    api.post<{ event: unknown }>("/jwt-templates/preview", {}).then(
      (p) => {
        if (!touched.current && view.current) {
          replaceDoc(view.current, `${pretty(p.event)}\n`);
          touched.current = false;
        }
      },
      (e) => setPrefillNotice(failed("The sample event could not be loaded", e)),
    );
    return () => {
      view.current?.destroy();
      view.current = null;
    };
  }, [api]);

  // A deploy or a new upload changes the versions; keep the choice while it still exists.
  useEffect(() => {
    if (!hook.versions.some((v) => String(v.version) === version)) setVersion(defaultVersion(hook));
  }, [hook]);

  async function prefill(e: Event) {
    e.preventDefault();
    setBusy("prefill");
    setPrefillNotice(null);
    try {
      const address = email.trim();
      if (!address) throw new ApiFailure(400, "invalid_field", "give the email of the user whose login to test", "email");
      if (!app) throw new ApiFailure(400, "invalid_field", "choose the application the user logs in to", "application");
      const users = await api.get<Page<UserRow>>(`/users?email=${enc(address)}`);
      const user = users.data[0];
      if (!user) throw new ApiFailure(404, "not_found", `no user has the email ${address}`, "email");
      const preview = await api.post<{ event: unknown }>("/jwt-templates/preview", { user_id: user.id, client_id: app });
      replaceDoc(view.current!, `${pretty(preview.event)}\n`);
      touched.current = true;
      const appName = apps.find((a) => a.client_id === app)?.name ?? app;
      setPrefillNotice(done(`The event is ${user.email}'s login to ${appName}. Edit it freely before running.`));
    } catch (err) {
      setPrefillNotice(failed("Not filled in", err));
    } finally {
      setBusy("");
    }
  }

  async function run() {
    setBusy("run");
    setFailure(null);
    setResult(null);
    try {
      let event: unknown;
      try {
        event = JSON.parse(view.current!.state.doc.toString());
      } catch (err) {
        throw new ApiFailure(400, "invalid_json", `the event is not valid JSON (${(err as Error).message})`, "event");
      }
      setResult(await api.post<FlowOutcome>(`/hooks/${enc(hook.id)}/versions/${enc(version)}/test`, { event }));
    } catch (err) {
      setFailure(err);
    } finally {
      setBusy("");
    }
  }

  const errors = problems ?? [];
  return (
    <section aria-labelledby="test-title" class="test-runner">
      <h2 id="test-title">Test</h2>
      <p class="muted">
        Runs a version against an event with the production runtime, limits and this hook's secrets, without logging anyone
        in. Metadata writes are reported, not applied.
      </p>
      <form class="inline-form" onSubmit={prefill}>
        <label>
          User's email{" "}
          <input id="test-email" type="email" autocomplete="off" value={email} onInput={(e) => setEmail(e.currentTarget.value)} />
        </label>
        <label>
          Application{" "}
          <select id="test-app" value={app} onChange={(e) => setApp(e.currentTarget.value)}>
            {apps.length === 0 && <option value="">(no application)</option>}
            {apps.map((a) => (
              <option value={a.client_id}>{a.name}</option>
            ))}
          </select>
        </label>
        {appsNext && (
          <button id="test-app-more" type="button" onClick={() => loadApps(appsNext)}>
            More applications
          </button>
        )}
        <button id="test-prefill" type="submit" disabled={busy !== ""}>
          {busy === "prefill" ? "Filling in…" : "Use this user's event"}
        </button>
      </form>
      <NoticeLine id="test-prefill-notice" notice={prefillNotice} />
      <p class="muted" id="test-event-label">
        Event (JSON), as the hook receives it; the hook's secrets are added when it runs.
      </p>
      <div class="editor" id="test-event" ref={host} />
      <div id="test-event-problems" role="status" aria-live="polite">
        {problems === null ? (
          ""
        ) : errors.length === 0 ? (
          <span class="ok">The event is valid JSON.</span>
        ) : (
          <ul class="problems">
            {errors.map((d) => (
              <li>
                <button type="button" class="link" onClick={() => view.current?.dispatch({ selection: { anchor: d.from }, scrollIntoView: true })}>
                  {view.current ? lineAndColumn(view.current, d.from) : ""}
                </button>
                : {d.message}
              </li>
            ))}
          </ul>
        )}
      </div>
      <div class="actions">
        <label>
          Version{" "}
          <select id="test-version" value={version} onChange={(e) => setVersion(e.currentTarget.value)}>
            {hook.versions.map((v) => (
              <option value={String(v.version)}>
                {v.version}
                {v.version === hook.deployed_version ? " (deployed)" : ""}
              </option>
            ))}
          </select>
        </label>
        <button id="test-run" class="primary" disabled={busy !== "" || errors.length > 0 || !version} onClick={run}>
          {busy === "run" ? "Running…" : "Run"}
        </button>
      </div>
      <div id="test-result" aria-live="polite">
        {busy === "run" && <p class="muted">Running version {version}…</p>}
        <Failure error={failure} />
        {result && <Outcome outcome={result} />}
      </div>
    </section>
  );
}
