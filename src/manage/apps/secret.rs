//! Rotating a confidential application's client secret (shown once, stored as a keyed hash).

use super::*;

/// The new secret from a rotation, shown once.
#[derive(Debug, Serialize, ToSchema)]
pub struct RotatedSecret {
    /// The application.
    pub client_id: String,
    /// The new secret; the old one stops working now.
    pub client_secret: String,
}

/// Replaces a confidential application's secret.
pub async fn rotate_secret(
    db: &Db,
    secrets: &SecretHasher,
    ctx: &TenantCtx,
    client_id: &str,
) -> Result<RotatedSecret> {
    let mut tx = db.store.begin_write().await?;
    let mut row = lock(&mut tx, ctx, client_id).await?;
    if row.client_type != crate::store::ClientType::Confidential {
        return Err(invalid("type", "public applications have no secret"));
    }
    let secret = random_secret("cs_");
    row.secret_hash = Some(secrets.hash(secret.expose()));
    row.updated_at = db.now();
    store::update(&mut tx, &row).await?;
    record(
        &mut tx,
        db.now(),
        ctx,
        "rotate_secret",
        "application",
        client_id,
        json!({}),
    )
    .await?;
    tx.commit().await?;
    Ok(RotatedSecret {
        client_id: row.client_id,
        client_secret: secret.expose().to_string(),
    })
}
