//! The imports of contract 0.2.0: the API of 0.1.0 (the same rules, the same code) plus
//! `secret`, `http.fetch` and `cache`, which reach beyond the invocation and so go through
//! what the flow gave this hook ([`Reach`]): its allow-list, its secrets, the node's fetch
//! client and cache, and the flow's admission, which a fetch gives back while it waits.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::bindings::v0_2::sigil::hooks::{api, cache, http, types};
use crate::cache::CacheError;
use crate::fetch::request::{self, HookRequest};
use crate::fetch::{FetchError, Fetcher, breaker::Admission};
use crate::host::HostState;
use crate::outcome::FetchTrace;
use crate::running::Running;
use crate::runtime::FlowStep;

/// What a 0.2.0 hook's calls beyond its own invocation go through.
pub struct Reach {
    /// The node's client, breakers and cache.
    pub fetcher: Arc<Fetcher>,
    /// The hook's allow-list.
    pub allow: Arc<crate::fetch::allow::AllowList>,
    /// `ten_...`: the breaker's and the cache's namespace.
    pub tenant: Arc<str>,
    /// `hook_...`: the cache's namespace within the tenant.
    pub hook: Arc<str>,
    /// The hook's secrets (substituted into fetch headers, read by `secret`).
    pub secrets: Arc<Vec<(String, String)>>,
    /// When this invocation's time is up (its own deadline or the flow's budget).
    pub deadline: Instant,
    /// The flow's admission, given back while a fetch waits.
    pub running: Arc<Running>,
    /// Fetches made so far.
    pub made: u32,
    /// What the invocation's fetches and cache lookups did, for its trace.
    pub reached: Reached,
}

/// What a 0.2.0 invocation reached, for its trace.
#[derive(Debug, Clone, Default)]
pub struct Reached {
    /// Its fetches, in order (at most [`crate::outcome::MAX_FETCH_TRACES`]).
    pub fetches: Vec<FetchTrace>,
    /// Cache lookups that found a value.
    pub cache_hits: u32,
    /// Cache lookups that found nothing.
    pub cache_misses: u32,
    /// Every fetch's outcome and duration (see [`crate::outcome::HookTrace::fetch_outcomes`]).
    pub outcomes: Vec<(String, u64)>,
}

impl Reach {
    /// What `step`'s hook may reach in a flow of `tenant` admitted as `running`, until
    /// `deadline` (the flow's; `invoke` cuts it to the hook's own).
    pub(crate) fn new(
        fetcher: Arc<Fetcher>,
        step: &FlowStep,
        tenant: &Arc<str>,
        running: &Arc<Running>,
        deadline: Instant,
    ) -> Reach {
        Reach {
            fetcher,
            allow: step.allow.clone(),
            tenant: tenant.clone(),
            hook: step.hook_id.as_str().into(),
            secrets: Arc::new(step.secrets.clone()),
            deadline,
            running: running.clone(),
            made: 0,
            reached: Reached::default(),
        }
    }
}

impl types::Host for HostState {}

impl api::Host for HostState {
    crate::host::shared_api!();

    fn secret(&mut self, name: String) -> wasmtime::Result<Option<String>> {
        self.within_budget()?;
        Ok(self.reach.as_ref().and_then(|r| {
            r.secrets
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| v.clone())
        }))
    }
}

fn method_name(m: http::Method) -> &'static str {
    match m {
        http::Method::Get => "GET",
        http::Method::Head => "HEAD",
        http::Method::Post => "POST",
        http::Method::Put => "PUT",
        http::Method::Patch => "PATCH",
        http::Method::Delete => "DELETE",
    }
}

fn to_wit(e: FetchError) -> http::FetchError {
    match e {
        FetchError::Denied(m) => http::FetchError::Denied(m),
        FetchError::Timeout => http::FetchError::Timeout,
        FetchError::TooLarge => http::FetchError::TooLarge,
        FetchError::Connect(m) => http::FetchError::Connect(m),
        FetchError::Tls(m) => http::FetchError::Tls(m),
        FetchError::CircuitOpen => http::FetchError::CircuitOpen,
        FetchError::BudgetExhausted => http::FetchError::BudgetExhausted,
    }
}

impl http::Host for HostState {
    async fn fetch(
        &mut self,
        req: http::Request,
    ) -> wasmtime::Result<Result<http::Response, http::FetchError>> {
        self.within_budget()?;
        let Some(reach) = self.reach.as_mut() else {
            return Ok(Err(http::FetchError::Denied(
                "this hook may not fetch here".into(),
            )));
        };
        let started = Instant::now();
        let method = method_name(req.method);
        let hook_req = HookRequest {
            method,
            url: req.url,
            headers: req.headers,
            body: req.body,
            timeout_ms: req.timeout_ms,
        };
        let out = reach.send(hook_req, started).await;
        Ok(out
            .map(|r| http::Response {
                status: r.status,
                headers: r.headers,
                body: r.body,
            })
            .map_err(to_wit))
    }
}

impl Reach {
    /// One fetch, traced: checked, admitted by the breaker, sent while the flow's admission is
    /// given back, and the admission taken again before the guest resumes.
    async fn send(
        &mut self,
        req: HookRequest,
        started: Instant,
    ) -> Result<crate::fetch::client::HookResponse, FetchError> {
        let mut trace = FetchTrace {
            method: req.method.to_string(),
            target: String::new(),
            status: None,
            duration_us: 0,
            bytes_out: 0,
            bytes_in: 0,
            error: None,
            detail: None,
        };
        let result = self.send_traced(req, &mut trace).await;
        trace.duration_us = started.elapsed().as_micros() as u64;
        if let Err(e) = &result {
            trace.error = Some(e.code().to_string());
            trace.detail = e.detail().map(|m| m.chars().take(300).collect());
        }
        let outcome = match (&trace.error, trace.status) {
            (Some(e), _) => e.clone(),
            (None, Some(status)) => format!("{}xx", status / 100),
            (None, None) => "unknown".into(),
        };
        let reached = &mut self.reached;
        reached.outcomes.push((outcome, trace.duration_us));
        if reached.fetches.len() < crate::outcome::MAX_FETCH_TRACES {
            reached.fetches.push(trace);
        }
        result
    }

    async fn send_traced(
        &mut self,
        req: HookRequest,
        trace: &mut FetchTrace,
    ) -> Result<crate::fetch::client::HookResponse, FetchError> {
        let settings = self.fetcher.settings();
        if self.made >= settings.max_per_invocation {
            trace.target = req.url.chars().take(200).collect();
            return Err(FetchError::BudgetExhausted);
        }
        self.made += 1;
        let out = request::prepare(req, &self.allow, &self.secrets, settings.allow_http);
        let out = match out {
            Ok(o) => o,
            Err(e) => {
                trace.target = "(refused)".into();
                return Err(e);
            }
        };
        trace.target = out.traced_target();
        trace.bytes_out = out.body.len() as u64;
        let replayed = self
            .fetcher
            .tape()
            .and_then(|t| t.answer(out.method, out.url.as_str()));
        let result = match replayed {
            Some(answer) => answer,
            None => self.send_live(&out).await,
        };
        if let Ok(r) = &result {
            trace.status = Some(r.status);
            trace.bytes_in = r.body.len() as u64;
        }
        result
    }

    /// Sends a checked request over the network: within its deadline, through its
    /// destination's breaker, with the flow's running admission given back while it waits.
    async fn send_live(
        &mut self,
        out: &request::Outbound,
    ) -> Result<crate::fetch::client::HookResponse, FetchError> {
        let now = Instant::now();
        let own = out
            .timeout_ms
            .map(|ms| now + Duration::from_millis(ms.into()))
            .unwrap_or(self.deadline);
        let deadline = own.min(self.deadline);
        if deadline <= now {
            return Err(FetchError::Timeout);
        }
        let dest = out.destination();
        let breakers = self.fetcher.breakers();
        if breakers.admit(&self.tenant, &dest, now) == Admission::Open {
            return Err(FetchError::CircuitOpen);
        }
        // Waiting on the network is not running: the flow's CPU admission goes back to the
        // pool while the request is out, and is taken again (within the deadline) after.
        self.running.pause();
        let result = self.fetcher.client().send(out, deadline).await;
        if let Some(tape) = self.fetcher.tape() {
            tape.keep(out.method, out.url.as_str(), &result);
        }
        let ok = match &result {
            Ok(r) => r.status < 500,
            Err(e) => !e.is_destination_failure(),
        };
        breakers.record(&self.tenant, &dest, ok, Instant::now());
        if !self.running.resume(self.deadline).await {
            return Err(FetchError::Timeout);
        }
        result
    }
}

impl cache::Host for HostState {
    fn get(&mut self, key: String) -> wasmtime::Result<Option<Vec<u8>>> {
        self.within_budget()?;
        let Some(r) = self.reach.as_mut() else {
            return Ok(None);
        };
        let got = r
            .fetcher
            .cache()
            .get(&r.tenant, &r.hook, &key, Instant::now());
        if got.is_some() {
            r.reached.cache_hits += 1;
        } else {
            r.reached.cache_misses += 1;
        }
        Ok(got)
    }

    fn set(
        &mut self,
        key: String,
        value: Vec<u8>,
        ttl_ms: u32,
    ) -> wasmtime::Result<Result<(), cache::CacheError>> {
        self.within_budget()?;
        let Some(r) = self.reach.as_ref() else {
            return Ok(Err(cache::CacheError::Quota(
                "this hook has no cache here".into(),
            )));
        };
        let ttl = Duration::from_millis(ttl_ms.into());
        Ok(r.fetcher
            .cache()
            .set(&r.tenant, &r.hook, &key, value, ttl, Instant::now())
            .map_err(|e| match e {
                CacheError::TooLarge(m) => cache::CacheError::TooLarge(m),
                CacheError::Quota(m) => cache::CacheError::Quota(m),
            }))
    }

    fn delete(&mut self, key: String) -> wasmtime::Result<()> {
        self.within_budget()?;
        if let Some(r) = self.reach.as_ref() {
            r.fetcher.cache().delete(&r.tenant, &r.hook, &key);
        }
        Ok(())
    }
}
