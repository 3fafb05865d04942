//! The per-invocation host state: what a hook's imports do, the limits they enforce, and the
//! sealed WASI context for guests built with WASI toolchains.
//!
//! A fresh [`HostState`] (inside a fresh `Store`) is made for every invocation and dropped
//! after it, so nothing a hook did can be seen by the next login or another tenant.

use serde_json::{Map, Value};
use wasmtime::ResourceLimiter;
use wasmtime::component::ResourceTable;
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use super::HookError;
use super::Limits;
use super::bindings::v0_1::sigil::hooks::{api, types};

/// Claims a hook may not set: the JWT registered claims (RFC 7519 4.1), OIDC protocol claims
/// (OIDC Core 2, 3.1.3.6), the RFC 9068 access-token claims, identity claims that come from
/// the user record, and `org_id`. A closed list; trying is a named error, never a silent drop.
pub const RESTRICTED_CLAIMS: &[&str] = &[
    "iss",
    "sub",
    "aud",
    "exp",
    "nbf",
    "iat",
    "jti",
    "azp",
    "nonce",
    "auth_time",
    "at_hash",
    "c_hash",
    "acr",
    "amr",
    "sid",
    "scope",
    "client_id",
    "email",
    "email_verified",
    "phone_number",
    "phone_number_verified",
    "org_id",
];

/// Whether a hook may set the claim `name`.
pub fn claim_allowed(name: &str) -> bool {
    !name.is_empty() && name.len() <= 255 && !RESTRICTED_CLAIMS.contains(&name)
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
    now_ms: i64,
    // Built on the guest's first WASI call: most hooks (built for wasm32-unknown-unknown)
    // never make one, and building the context is a large share of a cycle's fixed cost.
    wasi: Option<WasiCtx>,
    table: ResourceTable,
    stdout: Option<MemoryOutputPipe>,
}

impl HostState {
    /// A fresh state for one invocation. WASI (built on first use) is sealed: nothing
    /// preopened, no environment or arguments, no network, clocks frozen at the event's time,
    /// randomness freshly seeded, stdout and stderr captured (bounded) into the hook's log.
    pub fn new(limits: Limits, now_ms: i64) -> Self {
        Self {
            effects: Effects::default(),
            logs: Vec::new(),
            log_bytes: 0,
            id_claim_bytes: 0,
            access_claim_bytes: 0,
            failure: None,
            memory_refused: false,
            limits,
            now_ms,
            wasi: None,
            table: ResourceTable::new(),
            stdout: None,
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

    fn set_claim(&mut self, access: bool, name: String, json: String) -> wasmtime::Result<()> {
        let token = if access { "access token" } else { "ID token" };
        if !claim_allowed(&name) {
            return Err(self.fail(HookError::RestrictedClaim(name)));
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
        if let Some(old) = map.get(&name) {
            *bytes -= name.len() + old.to_string().len();
        }
        *bytes += name.len() + json.len();
        map.insert(name, value);
        if *bytes > self.limits.claim_bytes {
            let limit = self.limits.claim_bytes;
            return Err(self.fail(HookError::OutputLimit(format!(
                "custom claims on the {token} exceed {limit} bytes"
            ))));
        }
        Ok(())
    }

    fn set_metadata(&mut self, app: bool, key: String, json: String) -> wasmtime::Result<()> {
        let field = if app { "app_metadata" } else { "user_metadata" };
        if key.is_empty() || key.chars().count() > crate::metadata::MAX_KEY_CHARS {
            return Err(self.fail(HookError::InvalidOutput(format!(
                "{field} key must be 1 to {} characters",
                crate::metadata::MAX_KEY_CHARS
            ))));
        }
        let value = self.parse(|| format!("{field}.{key}"), &json)?;
        let map = if app {
            &mut self.effects.app_metadata
        } else {
            &mut self.effects.user_metadata
        };
        map.insert(key, value);
        if serde_json::to_vec(map).map_or(usize::MAX, |v| v.len()) > crate::metadata::MAX_BYTES {
            return Err(self.fail(HookError::OutputLimit(format!(
                "{field} writes exceed {} bytes",
                crate::metadata::MAX_BYTES
            ))));
        }
        Ok(())
    }

    /// Appends a log line within the cap; over it, the hook is stopped (`log_limit`).
    pub(crate) fn push_log(&mut self, line: String) -> wasmtime::Result<()> {
        self.log_bytes += line.len() + 1;
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

impl api::Host for HostState {
    fn set_id_token_claim(&mut self, name: String, value_json: String) -> wasmtime::Result<()> {
        self.set_claim(false, name, value_json)
    }

    fn set_access_token_claim(&mut self, name: String, value_json: String) -> wasmtime::Result<()> {
        self.set_claim(true, name, value_json)
    }

    fn deny(&mut self, reason: String) -> wasmtime::Result<()> {
        let reason: String = reason.chars().take(500).collect();
        self.effects.deny.get_or_insert(reason);
        Ok(())
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
        self.push_log(message)
    }
}

impl HostState {
    fn scope(&mut self, add: bool, scope: String) -> wasmtime::Result<()> {
        let ok =
            !scope.is_empty() && scope.len() <= 255 && scope.chars().all(|c| c.is_ascii_graphic());
        if !ok {
            return Err(self.fail(HookError::InvalidOutput(format!(
                "scope `{scope}` must be 1 to 255 printable ASCII characters without spaces"
            ))));
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
