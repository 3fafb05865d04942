// The traces page: the stored runs of the post-login flow (a tenant keeps about its newest
// 1,000), filtered by user, application, status and hook, charted (latency and outcomes over
// time) and listed, each run linking to its whole trace.

import "uplot/dist/uPlot.min.css";
import { useState } from "preact/hooks";
import type { Api } from "../api";
import { CHOICES_PAGE_SIZE, usePaged } from "../paged";
import { filterQuery, type Filters, NO_FILTERS, TraceFilterForm } from "./filters";
import { LatencyPanel } from "./latency";
import { TraceList } from "./list";
import type { App, HookName } from "./types";

/** The dashboard's own client is no application a customer's users log in to. */
const customerApp = (a: App) => !a.client_id.startsWith("sigil-dashboard-");

// Kept while the dashboard stays open, so that coming back from a trace finds the list as it
// was filtered (the route has no room for a query).
let remembered: Filters = NO_FILTERS;

export function TracesPage({ api }: { api: Api }) {
  const [filters, setFilters] = useState<Filters>(remembered);
  // Applying the same filters again reloads: the runs go on arriving.
  const [generation, setGeneration] = useState(0);
  const apps = usePaged<App>(api, "/applications", { limit: CHOICES_PAGE_SIZE, keep: customerApp });
  const hooks = usePaged<HookName>(api, "/hooks", { limit: CHOICES_PAGE_SIZE });

  const names = new Map((apps.items ?? []).map((a) => [a.client_id, a.name]));
  const appName = (clientId: string) => names.get(clientId) ?? clientId;

  function apply(f: Filters) {
    remembered = f;
    setFilters(f);
    setGeneration((g) => g + 1);
  }

  const query = filterQuery(filters);

  return (
    <section aria-labelledby="traces-title" class="traces-page">
      <h1 id="traces-title">Traces and latency</h1>
      <p class="muted">
        What the <a href="#/flow">post-login flow</a>'s hooks did on each login, how long they took, and how the runs ended.
        Durations are the hooks' own, summed.
      </p>
      <TraceFilterForm api={api} applied={filters} apps={apps} hooks={hooks} appName={appName} onApply={apply} />
      <LatencyPanel api={api} query={query} generation={generation} />
      <TraceList api={api} query={query} generation={generation} appName={appName} />
    </section>
  );
}
