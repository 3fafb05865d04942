//! The local runner: hooks run against an event outside a server, through the production
//! runtime: the same upload validation, the same engine and limits, the same claim, scope and
//! metadata rules as a login, with no database and no HTTP. `sigil hooks test`, the
//! integration tests and the hook benchmarks all run hooks through it, so what they exercise
//! is what production runs.
//!
//! What differs from a login on the server, on purpose: the component is compiled in this
//! process (the server compiles in a bounded child process, since the bytes are a tenant's),
//! the flow runs on the calling thread instead of the pool (no per-tenant admission), and what
//! `add-scope` may add is decided from the event alone ([`LocalEvent::addable_scopes`]).
//!
//! Everything here blocks the calling thread. Call it from a plain thread, never from an async
//! task: WASI's blocking host calls start a tokio runtime of their own, as on the server's pool
//! threads.

use std::sync::Arc;

use sigil_hooks::compile::{self, CompileError};
use sigil_hooks::event::PostLoginEvent;
use sigil_hooks::fetch::FetchSettings;
use sigil_hooks::fetch::allow::AllowList;
use sigil_hooks::host::AddableScopes;
use sigil_hooks::outcome::{FailurePolicy, FlowOutcome};
use sigil_hooks::prepare::PreparedHook;
use sigil_hooks::runtime::{FlowStep, HookRuntime, RuntimeSettings};
use sigil_hooks::upload::{self, UploadError};
use sigil_hooks::{HookError, Limits};

/// Why a hook could not be run locally (a hook that runs and fails is a [`FlowOutcome`], not
/// an error).
#[derive(Debug, thiserror::Error)]
pub enum RunnerError {
    /// The engine or its thread could not start.
    #[error("starting the hook runtime: {0}")]
    Runtime(HookError),
    /// The bytes would be refused by an upload.
    #[error(transparent)]
    Upload(#[from] UploadError),
    /// The component does not compile.
    #[error(transparent)]
    Compile(#[from] CompileError),
    /// The component compiles but does not implement the post-login world.
    #[error("the hook does not implement the post-login world: {0}")]
    Prepare(HookError),
    /// The event does not have the event's shape.
    #[error("the event is not valid at `{path}`: {message}")]
    Event {
        /// Where in the JSON (`.` for the whole document).
        path: String,
        /// What is wrong there.
        message: String,
    },
}

/// Runs hooks locally; see the module documentation.
#[derive(Debug, Clone)]
pub struct LocalRunner {
    runtime: Arc<HookRuntime>,
}

impl LocalRunner {
    /// A runner with a runtime of its own, the production engine sized for one flow at a
    /// time (one pool thread, which a local run does not even use).
    pub fn new() -> Result<Self, RunnerError> {
        Self::with_fetch(FetchSettings::new())
    }

    /// [`LocalRunner::new`] whose hooks' fetches follow `fetch` (the operator's settings, as
    /// `serve` takes them).
    pub fn with_fetch(fetch: FetchSettings) -> Result<Self, RunnerError> {
        let runtime = HookRuntime::with_fetch(
            RuntimeSettings {
                threads: 1,
                per_tenant: 1,
                ..RuntimeSettings::default()
            },
            fetch,
        )
        .map_err(RunnerError::Runtime)?;
        Ok(Self { runtime })
    }

    /// A runner on an existing runtime (the engine is meant to be one per process, so a
    /// process that already has one, like the test suite, shares it).
    pub fn with_runtime(runtime: Arc<HookRuntime>) -> Self {
        Self { runtime }
    }

    /// The runtime the hooks run on.
    pub fn runtime(&self) -> &Arc<HookRuntime> {
        &self.runtime
    }

    /// Validates `bytes` as an upload would (a core module is turned into a component),
    /// compiles them on this thread and type-checks them against the world.
    pub fn prepare(&self, bytes: &[u8]) -> Result<Arc<PreparedHook>, RunnerError> {
        let validated = upload::validate(bytes)?;
        let component = compile::compile_here(self.runtime.engine(), &validated.component)?;
        self.runtime
            .prepare(&validated.hash, &component)
            .map_err(RunnerError::Prepare)
    }

    /// Runs `steps` in order against `event`, with the flow semantics of a login (a deny or a
    /// fail-closed failure stops the flow; a later hook's claim replaces an earlier one's;
    /// metadata writes are merged and reported, not applied). The flow's budget starts now.
    pub fn run(
        &self,
        steps: &[FlowStep],
        event: &LocalEvent,
        addable: AddableScopes,
    ) -> FlowOutcome {
        self.runtime
            .flow_blocking(steps, &event.event, event.size, addable)
    }

    /// Asks a user-store hook (`step`) `call`, as the server asks a tenant's legacy store: its
    /// answer (or why there is none) and its trace.
    pub fn user_store(
        &self,
        step: &FlowStep,
        call: sigil_hooks::user_store::StoreCall,
    ) -> sigil_hooks::user_store::StoreRun {
        self.runtime.user_store_blocking(step, call)
    }
}

/// A fail-closed step named `name` running `hook` with `limits`, `secrets` and the fetch
/// allow-list `allow`: what a flow binding gives a login on the server, without the
/// database's ids (`hook_id` is `local`, `version` 0).
pub fn step(
    name: &str,
    hook: Arc<PreparedHook>,
    limits: Limits,
    secrets: Vec<(String, String)>,
    allow: AllowList,
) -> FlowStep {
    FlowStep {
        hook_id: "local".into(),
        hook_name: name.into(),
        version: 0,
        hook,
        policy: FailurePolicy::FailClosed,
        secrets,
        limits,
        allow: Arc::new(allow),
        fuel_seen: Default::default(),
    }
}

/// An event with its serialized size measured once (a flow refuses an event over a hook's
/// `event_bytes` before running it, as on the server).
#[derive(Debug, Clone)]
pub struct LocalEvent {
    event: PostLoginEvent,
    size: usize,
}

impl LocalEvent {
    /// Measures `event`.
    pub fn new(event: PostLoginEvent) -> Self {
        let size = event.serialized_size();
        Self { event, size }
    }

    /// Parses an event file's text (see `docs/sample-event.json`); the error names the field.
    pub fn from_json(text: &str) -> Result<Self, RunnerError> {
        let mut de = serde_json::Deserializer::from_str(text);
        let event: PostLoginEvent =
            serde_path_to_error::deserialize(&mut de).map_err(|e| RunnerError::Event {
                path: e.path().to_string(),
                message: e.inner().to_string(),
            })?;
        de.end().map_err(|e| RunnerError::Event {
            path: ".".into(),
            message: e.to_string(),
        })?;
        Ok(Self::new(event))
    }

    /// The event.
    pub fn event(&self) -> &PostLoginEvent {
        &self.event
    }

    /// Its serialized size, bytes.
    pub fn size(&self) -> usize {
        self.size
    }

    /// What `add-scope` may add when there is no server to ask: the OIDC scopes and the
    /// scopes the event's transaction requested, never `offline_access`. (The server's test
    /// endpoint allows what a password grant would: the OIDC scopes and the scopes of the
    /// event's audience API.)
    pub fn addable_scopes(&self) -> AddableScopes {
        AddableScopes::new(
            crate::scopes::OIDC_SCOPES
                .iter()
                .map(|s| s.to_string())
                .chain(self.event.transaction.requested_scopes.iter().cloned()),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = include_str!("../docs/sample-event.json");

    #[test]
    fn the_sample_event_parses_and_is_measured() {
        let e = LocalEvent::from_json(SAMPLE).unwrap();
        assert_eq!(
            e.size(),
            serde_json::to_string(e.event()).unwrap().len(),
            "the size is the serialized event's, as the server measures it"
        );
    }

    #[test]
    fn a_bad_event_names_the_field() {
        let mut v: serde_json::Value = serde_json::from_str(SAMPLE).unwrap();
        v["user"]["email"] = serde_json::json!(42);
        let err = LocalEvent::from_json(&v.to_string()).unwrap_err();
        assert!(
            matches!(&err, RunnerError::Event { path, .. } if path == "user.email"),
            "{err}"
        );
        let err = LocalEvent::from_json(&format!("{SAMPLE} trailing")).unwrap_err();
        assert!(matches!(err, RunnerError::Event { .. }), "{err}");
    }

    #[test]
    fn addable_scopes_are_the_oidc_and_requested_ones_but_offline_access() {
        let mut e = LocalEvent::from_json(SAMPLE).unwrap();
        e.event.transaction.requested_scopes = vec!["read:reports".into()];
        let addable = e.addable_scopes();
        assert!(addable.allows("openid") && addable.allows("email"));
        assert!(addable.allows("read:reports"));
        assert!(!addable.allows("offline_access"));
        assert!(!addable.allows("admin:all"));
    }
}
