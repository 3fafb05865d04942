// Start-up: read the tenant's settings, finish or start the sign-in, then show the dashboard.

import { type ComponentChild, render } from "preact";
import "./styles.css";
import { Api } from "./api";
import { answerFromFrame, Auth, inRenewalFrame, SignInError } from "./auth";
import { App } from "./app";
import { loadEndpoints, loadSettings, type Settings } from "./settings";

const root = document.getElementById("app")!;

/** Renders `page` in place of what the root holds (at first, the static "Loading" line, which
 * Preact would otherwise leave beside its own nodes). */
function show(page: ComponentChild) {
  if (!root.dataset.rendered) {
    root.textContent = "";
    root.dataset.rendered = "yes";
  }
  render(page, root);
}

function NotReady({ s }: { s: Settings }) {
  return (
    <main class="centered" id="not-ready">
      <h1>No administrator yet</h1>
      <p>
        The tenant <strong>{s.tenant}</strong> has no administrator, so its dashboard has no one to sign in. Make the first one
        on the server's machine:
      </p>
      <pre>
        <code>echo 'a long password' | sigil users make-admin you@example.com --tenant {s.tenant} --password-stdin</code>
      </pre>
      <p>then reload this page.</p>
    </main>
  );
}

function SignInFailed({ error, retry }: { error: unknown; retry: () => void }) {
  const text = error instanceof Error ? error.message : String(error);
  return (
    <main class="centered">
      <h1>Sign-in did not complete</h1>
      <p class="alert" role="alert" id="sign-in-error">
        {text}
      </p>
      <button class="primary" onClick={retry}>
        Sign in again
      </button>
    </main>
  );
}

async function start() {
  if (inRenewalFrame()) {
    answerFromFrame();
    return;
  }
  const settings = await loadSettings();
  if (!settings.ready) {
    show(<NotReady s={settings} />);
    return;
  }
  const auth = new Auth(settings, await loadEndpoints(settings.issuer));
  let back = window.location.hash;
  if (window.location.pathname.endsWith("/callback")) {
    const query = new URLSearchParams(window.location.search);
    // The code is spent either way: the URL that carried it leaves the history.
    window.history.replaceState(null, "", "./");
    try {
      back = await auth.complete(query);
      window.history.replaceState(null, "", `./${back}`);
    } catch (e) {
      const retry = () => void auth.signIn("");
      show(<SignInFailed error={e} retry={retry} />);
      return;
    }
  }
  if (!auth.current) {
    await auth.signIn(back);
    return;
  }
  const api = new Api(`${settings.issuer}/api`, () => auth.token(), () => undefined);
  show(<App api={api} auth={auth} />);
}

start().catch((e) => {
  const text = e instanceof SignInError || e instanceof Error ? e.message : String(e);
  show(
    <main class="centered">
      <h1>The dashboard could not start</h1>
      <p class="alert" role="alert">
        {text}
      </p>
    </main>,
  );
});
