//! A user's tenant-wide roles.

use super::*;

/// A list of role names.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RoleNames {
    /// Role names.
    pub roles: Vec<String>,
}

/// Resolves role names to ids within the tenant; an unknown name is a 400 on that item.
pub(crate) async fn resolve_roles(
    tx: &mut WriteTx,
    tenant_id: &str,
    field: &str,
    names: &[String],
) -> Result<Vec<String>> {
    let names = validate::tokens(field, names, 100)?;
    let found = role_store::by_names(tx.conn(), tenant_id, &names).await?;
    let mut ids = Vec::with_capacity(names.len());
    for (i, name) in names.iter().enumerate() {
        match found.iter().find(|r| &r.name == name) {
            Some(r) => ids.push(r.id.clone()),
            None => {
                return Err(invalid(
                    format!("{field}[{i}]"),
                    format!("no role named `{name}`"),
                ));
            }
        }
    }
    Ok(ids)
}

/// How a role change applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RoleOp {
    /// Grant these roles too.
    Add,
    /// Hold exactly these roles.
    Set,
    /// Revoke these roles.
    Remove,
}

/// Changes a user's tenant-wide roles; returns the resulting role names.
pub async fn change_roles(
    db: &Db,
    ctx: &TenantCtx,
    id: &str,
    op: RoleOp,
    names: Vec<String>,
) -> Result<Vec<String>> {
    let mut tx = db.store.begin_write().await?;
    lock(&mut tx, ctx, id).await?;
    let ids = resolve_roles(&mut tx, &ctx.tenant_id, "roles", &names).await?;
    match op {
        RoleOp::Add => store::add_roles(&mut tx, id, &ids).await?,
        RoleOp::Set => {
            store::clear_roles(&mut tx, id).await?;
            store::add_roles(&mut tx, id, &ids).await?;
        }
        RoleOp::Remove => {
            for r in &ids {
                store::remove_role(&mut tx, id, r).await?;
            }
        }
    }
    let action = match op {
        RoleOp::Add => "add_roles",
        RoleOp::Set => "set_roles",
        RoleOp::Remove => "remove_roles",
    };
    record(
        &mut tx,
        db.now(),
        ctx,
        action,
        "user",
        id,
        json!({"roles": names}),
    )
    .await?;
    let roles = store::role_names(tx.conn(), id).await?;
    tx.commit().await?;
    Ok(roles)
}

/// The user's roles.
pub async fn roles(db: &Db, ctx: &TenantCtx, id: &str) -> Result<Vec<String>> {
    Ok(get(db, ctx, id).await?.roles)
}
