//! Change announcements between the nodes of a cluster: PostgreSQL `NOTIFY` on the write side,
//! a `LISTEN` connection per node on the other.
//!
//! Each node caches read-mostly state per tenant (the post-login flow, JWT templates, signing
//! keys). A write that changes one announces it in its own transaction
//! ([`announce`]): PostgreSQL delivers a notification only when the transaction commits, so a
//! rolled-back change announces nothing and a committed one cannot be seen before it is
//! readable. Every node's [`ChangeFeed`] hears it (its own writes included) and drops its copy.
//!
//! Notifications sent while a listener's connection is down are lost (PostgreSQL keeps none for
//! a session that is gone), so after a reconnect the feed says [`Heard::Reconnected`] and the
//! node drops every cached copy. A connection can also die without a word (a firewall or NAT
//! forgetting it, a host gone without a reset): nothing arrives, nothing fails, and the node
//! would keep stale copies until their TTL, for ever after. So a feed that has heard nothing
//! for [`PROBE_WHEN_QUIET`] runs `SELECT 1` on its connection and, without an answer within
//! [`PROBE_ANSWER`], treats the connection as lost. On SQLite there is one server process; the
//! caches' short TTL covers the CLI writing to the same file.

use std::time::Duration;

use sqlx::postgres::PgListener;

use super::{Backend, StoreError, WriteTx};
use crate::crypto::Secret;

/// The channel every node listens on.
pub const CHANNEL: &str = "sigil_changes";

/// A kind of per-tenant state a node caches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cached {
    /// The post-login flow: bindings, deployed versions, secrets, hook and tenant limits.
    Flow,
    /// JWT templates, tenant-wide and per application.
    Templates,
    /// Signing keys.
    Keys,
    /// Applications ([`super::hot`]).
    Apps,
    /// The tenant itself, and with it everything of it ([`super::hot`]).
    Tenant,
}

impl Cached {
    fn as_str(self) -> &'static str {
        match self {
            Cached::Flow => "flow",
            Cached::Templates => "templates",
            Cached::Keys => "keys",
            Cached::Apps => "apps",
            Cached::Tenant => "tenant",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "flow" => Cached::Flow,
            "templates" => Cached::Templates,
            "keys" => Cached::Keys,
            "apps" => Cached::Apps,
            "tenant" => Cached::Tenant,
            _ => return None,
        })
    }
}

/// A tenant's cached state of one kind changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// What changed.
    pub what: Cached,
    /// Whose.
    pub tenant_id: String,
}

impl Change {
    /// The notification payload: `kind:tenant_id`.
    fn payload(&self) -> String {
        format!("{}:{}", self.what.as_str(), self.tenant_id)
    }

    /// Reads a payload; `None` for one this version does not know (a newer node's kind).
    fn parse(payload: &str) -> Option<Self> {
        let (what, tenant) = payload.split_once(':')?;
        Some(Change {
            what: Cached::parse(what)?,
            tenant_id: tenant.to_string(),
        })
    }
}

/// Announces, when `tx` commits, that the tenant's cached `what` changed: to the other nodes
/// (PostgreSQL `NOTIFY`; nothing on SQLite, where one server process runs) and to this node's
/// own copies of rows ([`super::hot`]), which the commit drops.
pub async fn announce(tx: &mut WriteTx, what: Cached, tenant_id: &str) -> Result<(), StoreError> {
    let change = Change {
        what,
        tenant_id: tenant_id.to_string(),
    };
    if tx.backend() == Backend::Postgres {
        sqlx::query("SELECT pg_notify($1, $2)")
            .bind(CHANNEL)
            .bind(change.payload())
            .execute(tx.conn())
            .await?;
    }
    tx.forget_on_commit(change);
    Ok(())
}

/// What a [`ChangeFeed`] heard.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Heard {
    /// One change.
    Change(Change),
    /// The listener (re)connected: anything may have changed while it was not listening.
    Reconnected,
}

/// A node's subscription to every change announced on the database.
pub struct ChangeFeed {
    url: Secret,
    listener: Option<PgListener>,
    probe: Duration,
}

impl std::fmt::Debug for ChangeFeed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChangeFeed")
            .field("connected", &self.listener.is_some())
            .finish()
    }
}

/// How long the feed waits between attempts to reconnect.
const RECONNECT_EVERY: Duration = Duration::from_millis(500);
/// How long a feed hears nothing before it checks that its connection answers.
pub const PROBE_WHEN_QUIET: Duration = Duration::from_secs(10);
/// How long that check may take before the connection counts as lost (at most the quiet
/// time itself).
const PROBE_ANSWER: Duration = Duration::from_secs(5);

impl ChangeFeed {
    /// A feed on the PostgreSQL database at `url`. It connects on the first [`Self::next`],
    /// which answers [`Heard::Reconnected`] once it listens. After `probe` without a word it
    /// checks its connection ([`PROBE_WHEN_QUIET`] in production).
    pub fn new(url: Secret, probe: Duration) -> Self {
        Self {
            url,
            listener: None,
            probe,
        }
    }

    /// The next thing heard. Waits (retrying every [`RECONNECT_EVERY`]) while the database is
    /// unreachable; never fails.
    pub async fn next(&mut self) -> Heard {
        loop {
            let Some(listener) = self.listener.as_mut() else {
                match listen(&self.url).await {
                    Ok(l) => {
                        self.listener = Some(l);
                        return Heard::Reconnected;
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "cannot listen for changes; retrying");
                        tokio::time::sleep(RECONNECT_EVERY).await;
                        continue;
                    }
                }
            };
            // `try_recv` is cancel-safe: a message half-read when the wait ends stays buffered.
            let Ok(received) = tokio::time::timeout(self.probe, listener.try_recv()).await else {
                let probe = sqlx::query("SELECT 1").execute(&mut *listener);
                let answer = PROBE_ANSWER.min(self.probe);
                if !matches!(tokio::time::timeout(answer, probe).await, Ok(Ok(_))) {
                    tracing::warn!(
                        "the change listener's connection did not answer a check; reconnecting"
                    );
                    self.listener = None;
                }
                continue;
            };
            match received {
                Ok(Some(n)) => match Change::parse(n.payload()) {
                    Some(change) => return Heard::Change(change),
                    None => tracing::debug!(payload = n.payload(), "unknown change announced"),
                },
                Ok(None) => {
                    tracing::warn!("the change listener lost its connection; reconnecting");
                    self.listener = None;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "the change listener failed; reconnecting");
                    self.listener = None;
                    tokio::time::sleep(RECONNECT_EVERY).await;
                }
            }
        }
    }
}

/// How long one attempt to connect and listen may take: a database host that drops packets
/// would otherwise hold the attempt until TCP gives up, minutes later.
const LISTEN_TIMEOUT: Duration = Duration::from_secs(5);

async fn listen(url: &Secret) -> Result<PgListener, sqlx::Error> {
    let attempt = async {
        let mut l = PgListener::connect(url.expose()).await?;
        // No reconnect inside `try_recv`: this feed reconnects itself, so that it can tell the
        // node to drop everything once it listens again.
        l.eager_reconnect(false);
        l.listen(CHANNEL).await?;
        Ok(l)
    };
    tokio::time::timeout(LISTEN_TIMEOUT, attempt)
        .await
        .unwrap_or(Err(sqlx::Error::PoolTimedOut))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_payload_names_the_kind_and_the_tenant() {
        let c = Change {
            what: Cached::Templates,
            tenant_id: "ten_01".into(),
        };
        assert_eq!(c.payload(), "templates:ten_01");
        assert_eq!(Change::parse(&c.payload()), Some(c));
        assert_eq!(
            Change::parse("sessions:ten_01"),
            None,
            "a kind from a newer node"
        );
        assert_eq!(Change::parse("flow"), None);
        for what in [Cached::Apps, Cached::Tenant, Cached::Flow, Cached::Keys] {
            let c = Change {
                what,
                tenant_id: "ten_01".into(),
            };
            assert_eq!(Change::parse(&c.payload()), Some(c));
        }
    }
}
