//! JWT templates: customer-defined extra claims computed from the post-login event.
//!
//! A template is a JSON object whose keys are claim names and whose values are any JSON. Every
//! string anywhere in a value may embed `{{ path || path || 'literal' }}` expressions over the
//! event (roots `user`, `organization`, `client`, `request`, `transaction`, `tenant`, `now`).
//! The user-facing rules live in `SYNTAX.md`; the ones that matter to callers:
//!
//! - Templates are validated once, at save time ([`Template::parse`]), against the event's
//!   shape, so a typo is an error for the admin rather than a silently missing claim.
//! - A string that is exactly one expression keeps the resolved value's JSON type; text around
//!   expressions makes it a string. If an interpolated expression resolves to nothing, the
//!   whole string is left out, so a claim is never half-rendered (`"Ada "`).
//! - Claims that resolve to null or nothing are omitted; so are members of nested objects, and
//!   elements of arrays, that resolve to nothing.
//! - Rendering never fails: the template was validated and the event is plain JSON.

pub mod cache;
mod compile;
mod error;
mod expr;
mod render;
mod schema;

#[cfg(test)]
mod proptests;
#[cfg(test)]
mod tests;

use serde_json::{Map, Value};

pub use error::{ErrorKind, TemplateError};

/// Bounds on a template, so a stored template cannot make token issuance slow or tokens huge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Largest serialized (compact JSON) size of the template.
    pub max_bytes: usize,
    /// Deepest nesting of objects and arrays; the template object itself is level 1.
    pub max_depth: usize,
    /// Most `{{ ... }}` expressions in the whole template.
    pub max_expressions: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_bytes: 16 * 1024,
            max_depth: 16,
            max_expressions: 256,
        }
    }
}

/// A validated template, pre-parsed so rendering only walks the event.
#[derive(Debug, Clone)]
pub struct Template {
    claims: Vec<(String, compile::Node)>,
}

impl Template {
    /// Validates and compiles `template`.
    ///
    /// `restricted` lists claim names the server sets itself (e.g. `iss`, `sub`); using one as
    /// a top-level key is an error. On failure returns every error found (at most 20), in
    /// document order: by claim, then by position within each string.
    pub fn parse(
        template: &Value,
        restricted: &[&str],
        limits: &Limits,
    ) -> Result<Template, Vec<TemplateError>> {
        compile::compile(template, restricted, limits).map(|claims| Template { claims })
    }

    /// Renders the claims for one login `event`; omitted claims are simply absent.
    pub fn render(&self, event: &Value) -> Map<String, Value> {
        render::claims(&self.claims, event)
    }

    /// The claim names this template may produce, in template order.
    pub fn claim_names(&self) -> impl Iterator<Item = &str> {
        self.claims.iter().map(|(name, _)| name.as_str())
    }
}
