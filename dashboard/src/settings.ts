// The tenant's dashboard settings, served beside the page (GET settings.json): public, as any
// OIDC client's settings are.

/** What the server says about this tenant's dashboard client. */
export interface Settings {
  tenant: string;
  issuer: string;
  /** False until the tenant has had an administrator (and so a dashboard client). */
  ready: boolean;
  client_id: string;
  redirect_uri: string;
  audience: string;
  scope: string;
  admin_role: string;
}

/** The endpoints the dashboard uses, from the tenant's discovery document (OIDC Discovery 1.0). */
export interface Endpoints {
  authorization_endpoint: string;
  token_endpoint: string;
  end_session_endpoint?: string;
}

export async function loadSettings(): Promise<Settings> {
  // Relative: the page is at /t/{tenant}/dashboard/ or .../dashboard/callback.
  const res = await fetch("settings.json", { cache: "no-cache" });
  if (!res.ok) {
    throw new Error(`The dashboard's settings could not be read (HTTP ${res.status}).`);
  }
  return (await res.json()) as Settings;
}

export async function loadEndpoints(issuer: string): Promise<Endpoints> {
  const res = await fetch(`${issuer}/.well-known/openid-configuration`);
  if (!res.ok) {
    throw new Error(`The tenant's discovery document could not be read (HTTP ${res.status}).`);
  }
  return (await res.json()) as Endpoints;
}
