//! User-store hooks (contract 0.2.0's `user-store` world): the tenant's legacy system, asked
//! through its hook to verify a password login, to look a user up, or to count its users.
//!
//! A call is admitted like a flow (the tenant's share and the node's, bounded by the hook's
//! deadline) and runs on the asynchronous pool, since a legacy store is reached with `fetch`.
//! The password crosses into the guest for the one call and nowhere else: it is not in the
//! trace, the logs the host writes, or any `Debug` output.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::bindings::v0_2::sigil::hooks::types::Tenant;
use crate::bindings::v0_2_user_store as wit;
use crate::contract_0_2::Reach;
use crate::host::{AddableScopes, CallRules};
use crate::outcome::HookTrace;
use crate::prepare::Exports;
use crate::running::Running;
use crate::runtime::{FlowStep, HookRuntime};
use crate::{HookError, Limits};

/// A password on its way to the legacy system: never printed.
pub struct Password(pub String);

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password(redacted)")
    }
}

/// What the legacy store is asked.
#[derive(Debug)]
pub enum StoreCall {
    /// Verify a password login.
    Login {
        /// What the user typed as their login name.
        identifier: String,
        /// What they typed as their password.
        password: Password,
        /// `ten_...`
        tenant_id: String,
        /// The tenant's name.
        tenant_name: String,
        /// The login's time, RFC 3339.
        now: String,
        /// The same instant, milliseconds since the Unix epoch.
        now_ms: i64,
    },
    /// The user with this login name, if the legacy system can say.
    Lookup(String),
    /// How many users the legacy system holds, if it can count them.
    UserCount,
}

/// A user as the legacy system knows them, metadata parsed.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct LegacyProfile {
    /// The legacy system's id (kept as the user's `external_id`).
    pub legacy_id: String,
    /// Email address.
    pub email: String,
    /// Whether it is verified.
    pub email_verified: bool,
    /// Full name.
    pub name: Option<String>,
    /// Given name.
    pub given_name: Option<String>,
    /// Family name.
    pub family_name: Option<String>,
    /// Nickname.
    pub nickname: Option<String>,
    /// Picture URL.
    pub picture: Option<String>,
    /// A JSON object.
    pub user_metadata: Value,
    /// A JSON object.
    pub app_metadata: Value,
    /// Tenant-wide role names.
    pub roles: Vec<String>,
    /// Organization memberships.
    pub organizations: Vec<LegacyMembership>,
}

/// A membership as the legacy system names it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct LegacyMembership {
    /// The organization's external id or name.
    pub organization: String,
    /// Role names in that organization.
    pub roles: Vec<String>,
}

/// The legacy system's verdict on a password login.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(tag = "outcome", content = "profile", rename_all = "snake_case")]
pub enum LoginAnswer {
    /// The password is right.
    Authenticated(Box<LegacyProfile>),
    /// The user exists; the password is wrong.
    WrongPassword,
    /// No such user.
    UnknownUser,
}

/// What the legacy store answered.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StoreAnswer {
    /// To [`StoreCall::Login`].
    Login(LoginAnswer),
    /// To [`StoreCall::Lookup`].
    Lookup(Option<Box<LegacyProfile>>),
    /// To [`StoreCall::UserCount`].
    UserCount(Option<u64>),
}

impl StoreAnswer {
    /// The trace's outcome for this answer: `authenticated`, `wrong_password`,
    /// `unknown_user`, `found`, `not_found`, `counted`.
    pub fn outcome(&self) -> &'static str {
        match self {
            StoreAnswer::Login(LoginAnswer::Authenticated(_)) => "authenticated",
            StoreAnswer::Login(LoginAnswer::WrongPassword) => "wrong_password",
            StoreAnswer::Login(LoginAnswer::UnknownUser) => "unknown_user",
            StoreAnswer::Lookup(Some(_)) => "found",
            StoreAnswer::Lookup(None) => "not_found",
            StoreAnswer::UserCount(_) => "counted",
        }
    }
}

/// A user-store call's answer, or why there is none, and its trace.
#[derive(Debug)]
pub struct StoreRun {
    /// The answer, or why there is none (the legacy system failed, the hook failed, no
    /// capacity).
    pub result: Result<StoreAnswer, HookError>,
    /// The call's trace (outcome, duration, fuel, fetches, logs; never the password).
    pub trace: HookTrace,
}

impl HookRuntime {
    /// Asks the tenant's user-store hook (`step`) `call`, admitted within the tenant's share
    /// and bounded by the hook's deadline.
    pub async fn run_user_store(
        self: &Arc<Self>,
        tenant_id: &str,
        step: FlowStep,
        call: StoreCall,
    ) -> StoreRun {
        let admitted = Instant::now();
        let until = admitted + Duration::from_millis(step.limits.deadline_ms);
        let trace = step.trace();
        let (permits, running) = match self.admit(tenant_id, until).await {
            Ok(p) => p,
            Err(e) => return failed(trace, e),
        };
        let rt = self.clone();
        let tenant: Arc<str> = tenant_id.into();
        let done = self
            .io_pool
            .run(move |_abandoned| async move {
                let _permits = permits;
                rt.user_store_call(&step, tenant, running, admitted, call)
                    .await
            })
            .await;
        match done {
            Ok(run) => run,
            Err(e) => failed(trace, HookError::Internal(e.to_string())),
        }
    }

    /// [`HookRuntime::run_user_store`] on the current thread, for the local runner; call it
    /// from a plain thread, never from an async task.
    pub fn user_store_blocking(&self, step: &FlowStep, call: StoreCall) -> StoreRun {
        let at = Instant::now();
        self.io_pool.block_on(self.user_store_call(
            step,
            "local".into(),
            Running::unbounded(),
            at,
            call,
        ))
    }

    async fn user_store_call(
        &self,
        step: &FlowStep,
        tenant: Arc<str>,
        running: Arc<Running>,
        admitted: Instant,
        call: StoreCall,
    ) -> StoreRun {
        let mut trace = step.trace();
        let Exports::UserStore(pre) = &step.hook.exports else {
            let e = HookError::Instantiate("a post-login hook is not a user-store hook".into());
            return failed(trace, e);
        };
        let limits: Limits = step.limits;
        let deadline = admitted + Duration::from_millis(limits.deadline_ms);
        let rules = CallRules {
            flow_deadline: deadline,
            flow_budget_ms: limits.deadline_ms,
            addable_scopes: Arc::new(AddableScopes::new([])),
            user_metadata: Arc::new(Value::Null),
            app_metadata: Arc::new(Value::Null),
        };
        let now_ms = match &call {
            StoreCall::Login { now_ms, .. } => *now_ms,
            _ => 0,
        };
        let mut cycle = self.cycle(limits, rules, now_ms);
        cycle.store.data_mut().user_store = true;
        cycle.reach(Reach::new(
            self.fetcher.clone(),
            step,
            &tenant,
            &running,
            deadline,
        ));
        let called = match cycle.store() {
            Err(e) => Err(e),
            Ok(store) => Ok(async {
                let hook = pre.instantiate_async(&mut *store).await?;
                let answer = match call {
                    StoreCall::Login {
                        identifier,
                        password,
                        tenant_id,
                        tenant_name,
                        now,
                        now_ms,
                    } => {
                        let request = wit::LoginRequest {
                            identifier,
                            password: password.0,
                            tenant: Tenant {
                                id: tenant_id,
                                name: tenant_name,
                            },
                            secret_names: step.secrets.iter().map(|(n, _)| n.clone()).collect(),
                            now,
                            now_ms,
                        };
                        hook.call_login(&mut *store, &request)
                            .await?
                            .map(|r| r.into_answer().map(StoreAnswer::Login))
                    }
                    StoreCall::Lookup(identifier) => {
                        hook.call_lookup(&mut *store, &identifier).await?.map(|p| {
                            p.map(|p| profile(p).map(Box::new))
                                .transpose()
                                .map(StoreAnswer::Lookup)
                        })
                    }
                    StoreCall::UserCount => hook
                        .call_user_count(&mut *store)
                        .await?
                        .map(|n| Ok(StoreAnswer::UserCount(n))),
                };
                wasmtime::Result::Ok(answer)
            }
            .await),
        };
        // The guest's answer, a trap named, or a profile the host cannot read.
        let result = called
            .and_then(|c| cycle.named(c))
            .and_then(|converted| converted);
        let (result, end) = cycle.end(result);
        let reached = end.reached.unwrap_or_default();
        trace.duration_us = end.duration.as_micros() as u64;
        trace.fuel_used = end.fuel_used;
        trace.logs = end.logs;
        trace.fetches = reached.fetches;
        trace.cache_hits = reached.cache_hits;
        trace.cache_misses = reached.cache_misses;
        trace.fetch_outcomes = reached.outcomes;
        match result {
            Ok(answer) => {
                trace.outcome = answer.outcome().into();
                StoreRun {
                    result: Ok(answer),
                    trace,
                }
            }
            Err(e) => failed(trace, e),
        }
    }
}

fn failed(mut trace: HookTrace, e: HookError) -> StoreRun {
    trace.outcome = "failed".into();
    trace.error_code = Some(e.code().into());
    trace.error = Some(e.to_string());
    StoreRun {
        result: Err(e),
        trace,
    }
}

impl wit::LoginResult {
    fn into_answer(self) -> Result<LoginAnswer, HookError> {
        Ok(match self {
            wit::LoginResult::Authenticated(p) => LoginAnswer::Authenticated(Box::new(profile(p)?)),
            wit::LoginResult::WrongPassword => LoginAnswer::WrongPassword,
            wit::LoginResult::UnknownUser => LoginAnswer::UnknownUser,
        })
    }
}

/// The profile with its metadata parsed; metadata that is not a JSON object fails the hook,
/// named.
fn profile(p: wit::Profile) -> Result<LegacyProfile, HookError> {
    let object = |field: &str, text: &str| -> Result<Value, HookError> {
        if text.trim().is_empty() {
            return Ok(Value::Object(Default::default()));
        }
        match serde_json::from_str::<Value>(text) {
            Ok(v @ Value::Object(_)) => Ok(v),
            Ok(_) => Err(HookError::InvalidOutput(format!(
                "profile.{field} must be a JSON object"
            ))),
            Err(e) => Err(HookError::InvalidOutput(format!(
                "profile.{field} is not JSON: {e}"
            ))),
        }
    };
    Ok(LegacyProfile {
        user_metadata: object("user_metadata", &p.user_metadata)?,
        app_metadata: object("app_metadata", &p.app_metadata)?,
        legacy_id: p.legacy_id,
        email: p.email,
        email_verified: p.email_verified,
        name: p.name,
        given_name: p.given_name,
        family_name: p.family_name,
        nickname: p.nickname,
        picture: p.picture,
        roles: p.roles,
        organizations: p
            .organizations
            .into_iter()
            .map(|m| LegacyMembership {
                organization: m.organization,
                roles: m.roles,
            })
            .collect(),
    })
}
