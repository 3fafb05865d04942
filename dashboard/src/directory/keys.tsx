// The signing keys page: the tenant's published keys per algorithm (the JWKS's), and rotation
// of one algorithm's keys. What a rotation does is the README's "Signing keys" paragraph and
// KeyRing::rotate's comment: it retires a key, so it asks first.

import { useEffect, useState } from "preact/hooks";
import type { Api } from "../api";
import { when } from "../hooks/format";
import { Failure } from "../ui";
import { AuditLink } from "./audit";
import { Confirm } from "./confirm";
import { type SigningKey, SIGNING_ALGS } from "./types";

const STATUS_ORDER = ["current", "next", "previous"];

const STATUS_WORDS: Record<string, string> = {
  current: "Signs new tokens.",
  next: "Published ahead of its use: the next rotation makes it current.",
  previous: "No longer signs; still published, so the tokens it signed keep verifying until they expire.",
};

function sorted(keys: SigningKey[]): SigningKey[] {
  const rank = (k: SigningKey) => [SIGNING_ALGS.indexOf(k.alg as (typeof SIGNING_ALGS)[number]), STATUS_ORDER.indexOf(k.status)];
  return [...keys].sort((a, b) => {
    const [x, y] = [rank(a), rank(b)];
    return x[0] - y[0] || x[1] - y[1] || a.kid.localeCompare(b.kid);
  });
}

export function KeysPage({ api }: { api: Api }) {
  const [keys, setKeys] = useState<SigningKey[] | null>(null);
  const [failure, setFailure] = useState<unknown>(null);
  const [alg, setAlg] = useState<string>("RS256");

  useEffect(() => {
    let gone = false;
    api.get<SigningKey[]>("/signing-keys").then(
      (k) => !gone && setKeys(k),
      (e) => !gone && setFailure(e),
    );
    return () => {
      gone = true;
    };
  }, [api]);

  async function rotate(): Promise<string> {
    const before = keys ?? [];
    const after = await api.post<SigningKey[]>("/signing-keys/rotate", { alg });
    setKeys(after);
    const of = (list: SigningKey[], status: string) => list.find((k) => k.alg === alg && k.status === status)?.kid;
    const retired = of(before, "previous");
    const parts = [
      `Rotated the ${alg} keys: ${of(after, "current") ?? "a new key"} now signs`,
      of(after, "previous") ? `${of(after, "previous")} is kept as previous` : "",
      `${of(after, "next") ?? "a new key"} is published as next`,
      retired && !after.some((k) => k.kid === retired) ? `${retired} is retired` : "",
    ].filter(Boolean);
    return `${parts.join("; ")}.`;
  }

  const retiring = keys?.find((k) => k.alg === alg && k.status === "previous")?.kid;
  return (
    <section aria-labelledby="keys-title" class="directory-page">
      <h1 id="keys-title">Signing keys</h1>
      <p class="muted">
        The keys that sign this tenant's ID and access tokens, published in its JWKS. Each algorithm an application may use has its
        own: <strong>current</strong> signs, <strong>next</strong> is published ahead of its use, <strong>previous</strong> still
        verifies what it signed. Private keys never leave the server. <AuditLink resourceType="signing_key">Rotations are in the audit log</AuditLink>.
      </p>
      <Failure error={failure} />
      {keys === null ? (
        !failure && (
          <p role="status" class="muted">
            Loading the keys…
          </p>
        )
      ) : keys.length === 0 ? (
        <p id="keys-empty" class="muted">
          No keys yet: a tenant's first keys are made when it first signs a token, or by rotating below.
        </p>
      ) : (
        <div class="table-scroll" role="region" aria-labelledby="keys-title" tabIndex={0}>
          <table id="keys-list" class="data">
            <caption class="sr-only">The tenant's published signing keys</caption>
            <thead>
              <tr>
                <th scope="col">Key ID (kid)</th>
                <th scope="col">Algorithm</th>
                <th scope="col">Status</th>
                <th scope="col">Created</th>
                <th scope="col">Role</th>
              </tr>
            </thead>
            <tbody>
              {sorted(keys).map((k) => {
                return (
                  <tr key={k.kid} data-kid={k.kid} data-alg={k.alg} data-status={k.status} class={k.status === "current" ? "deployed" : undefined}>
                    <th scope="row">
                      <code>{k.kid}</code>
                    </th>
                    <td>{k.alg}</td>
                    <td class="key-status">{k.status === "current" ? <strong class="badge">current</strong> : k.status}</td>
                    <td class="key-created">
                      <time dateTime={k.created_at}>{when(k.created_at)}</time>
                    </td>
                    <td class="muted">{STATUS_WORDS[k.status] ?? ""}</td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      )}
      <section aria-labelledby="keys-rotate-title">
        <h2 id="keys-rotate-title">Rotate</h2>
        <p id="keys-rotate-help">
          A rotation of one algorithm's keys makes <strong>next</strong> current, keeps the old current as{" "}
          <strong>previous</strong> (still published, so tokens it signed keep verifying until they expire) and publishes a fresh{" "}
          <strong>next</strong>. The key that was previous is retired: tokens it signed stop verifying. Relying parties that cache
          the JWKS already hold the key a rotation promotes. Rotate on a schedule (monthly, say), at intervals longer than your
          clients' JWKS cache lifetime plus your longest token lifetime; never twice in a row in a hurry.
        </p>
        <div class="inline-form">
          <label>
            Algorithm{" "}
            <select id="keys-alg" value={alg} onChange={(e) => setAlg(e.currentTarget.value)}>
              {SIGNING_ALGS.map((a) => (
                <option key={a} value={a}>
                  {a}
                </option>
              ))}
            </select>
          </label>
        </div>
        <Confirm
          id="keys-rotate"
          start={`Rotate ${alg} keys…`}
          mild
          question={
            <>
              Rotate the tenant's <strong>{alg}</strong> keys?{" "}
              {retiring ? (
                <>
                  <code>{retiring}</code>, the previous {alg} key, is retired: tokens it signed stop verifying.
                </>
              ) : (
                <>No key is retired: there is no previous {alg} key yet.</>
              )}{" "}
              The current key becomes previous and keeps verifying.
            </>
          }
          yes={`Yes, rotate ${alg}`}
          failure="Not rotated"
          run={rotate}
        />
      </section>
    </section>
  );
}
