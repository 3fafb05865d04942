//! Unique violations, mapped to the API field they concern by the constraint that refused the
//! write.
//!
//! Each back-end names the rule differently: PostgreSQL reports the constraint's name (the
//! migrations name most of them; `tenants_name_key` and the `_pkey`s are PostgreSQL's own
//! deterministic names for an unnamed `UNIQUE` column and a primary key), SQLite reports the
//! table's columns (`UNIQUE constraint failed: users.tenant_id, users.email_normalized`). Both
//! are matched exactly against [`RULES`]; a violation no rule names is a database error (logged,
//! a 500), never a guess at a field.

use super::StoreError;

/// One unique rule of the schema and the API field a violation of it concerns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UniqueRule {
    /// The constraint's name on PostgreSQL.
    pub constraint: &'static str,
    /// The columns SQLite's message lists, as it lists them (`table.column, ...`).
    pub sqlite_columns: &'static str,
    /// The field the API reports as taken.
    pub field: &'static str,
}

const fn rule(
    constraint: &'static str,
    sqlite_columns: &'static str,
    field: &'static str,
) -> UniqueRule {
    UniqueRule {
        constraint,
        sqlite_columns,
        field,
    }
}

/// Every unique rule a write through the API can meet.
pub const RULES: &[UniqueRule] = &[
    rule("tenants_name_key", "tenants.name", "name"),
    rule(
        "users_email_normalized_uq",
        "users.tenant_id, users.email_normalized",
        "email",
    ),
    rule(
        "users_external_id_uq",
        "users.tenant_id, users.external_id",
        "external_id",
    ),
    rule(
        "organizations_name_uq",
        "organizations.tenant_id, organizations.name",
        "name",
    ),
    rule(
        "organizations_external_id_uq",
        "organizations.tenant_id, organizations.external_id",
        "external_id",
    ),
    rule(
        "memberships_pkey",
        "memberships.organization_id, memberships.user_id",
        "user_id",
    ),
    rule("roles_name_uq", "roles.tenant_id, roles.name", "name"),
    rule(
        "apis_identifier_uq",
        "apis.tenant_id, apis.identifier",
        "identifier",
    ),
    rule("hooks_name_uq", "hooks.tenant_id, hooks.name", "name"),
    rule("applications_pkey", "applications.client_id", "client_id"),
    // One grant per (application, API): a second is a conflict on the audience it names.
    rule(
        "client_grants_pair_uq",
        "client_grants.client_id, client_grants.api_id",
        "audience",
    ),
    // One current and one next key per algorithm (migration 0009): two nodes racing to make
    // a tenant's first keys, or two rotations at once.
    rule(
        "signing_keys_one_live_uq",
        "signing_keys.tenant_id, signing_keys.alg, signing_keys.status",
        "alg",
    ),
];

/// SQLite's message for a unique (or primary key) violation, before the columns.
const SQLITE_PREFIX: &str = "UNIQUE constraint failed: ";

/// The rule a back-end's report names: PostgreSQL's constraint name, or SQLite's message.
pub fn rule_of(constraint: Option<&str>, message: &str) -> Option<&'static UniqueRule> {
    match constraint {
        Some(name) => RULES.iter().find(|r| r.constraint == name),
        None => {
            let columns = message.strip_prefix(SQLITE_PREFIX)?;
            RULES.iter().find(|r| r.sqlite_columns == columns)
        }
    }
}

/// Turns a unique violation of a known rule into [`StoreError::Conflict`] naming its field;
/// any other error (an unknown unique violation included) stays a database error.
pub(crate) fn unique(err: sqlx::Error) -> StoreError {
    if let sqlx::Error::Database(db) = &err
        && db.is_unique_violation()
    {
        match rule_of(db.constraint(), db.message()) {
            Some(r) => return StoreError::Conflict(r.field),
            None => tracing::error!(
                constraint = db.constraint().unwrap_or(""),
                message = db.message(),
                "a unique violation no rule maps to an API field"
            ),
        }
    }
    StoreError::from(err)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn postgres_reports_map_by_constraint_name_exactly() {
        let field = |c: &str| rule_of(Some(c), "duplicate key value").map(|r| r.field);
        assert_eq!(field("users_email_normalized_uq"), Some("email"));
        assert_eq!(field("users_external_id_uq"), Some("external_id"));
        assert_eq!(field("organizations_external_id_uq"), Some("external_id"));
        assert_eq!(field("memberships_pkey"), Some("user_id"));
        assert_eq!(field("tenants_name_key"), Some("name"));
        // No substring matching: a constraint that merely contains a known name is unknown.
        assert_eq!(field("users_email_normalized_uq_old"), None);
        assert_eq!(field("api_keys_pkey"), None);
    }

    #[test]
    fn sqlite_reports_map_by_their_exact_column_list() {
        let field = |m: &str| rule_of(None, m).map(|r| r.field);
        assert_eq!(
            field("UNIQUE constraint failed: users.tenant_id, users.email_normalized"),
            Some("email")
        );
        assert_eq!(
            field("UNIQUE constraint failed: organizations.tenant_id, organizations.name"),
            Some("name")
        );
        assert_eq!(
            field("UNIQUE constraint failed: applications.client_id"),
            Some("client_id")
        );
        // The id of a user is not its email, whatever the message happens to contain.
        assert_eq!(field("UNIQUE constraint failed: users.id"), None);
        assert_eq!(
            field("UNIQUE constraint failed: api_keys.secret_hash"),
            None
        );
        assert_eq!(field("users.tenant_id, users.email_normalized"), None);
    }

    #[test]
    fn every_rule_is_distinct_on_both_back_ends() {
        for (i, a) in RULES.iter().enumerate() {
            for b in &RULES[i + 1..] {
                assert_ne!(a.constraint, b.constraint);
                assert_ne!(a.sqlite_columns, b.sqlite_columns);
            }
        }
    }
}
