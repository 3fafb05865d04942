//! JWT templates.

use serde_json::Value;
use sqlx::FromRow;

use super::types::JsonText;
use super::{Store, StoreError, WriteTx, to_json};

/// A stored template.
#[derive(Debug, Clone, FromRow)]
pub struct TemplateRow {
    /// The tenant the template belongs to (`ten_...`).
    pub tenant_id: String,
    /// The application it overrides for, or `''` for the tenant's default.
    pub client_id: String,
    /// `access_token` or `id_token`.
    pub token: String,
    /// The template (a JSON object, validated when saved).
    #[sqlx(try_from = "JsonText")]
    pub template: Value,
    /// Epoch ms.
    pub updated_at: i64,
}

/// The tenant's templates for `client_id` and the tenant defaults (`''`).
pub async fn for_client(
    store: &Store,
    tenant_id: &str,
    client_id: &str,
) -> Result<Vec<TemplateRow>, StoreError> {
    Ok(sqlx::query_as(
        "SELECT tenant_id, client_id, token, template, updated_at FROM jwt_templates \
         WHERE tenant_id = $1 AND (client_id = $2 OR client_id = '')",
    )
    .bind(tenant_id)
    .bind(client_id)
    .fetch_all(store.read().await?.conn())
    .await?)
}

/// Replaces one template.
pub async fn put(tx: &mut WriteTx, t: &TemplateRow) -> Result<(), StoreError> {
    delete(tx, &t.tenant_id, &t.client_id, &t.token).await?;
    sqlx::query(
        "INSERT INTO jwt_templates (tenant_id, client_id, token, template, updated_at) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(&t.tenant_id)
    .bind(&t.client_id)
    .bind(&t.token)
    .bind(to_json("template", &t.template)?)
    .bind(t.updated_at)
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// Deletes one template; `false` when there was none.
pub async fn delete(
    tx: &mut WriteTx,
    tenant_id: &str,
    client_id: &str,
    token: &str,
) -> Result<bool, StoreError> {
    let r = sqlx::query(
        "DELETE FROM jwt_templates WHERE tenant_id = $1 AND client_id = $2 AND token = $3",
    )
    .bind(tenant_id)
    .bind(client_id)
    .bind(token)
    .execute(tx.conn())
    .await?;
    Ok(r.rows_affected() > 0)
}

/// Deletes an application's overrides (the application is being deleted).
pub async fn delete_for_client(
    tx: &mut WriteTx,
    tenant_id: &str,
    client_id: &str,
) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM jwt_templates WHERE tenant_id = $1 AND client_id = $2")
        .bind(tenant_id)
        .bind(client_id)
        .execute(tx.conn())
        .await?;
    Ok(())
}
