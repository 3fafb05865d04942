//! Checks on the subject of a grant: the user's membership of the organization a login names.

use super::OAuthError;
use crate::store::Store;
use crate::store::orgs::{self as org_store, OrgRow};

/// Finds an organization by id or name and checks the user is a member.
pub async fn member_org(
    store: &Store,
    tenant_id: &str,
    org: &str,
    user_id: &str,
) -> Result<OrgRow, OAuthError> {
    let found = org_store::by_id_or_name(store, tenant_id, org)
        .await?
        .ok_or_else(|| OAuthError::InvalidRequest(format!("unknown organization `{org}`")))?;
    if org_store::member_roles(store.read().await?.conn(), &found.id, user_id)
        .await?
        .is_none()
    {
        return Err(OAuthError::AccessDenied(
            "the user is not a member of the organization".into(),
        ));
    }
    Ok(found)
}
