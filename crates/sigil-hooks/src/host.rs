//! The per-invocation host state: what a hook's imports do, the limits they enforce, and the
//! sealed WASI context for guests built with WASI toolchains.
//!
//! A fresh [`HostState`] (inside a fresh `Store`) is made for every invocation and dropped
//! after it, so nothing a hook did can be seen by the next login or another tenant.

use std::sync::Arc;
use std::time::Instant;

use serde_json::{Map, Value};
use wasmtime::ResourceLimiter;
use wasmtime::component::ResourceTable;
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use super::HookError;
use super::Limits;
use super::bindings::v0_1::sigil::hooks::{api, types};

pub use super::claims::RESTRICTED_CLAIMS;

/// Whether a hook may set the claim `name` (see [`super::claims`] for the rules).
pub fn claim_allowed(name: &str) -> bool {
    super::claims::check_name(name).is_ok()
}

/// The scopes a flow's hooks may add with `add-scope`, decided by the protocol layer for each
/// login (docs/hooks.md "Scopes"): what the application may request for the login's audience,
/// narrowed for a third-party application to what the user consented to.
/// `offline_access` is never among them, whatever the caller passes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AddableScopes(Vec<String>);

impl AddableScopes {
    /// The scopes in `scopes`, less `offline_access` (a refresh token is the application's
    /// request and the user's grant, never a hook's addition).
    pub fn new(scopes: impl IntoIterator<Item = String>) -> Self {
        let mut out: Vec<String> = Vec::new();
        for s in scopes {
            if s != OFFLINE_ACCESS && !out.contains(&s) {
                out.push(s);
            }
        }
        AddableScopes(out)
    }

    /// Whether `scope` may be added.
    pub fn allows(&self, scope: &str) -> bool {
        self.0.iter().any(|s| s == scope)
    }

    /// The scopes, in order.
    pub fn as_slice(&self) -> &[String] {
        &self.0
    }
}

const OFFLINE_ACCESS: &str = "offline_access";

/// What the host checks a hook's calls against beyond its [`Limits`], shared by the hooks of
/// one flow: the flow's wall-clock budget, the scopes the login lets hooks add, and the
/// metadata their writes will be merged into at commit.
#[derive(Debug, Clone)]
pub struct CallRules {
    /// When the flow's budget runs out.
    pub flow_deadline: Instant,
    /// The flow's budget (for the error).
    pub flow_budget_ms: u64,
    /// What `add-scope` may add.
    pub addable_scopes: Arc<AddableScopes>,
    /// `user_metadata` as the commit will merge into it: the user's, with the writes of the
    /// flow's earlier hooks applied.
    pub user_metadata: Arc<Value>,
    /// `app_metadata`, likewise.
    pub app_metadata: Arc<Value>,
}

/// Everything one invocation produced.
#[derive(Debug, Default, Clone)]
pub struct Effects {
    /// Custom ID-token claims.
    pub id_claims: Map<String, Value>,
    /// Custom access-token claims.
    pub access_claims: Map<String, Value>,
    /// The denial reason, if the hook denied.
    pub deny: Option<String>,
    /// Scope changes, in call order: (`true` = add, scope).
    pub scope_changes: Vec<(bool, String)>,
    /// `user_metadata` writes (null deletes).
    pub user_metadata: Map<String, Value>,
    /// `app_metadata` writes (null deletes).
    pub app_metadata: Map<String, Value>,
}

/// Store data for one invocation.
pub struct HostState {
    pub(crate) effects: Effects,
    pub(crate) logs: Vec<String>,
    log_bytes: usize,
    id_claim_bytes: usize,
    access_claim_bytes: usize,
    pub(crate) failure: Option<HookError>,
    pub(crate) memory_refused: bool,
    limits: Limits,
    rules: CallRules,
    now_ms: i64,
    // Built on the guest's first WASI call: most hooks (built for wasm32-unknown-unknown)
    // never make one, and building the context is a large share of a cycle's fixed cost.
    wasi: Option<WasiCtx>,
    table: ResourceTable,
    stdout: Option<MemoryOutputPipe>,
    /// What a 0.2.0 hook's fetches and cache go through (none for 0.1.0 hooks).
    pub(crate) reach: Option<crate::contract_0_2::Reach>,
    /// A user-store hook's invocation: the post-login calls fail it.
    pub(crate) user_store: bool,
}

impl HostState {
    /// A fresh state for one invocation. WASI (built on first use) is sealed: nothing
    /// preopened, no environment or arguments, no network, clocks frozen at the event's time,
    /// randomness freshly seeded, stdout and stderr captured (bounded) into the hook's log.
    pub fn new(limits: Limits, rules: CallRules, now_ms: i64) -> Self {
        Self {
            effects: Effects::default(),
            logs: Vec::new(),
            log_bytes: 0,
            id_claim_bytes: 0,
            access_claim_bytes: 0,
            failure: None,
            memory_refused: false,
            limits,
            rules,
            now_ms,
            wasi: None,
            table: ResourceTable::new(),
            stdout: None,
            reach: None,
            user_store: false,
        }
    }

    /// What the guest wrote to stdout and stderr (empty when it never touched WASI).
    pub(crate) fn captured_output(&self) -> Vec<u8> {
        self.stdout
            .as_ref()
            .map(|p| p.contents().to_vec())
            .unwrap_or_default()
    }

    /// Records a failure and returns the trap that stops the guest.
    fn fail(&mut self, e: HookError) -> wasmtime::Error {
        let msg = e.to_string();
        self.failure.get_or_insert(e);
        wasmtime::Error::msg(msg)
    }

    /// Parses a value the hook sent; `what` names it in the error (built only on failure).
    fn parse(&mut self, what: impl FnOnce() -> String, json: &str) -> wasmtime::Result<Value> {
        serde_json::from_str(json).map_err(|e| {
            self.fail(HookError::InvalidOutput(format!(
                "{}: value is not JSON: {e}",
                what()
            )))
        })
    }

    /// Fails a user-store hook's call of `what`, a post-login hook's way to act.
    fn post_login_only(&mut self, what: &'static str) -> wasmtime::Result<()> {
        if self.user_store {
            return Err(self.fail(HookError::PostLoginOnly(what)));
        }
        Ok(())
    }

    /// Stops the guest if the flow's wall-clock budget is spent. Checked at every host call,
    /// because epoch interruption only fires while the guest's own code runs.
    pub(crate) fn within_budget(&mut self) -> wasmtime::Result<()> {
        if Instant::now() >= self.rules.flow_deadline {
            let budget = self.rules.flow_budget_ms;
            return Err(self.fail(HookError::FlowTimeout(budget)));
        }
        Ok(())
    }

    pub(crate) fn set_claim(
        &mut self,
        access: bool,
        name: String,
        json: String,
    ) -> wasmtime::Result<()> {
        self.within_budget()?;
        self.post_login_only(if access {
            "set-access-token-claim"
        } else {
            "set-id-token-claim"
        })?;
        let token = if access { "access token" } else { "ID token" };
        if let Err(reason) = super::claims::check_name(&name) {
            let e = if reason.is_restricted() {
                HookError::RestrictedClaim { name, reason }
            } else {
                HookError::InvalidClaimName { name, reason }
            };
            return Err(self.fail(e));
        }
        let value = self.parse(|| format!("claim `{name}`"), &json)?;
        let (map, bytes) = if access {
            (
                &mut self.effects.access_claims,
                &mut self.access_claim_bytes,
            )
        } else {
            (&mut self.effects.id_claims, &mut self.id_claim_bytes)
        };
        // Count what the token will hold, the same way for a new claim and a replaced one: the
        // name and the value serialized (`1E15` is 4 bytes of text, 18 once serialized).
        // Saturating: the guest chooses these numbers.
        let old = map.get(&name).map_or(0, |old| claim_size(&name, old));
        let total = bytes
            .saturating_sub(old)
            .saturating_add(claim_size(&name, &value));
        if total > self.limits.claim_bytes {
            let limit = self.limits.claim_bytes;
            return Err(self.fail(HookError::OutputLimit(format!(
                "custom claims on the {token} exceed {limit} bytes"
            ))));
        }
        *bytes = total;
        map.insert(name, value);
        Ok(())
    }

    pub(crate) fn set_metadata(
        &mut self,
        app: bool,
        key: String,
        json: String,
    ) -> wasmtime::Result<()> {
        self.within_budget()?;
        self.post_login_only(if app {
            "set-app-metadata"
        } else {
            "set-user-metadata"
        })?;
        let field = if app { "app_metadata" } else { "user_metadata" };
        if key.is_empty() {
            return Err(self.fail(HookError::InvalidOutput(format!(
                "{field} key must not be empty"
            ))));
        }
        let value = self.parse(|| format!("{field}.{key}"), &json)?;
        let (map, current) = if app {
            (&mut self.effects.app_metadata, &self.rules.app_metadata)
        } else {
            (&mut self.effects.user_metadata, &self.rules.user_metadata)
        };
        map.insert(key, value);
        // The commit's own merge, run now: a write it would refuse (a key too long at any
        // depth, too deep, too large together with what is stored) fails here, named and
        // traced, instead of failing the login after the flow.
        if let Err(reason) = crate::metadata::merge_map(current, map) {
            return Err(self.fail(HookError::MetadataRefused { field, reason }));
        }
        Ok(())
    }

    /// Appends a log line within the cap; over it, the hook is stopped (`log_limit`).
    pub(crate) fn push_log(&mut self, line: String) -> wasmtime::Result<()> {
        self.log_bytes = self.log_bytes.saturating_add(line.len()).saturating_add(1);
        if self.log_bytes > self.limits.log_bytes {
            let limit = self.limits.log_bytes;
            return Err(self.fail(HookError::OutputLimit(format!(
                "log output exceeds {limit} bytes"
            ))));
        }
        self.logs.push(line);
        Ok(())
    }
}

impl types::Host for HostState {}

/// The calls every contract version's `api` has, the same rules and the same code: expanded
/// inside each version's `api::Host` impl (their traits are distinct types with these
/// methods), which add their own beside them.
macro_rules! shared_api {
    () => {
        fn set_id_token_claim(&mut self, name: String, value_json: String) -> wasmtime::Result<()> {
            self.set_claim(false, name, value_json)
        }

        fn set_access_token_claim(
            &mut self,
            name: String,
            value_json: String,
        ) -> wasmtime::Result<()> {
            self.set_claim(true, name, value_json)
        }

        fn deny(&mut self, reason: String) -> wasmtime::Result<()> {
            self.deny_login(reason)
        }

        fn add_scope(&mut self, scope: String) -> wasmtime::Result<()> {
            self.scope(true, scope)
        }

        fn remove_scope(&mut self, scope: String) -> wasmtime::Result<()> {
            self.scope(false, scope)
        }

        fn set_user_metadata(&mut self, key: String, value_json: String) -> wasmtime::Result<()> {
            self.set_metadata(false, key, value_json)
        }

        fn set_app_metadata(&mut self, key: String, value_json: String) -> wasmtime::Result<()> {
            self.set_metadata(true, key, value_json)
        }

        fn log(&mut self, message: String) -> wasmtime::Result<()> {
            self.within_budget()?;
            self.push_log(message)
        }
    };
}
pub(crate) use shared_api;

impl api::Host for HostState {
    shared_api!();
}

impl HostState {
    pub(crate) fn deny_login(&mut self, reason: String) -> wasmtime::Result<()> {
        self.within_budget()?;
        self.post_login_only("deny")?;
        // Kept as given (up to 500 characters) for the trace; what reaches the client is
        // sanitized at the protocol boundary (`oauth::error_description`).
        let reason: String = reason.chars().take(500).collect();
        self.effects.deny.get_or_insert(reason);
        Ok(())
    }

    pub(crate) fn scope(&mut self, add: bool, scope: String) -> wasmtime::Result<()> {
        self.within_budget()?;
        self.post_login_only(if add { "add-scope" } else { "remove-scope" })?;
        let ok =
            !scope.is_empty() && scope.len() <= 255 && scope.chars().all(|c| c.is_ascii_graphic());
        if !ok {
            return Err(self.fail(HookError::InvalidOutput(format!(
                "scope `{scope}` must be 1 to 255 printable ASCII characters without spaces"
            ))));
        }
        // Refused at call time, never dropped later: the hook sees the failure in its trace.
        if add && !self.rules.addable_scopes.allows(&scope) {
            let reason = if scope == OFFLINE_ACCESS {
                "a hook can never add offline_access"
            } else {
                "hooks may add only scopes the application may request for this login's \
                 audience (and, for a third-party application, that the user consented to)"
            };
            return Err(self.fail(HookError::ScopeNotAllowed { scope, reason }));
        }
        if self.effects.scope_changes.len() >= 100 {
            return Err(self.fail(HookError::OutputLimit("more than 100 scope changes".into())));
        }
        self.effects.scope_changes.push((add, scope));
        Ok(())
    }
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        if self.wasi.is_none() {
            use rand_010::SeedableRng;
            let stdout = MemoryOutputPipe::new(self.limits.log_bytes);
            let wasi = WasiCtx::builder()
                .stdout(stdout.clone())
                .stderr(stdout.clone())
                .wall_clock(FrozenClock(self.now_ms))
                .monotonic_clock(FrozenClock(self.now_ms))
                .secure_random(rand_010::rngs::StdRng::from_rng(&mut rand_010::rng()))
                .insecure_random(rand_010::rngs::StdRng::from_rng(&mut rand_010::rng()))
                .allow_tcp(false)
                .allow_udp(false)
                .allow_ip_name_lookup(false)
                .build();
            self.stdout = Some(stdout);
            self.wasi = Some(wasi);
        }
        WasiCtxView {
            ctx: self.wasi.as_mut().expect("built above"),
            table: &mut self.table,
        }
    }
}

impl ResourceLimiter for HostState {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let ok = desired <= self.limits.memory_bytes;
        if !ok {
            self.memory_refused = true;
        }
        Ok(ok)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= 100_000)
    }
}

/// The bytes a claim takes in the token: its name and its value, each serialized as JSON.
fn claim_size(name: &str, value: &Value) -> usize {
    serialized_len(name).saturating_add(serialized_len(value))
}

/// The length of `v` serialized as compact JSON, without building the text.
pub(crate) fn serialized_len(v: &(impl serde::Serialize + ?Sized)) -> usize {
    struct Count(usize);
    impl std::io::Write for Count {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0 = self.0.saturating_add(b.len());
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut c = Count(0);
    match serde_json::to_writer(&mut c, v) {
        Ok(()) => c.0,
        // Only non-string map keys fail, which parsed JSON and the event never have; count it
        // as too big.
        Err(_) => usize::MAX,
    }
}

/// WASI clocks frozen at the event's time: hooks have no clock of their own, so a run is a
/// function of its event.
struct FrozenClock(i64);

impl wasmtime_wasi::HostWallClock for FrozenClock {
    fn resolution(&self) -> std::time::Duration {
        std::time::Duration::from_millis(1)
    }
    fn now(&self) -> std::time::Duration {
        std::time::Duration::from_millis(self.0.max(0) as u64)
    }
}

impl wasmtime_wasi::HostMonotonicClock for FrozenClock {
    fn resolution(&self) -> u64 {
        1_000_000
    }
    fn now(&self) -> u64 {
        (self.0.max(0) as u64).saturating_mul(1_000_000)
    }
}
