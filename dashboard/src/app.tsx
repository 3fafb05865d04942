// The dashboard's frame: who is signed in, the navigation, and the page of the current route
// (the fragment: `#/templates`), so the server serves one document for every page.

import { useEffect, useState } from "preact/hooks";
import { type Api, ApiFailure } from "./api";
import type { Auth } from "./auth";
import {
  ApisPage,
  AppPage,
  AppsPage,
  AuditPage,
  KeysPage,
  OrgPage,
  OrgsPage,
  RolesPage,
  UserPage,
  UsersPage,
} from "./directory";
import { FlowPage } from "./hooks/flow";
import { HookPage } from "./hooks/hook";
import { HooksPage } from "./hooks/page";
import { TemplatesPage } from "./templates/page";
import { TracePage } from "./traces/trace";
import { TracesPage } from "./traces/page";
import { Failure } from "./ui";

const PAGES: [string, string][] = [
  ["#/templates", "JWT templates"],
  ["#/hooks", "Hooks"],
  ["#/flow", "Post-login flow"],
  ["#/traces", "Traces and latency"],
  ["#/users", "Users"],
  ["#/organizations", "Organizations"],
  ["#/applications", "Applications"],
  ["#/apis", "APIs"],
  ["#/roles", "Roles"],
  ["#/keys", "Signing keys"],
  ["#/audit", "Audit log"],
];

/** The page of a route. */
function Page({ route, api }: { route: string; api: Api }) {
  const [, section, id] = route.split("/");
  switch (section) {
    case "hooks":
      return id ? <HookPage api={api} id={decodeURIComponent(id)} /> : <HooksPage api={api} />;
    case "flow":
      return <FlowPage api={api} />;
    case "traces":
      return id ? <TracePage api={api} id={decodeURIComponent(id)} /> : <TracesPage api={api} />;
    case "users":
      return id ? <UserPage api={api} id={decodeURIComponent(id)} /> : <UsersPage api={api} />;
    case "organizations":
      return id ? <OrgPage api={api} id={decodeURIComponent(id)} /> : <OrgsPage api={api} />;
    case "applications":
      return id ? <AppPage api={api} id={decodeURIComponent(id)} /> : <AppsPage api={api} />;
    case "apis":
      return <ApisPage api={api} />;
    case "roles":
      return <RolesPage api={api} />;
    case "keys":
      return <KeysPage api={api} />;
    case "audit":
      return <AuditPage api={api} />;
    default:
      return <TemplatesPage api={api} />;
  }
}

function useRoute(): string {
  const [hash, setHash] = useState(window.location.hash || PAGES[0][0]);
  useEffect(() => {
    const on = () => setHash(window.location.hash || PAGES[0][0]);
    window.addEventListener("hashchange", on);
    return () => window.removeEventListener("hashchange", on);
  }, []);
  return hash;
}

/** Who may use the dashboard: the API's own answer to an administrator's first call. */
type Access = { state: "checking" } | { state: "allowed" } | { state: "refused"; error: unknown };

export function App({ api, auth }: { api: Api; auth: Auth }) {
  const route = useRoute();
  const [access, setAccess] = useState<Access>({ state: "checking" });
  const who = String(auth.current?.claims.email ?? auth.current?.claims.sub ?? "");
  const tenant = auth.settings.tenant;

  useEffect(() => {
    api.get("/dashboard").then(
      () => setAccess({ state: "allowed" }),
      (error) => setAccess({ state: "refused", error }),
    );
  }, [api]);

  return (
    <div class={access.state === "allowed" ? "shell" : "shell no-nav"}>
      <header class="top">
        <span class="brand">Sigil</span>
        <span class="tenant" title="Tenant">
          {tenant}
        </span>
        <span class="who" id="signed-in-as">
          {who}
        </span>
        <button id="sign-out" onClick={() => auth.signOut()}>
          Sign out
        </button>
      </header>
      {access.state === "allowed" && (
        <nav aria-label="Dashboard">
          <ul>
            {PAGES.map(([href, label]) => (
              <li>
                <a href={href} aria-current={route === href || route.startsWith(`${href}/`) ? "page" : undefined}>
                  {label}
                </a>
              </li>
            ))}
          </ul>
        </nav>
      )}
      <main id="main">
        {access.state === "checking" && <p role="status">Checking your access…</p>}
        {access.state === "refused" && <Refused error={access.error} who={who} tenant={tenant} role={auth.settings.admin_role} />}
        {access.state === "allowed" && <Page route={route} api={api} />}
      </main>
    </div>
  );
}

function Refused({ error, who, tenant, role }: { error: unknown; who: string; tenant: string; role: string }) {
  if (error instanceof ApiFailure && error.status === 403) {
    return (
      <div id="refused" class="alert" role="alert">
        <h1>Not an administrator</h1>
        <p>
          You are signed in as {who}, who does not administer the tenant {tenant}: an administrator holds the role{" "}
          <code>{role}</code>. Ask one to run <code>sigil users make-admin {who || "EMAIL"} --tenant {tenant}</code>.
        </p>
      </div>
    );
  }
  return <Failure error={error} />;
}
