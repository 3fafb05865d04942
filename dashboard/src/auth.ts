// Signing an administrator in: the authorization-code flow with PKCE (RFC 7636, S256) as a
// public client (RFC 9700 2.1.1), the access token kept in this page's memory only (never in
// storage), and a silent `prompt=none` request (OIDC Core 3.1.2.1) in a hidden same-origin
// frame for a new token before the current one expires. There is no refresh token.

import type { Endpoints, Settings } from "./settings";

/** What a sign-in leaves in sessionStorage across the redirect: no token, only the values
 * that bind the response to this request (RFC 9700 2.1 and 4.7). */
interface Pending {
  state: string;
  verifier: string;
  nonce: string;
  /** The fragment (the dashboard's route) to return to. */
  back: string;
}

const PENDING_KEY = "sigil.dashboard.sign-in";

/** The signed-in administrator's tokens, in memory. */
export interface Tokens {
  access: string;
  idToken?: string;
  /** Epoch milliseconds. */
  expiresAt: number;
  /** The ID token's claims. */
  claims: Record<string, unknown>;
}

function base64url(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function random(bytes = 32): string {
  return base64url(crypto.getRandomValues(new Uint8Array(bytes)));
}

async function challenge(verifier: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier));
  return base64url(new Uint8Array(digest));
}

function payload(jwt: string): Record<string, unknown> {
  const part = jwt.split(".")[1] ?? "";
  const json = atob(part.replace(/-/g, "+").replace(/_/g, "/"));
  const bytes = Uint8Array.from(json, (c) => c.charCodeAt(0));
  return JSON.parse(new TextDecoder().decode(bytes));
}

/** Why a sign-in did not complete, as the authorization server said it. */
export class SignInError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export class Auth {
  private tokens: Tokens | null = null;
  private renewal: Promise<void> | null = null;
  private timer: number | undefined;

  constructor(
    readonly settings: Settings,
    readonly endpoints: Endpoints,
  ) {}

  get current(): Tokens | null {
    return this.tokens;
  }

  /** Sends the browser to the tenant's sign-in page; it comes back to `callback`. */
  async signIn(back: string): Promise<never> {
    const url = await this.authorizeUrl(back, false);
    window.location.assign(url);
    return new Promise<never>(() => {});
  }

  private async authorizeUrl(back: string, silent: boolean): Promise<string> {
    const pending: Pending = { state: random(), verifier: random(48), nonce: random(), back };
    sessionStorage.setItem(PENDING_KEY, JSON.stringify(pending));
    const s = this.settings;
    const q = new URLSearchParams({
      response_type: "code",
      client_id: s.client_id,
      redirect_uri: s.redirect_uri,
      // `email`: the page shows who is signed in.
      scope: `openid email ${s.scope}`,
      audience: s.audience,
      state: pending.state,
      nonce: pending.nonce,
      code_challenge: await challenge(pending.verifier),
      code_challenge_method: "S256",
    });
    if (silent) q.set("prompt", "none");
    return `${this.endpoints.authorization_endpoint}?${q}`;
  }

  /** Completes a sign-in from the callback's query; returns the route to go back to. */
  async complete(query: URLSearchParams): Promise<string> {
    const raw = sessionStorage.getItem(PENDING_KEY);
    sessionStorage.removeItem(PENDING_KEY);
    const pending: Pending | null = raw ? JSON.parse(raw) : null;
    if (!pending || query.get("state") !== pending.state) {
      // RFC 9700 4.7: a response this page did not ask for is dropped.
      throw new SignInError("invalid_state", "This sign-in response does not match a request of this page. Sign in again.");
    }
    const error = query.get("error");
    if (error) {
      throw new SignInError(error, query.get("error_description") ?? error);
    }
    // RFC 9207: the response names its issuer; a mix-up is refused.
    const iss = query.get("iss");
    if (iss !== null && iss !== this.settings.issuer) {
      throw new SignInError("invalid_issuer", "The sign-in response came from another issuer.");
    }
    await this.exchange(query.get("code") ?? "", pending);
    return pending.back;
  }

  private async exchange(code: string, pending: Pending): Promise<void> {
    const body = new URLSearchParams({
      grant_type: "authorization_code",
      code,
      redirect_uri: this.settings.redirect_uri,
      client_id: this.settings.client_id,
      code_verifier: pending.verifier,
    });
    const res = await fetch(this.endpoints.token_endpoint, { method: "POST", body });
    const json = await res.json().catch(() => ({}));
    if (!res.ok) {
      throw new SignInError(json.error ?? "token_error", json.error_description ?? `The token endpoint answered ${res.status}.`);
    }
    const claims = json.id_token ? payload(json.id_token) : {};
    if (json.id_token && claims.nonce !== pending.nonce) {
      throw new SignInError("invalid_nonce", "The ID token does not belong to this sign-in.");
    }
    this.tokens = {
      access: json.access_token,
      idToken: json.id_token,
      expiresAt: Date.now() + Number(json.expires_in ?? 600) * 1000,
      claims,
    };
    this.schedule();
  }

  /** A valid access token, renewing it silently first when it is about to expire. */
  async token(): Promise<string> {
    if (this.tokens && this.tokens.expiresAt - Date.now() < 30_000) {
      await this.renew().catch(() => undefined);
    }
    if (!this.tokens) throw new SignInError("login_required", "You are signed out.");
    return this.tokens.access;
  }

  private schedule() {
    window.clearTimeout(this.timer);
    if (!this.tokens) return;
    // At four fifths of the lifetime: a silent renewal while the session lasts.
    const delay = Math.max(5_000, (this.tokens.expiresAt - Date.now()) * 0.8);
    this.timer = window.setTimeout(() => void this.renew().catch(() => undefined), delay);
  }

  /** A new token through `prompt=none` in a hidden frame; fails with `login_required` once
   * the session has ended. */
  renew(): Promise<void> {
    if (!this.renewal) {
      this.renewal = this.renewInFrame().finally(() => {
        this.renewal = null;
      });
    }
    return this.renewal;
  }

  private async renewInFrame(): Promise<void> {
    const back = window.location.hash;
    const url = await this.authorizeUrl(back, true);
    const frame = document.createElement("iframe");
    frame.hidden = true;
    frame.title = "Session renewal";
    const query = await new Promise<URLSearchParams>((resolve, reject) => {
      const timeout = window.setTimeout(() => {
        window.removeEventListener("message", listen);
        reject(new SignInError("timeout", "The session could not be renewed in time."));
      }, 10_000);
      const listen = (e: MessageEvent) => {
        if (e.origin !== window.location.origin || e.source !== frame.contentWindow) return;
        if (typeof e.data?.sigilCallback !== "string") return;
        window.clearTimeout(timeout);
        window.removeEventListener("message", listen);
        resolve(new URLSearchParams(e.data.sigilCallback));
      };
      window.addEventListener("message", listen);
      frame.src = url;
      document.body.appendChild(frame);
    }).finally(() => frame.remove());
    try {
      await this.complete(query);
    } catch (e) {
      this.tokens = null;
      throw e;
    }
  }

  /** Forgets the tokens and ends the session at the tenant (RP-initiated logout). */
  signOut(): void {
    const idToken = this.tokens?.idToken;
    this.tokens = null;
    window.clearTimeout(this.timer);
    const end = this.endpoints.end_session_endpoint;
    if (!end) {
      window.location.reload();
      return;
    }
    const q = new URLSearchParams({
      client_id: this.settings.client_id,
      post_logout_redirect_uri: `${this.settings.issuer}/dashboard/`,
    });
    if (idToken) q.set("id_token_hint", idToken);
    window.location.assign(`${end}?${q}`);
  }
}

/** In the hidden renewal frame: hands the callback's query to the page that opened it. */
export function inRenewalFrame(): boolean {
  return window.parent !== window && window.location.pathname.endsWith("/callback");
}

export function answerFromFrame(): void {
  window.parent.postMessage({ sigilCallback: window.location.search }, window.location.origin);
}
