//! The attack suite: every way we found to lose a user's session, let one tenant hurt another,
//! break a documented limit or slip through a protocol hole, each as a named test that cites the
//! RFC section or the contract it enforces. Read top to bottom; docs/security.md indexes it.
//!
//! - [`sessions`]: server-side failures never cost a session; revocation reaches every token.
//! - [`tenants`]: one tenant's hooks cannot starve or stall another's logins.
//! - [`uploads`]: compiling is bounded.
//! - [`artifacts`]: a refused upload stores nothing, and compiled artifacts and runtime maps do
//!   not grow without limit.
//! - [`limits`]: every hook limit is exact and every refusal is named and traced.
//! - [`protocol`]: logout, introspection, parameters, brute force, errors, `/userinfo`.

mod artifacts;
mod hostile_tenant;
mod limits;
mod protocol;
mod sessions;
mod tenants;
mod uploads;
