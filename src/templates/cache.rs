//! Parsed templates per (tenant, application), so issuing a token renders an already
//! compiled template instead of parsing JSON.
//!
//! A change drops the tenant's entries on every node at once (the node that saved it, and the
//! others through the server's change feed); entries also expire after [`TTL_MS`], the safety
//! net for a change whose announcement was lost.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use serde_json::Value;

use super::{Limits, Template};
use crate::store::templates as store;
use crate::store::{Store, StoreError};
use sigil_hooks::host::RESTRICTED_CLAIMS;

/// How long a loaded template set is used before it is read again.
pub const TTL_MS: i64 = 5_000;

/// The templates that apply to one application's tokens.
#[derive(Debug, Default, Clone)]
pub struct TemplateSet {
    /// For the access token.
    pub access_token: Option<Arc<Template>>,
    /// For the ID token.
    pub id_token: Option<Arc<Template>>,
}

impl TemplateSet {
    /// No template applies.
    pub fn is_empty(&self) -> bool {
        self.access_token.is_none() && self.id_token.is_none()
    }
}

/// The cache. A load that read the database before an invalidation does not store what it
/// read (the generation counts invalidations).
#[derive(Debug, Default)]
pub struct TemplateCache {
    inner: Mutex<Entries>,
}

#[derive(Debug, Default)]
struct Entries {
    sets: HashMap<(String, String), (i64, TemplateSet)>,
    generation: u64,
}

impl TemplateCache {
    /// The effective templates for `client_id`: its own override per token, else the tenant's.
    pub async fn effective(
        &self,
        store: &Store,
        tenant_id: &str,
        client_id: &str,
        now: i64,
    ) -> Result<TemplateSet, StoreError> {
        let key = (tenant_id.to_string(), client_id.to_string());
        let generation = match self.inner.lock() {
            Ok(map) => {
                if let Some((at, set)) = map.sets.get(&key)
                    && (*at..*at + TTL_MS).contains(&now)
                {
                    return Ok(set.clone());
                }
                map.generation
            }
            Err(_) => u64::MAX,
        };
        let rows = store::for_client(store, tenant_id, client_id).await?;
        let pick = |token: &str| {
            let row = rows
                .iter()
                .find(|r| r.token == token && r.client_id == client_id)
                .or_else(|| {
                    rows.iter()
                        .find(|r| r.token == token && r.client_id.is_empty())
                })?;
            // Stored templates were validated when saved; one that no longer parses (a
            // stricter rule in a later version) is skipped and logged rather than failing
            // every login. (Corrupt stored JSON is not that: the store refused the read.)
            let value: &Value = &row.template;
            match Template::parse(value, RESTRICTED_CLAIMS, &Limits::default()) {
                Ok(t) => Some(Arc::new(t)),
                Err(e) => {
                    let kept = without_restricted(value, &e).and_then(|v| {
                        Template::parse(&v, RESTRICTED_CLAIMS, &Limits::default()).ok()
                    });
                    match kept {
                        Some(t) => {
                            tracing::warn!(tenant = %tenant_id, token, errors = ?e,
                                "stored JWT template sets claims this version restricts: those claims are left out, the others apply");
                            Some(Arc::new(t))
                        }
                        None => {
                            tracing::error!(tenant = %tenant_id, token, errors = ?e, "stored JWT template no longer valid");
                            None
                        }
                    }
                }
            }
        };
        let set = TemplateSet {
            access_token: pick("access_token"),
            id_token: pick("id_token"),
        };
        if let Ok(mut map) = self.inner.lock()
            && map.generation == generation
        {
            map.sets.insert(key, (now, set.clone()));
        }
        Ok(set)
    }

    /// Forgets a tenant's entries (after a change to its templates).
    pub fn invalidate(&self, tenant_id: &str) {
        if let Ok(mut map) = self.inner.lock() {
            map.sets.retain(|(t, _), _| t != tenant_id);
            map.generation += 1;
        }
    }

    /// Forgets every entry (changes may have been missed).
    pub fn clear(&self) {
        if let Ok(mut map) = self.inner.lock() {
            map.sets.clear();
            map.generation += 1;
        }
    }
}

/// A stored template refused only because it sets claims a later version restricts (they were
/// allowed when it was saved), without those claims; `None` when anything else is wrong. The
/// rest of the template keeps applying: dropping the whole template would silently take every
/// other claim out of the tenant's tokens.
fn without_restricted(template: &Value, errors: &[super::TemplateError]) -> Option<Value> {
    if errors.is_empty()
        || errors
            .iter()
            .any(|e| e.kind != super::ErrorKind::RestrictedClaim)
    {
        return None;
    }
    let mut claims = template.as_object()?.clone();
    for e in errors {
        // Restricted names are only checked at the top level: the pointer is `/<name>`.
        let name = e
            .pointer
            .strip_prefix('/')?
            .replace("~1", "/")
            .replace("~0", "~");
        claims.remove(&name)?;
    }
    Some(Value::Object(claims))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_stored_template_keeps_its_claims_that_are_still_allowed() {
        let stored =
            json!({"name": "{{user.name}}", "Sub": "x", "dept": "{{user.user_metadata.dept}}"});
        let errors = Template::parse(&stored, RESTRICTED_CLAIMS, &Limits::default())
            .expect_err("name and Sub are restricted now");
        let kept = without_restricted(&stored, &errors).expect("only restricted names failed");
        assert_eq!(kept, json!({"dept": "{{user.user_metadata.dept}}"}));
        let broken = json!({"name": "{{user.nmae}}", "dept": "{{user.nope}}"});
        let errors = Template::parse(&broken, RESTRICTED_CLAIMS, &Limits::default()).unwrap_err();
        assert_eq!(
            without_restricted(&broken, &errors),
            None,
            "other errors drop it"
        );
    }
}
