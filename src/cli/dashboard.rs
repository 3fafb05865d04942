//! `sigil users make-admin`: a tenant's administrators from the command line, so that a fresh
//! install gets its first one without the API.

use std::process::ExitCode;

use anyhow::{Context, Result, bail};

use sigil::manage::users::{self as user_ops, CreateUser};
use sigil::manage::{ManageError, dashboard, tenants};

use super::admin::user_id;
use super::args::Target;
use super::{offline, offline_settings};

/// Makes `user` (an id, or an email) an administrator of `tenant`, creating the user first when
/// it is an email the tenant does not know and `password_stdin` says the password is on stdin.
/// Prints where the administrator signs in.
pub async fn make_admin(
    target: &Target,
    user: &str,
    tenant: &str,
    password_stdin: bool,
) -> Result<ExitCode> {
    let off = offline(&offline_settings(target)).await?;
    let ctx = tenants::cli_ctx(&off.db, tenant).await?;
    let id = match user_id(&off, &ctx, user).await {
        Ok(id) => id,
        Err(e)
            if user.contains('@') && matches!(e.downcast_ref(), Some(ManageError::NotFound(_))) =>
        {
            if !password_stdin {
                bail!(
                    "tenant {tenant} has no user {user}: to create one, give \
                     --password-stdin and the password on stdin"
                );
            }
            let mut line = String::new();
            std::io::stdin()
                .read_line(&mut line)
                .context("reading the password from stdin")?;
            let password = line.trim_end_matches(['\r', '\n']);
            let input: CreateUser = serde_json::from_value(serde_json::json!({
                "email": user,
                "email_verified": true,
                "password": password,
            }))?;
            let created = user_ops::create(&off.db, &off.settings.passwords, &ctx, input).await?;
            println!("created user {} ({})", user, created.id);
            created.id
        }
        Err(e) => return Err(e),
    };
    let issuer = off.issuers.of(&ctx.tenant_name);
    let client = dashboard::grant_admin(&off.db, &ctx, &issuer, &id).await?;
    println!("{id} is an administrator of tenant {tenant}");
    println!(
        "dashboard client {} (redirect URI {})",
        client.client_id, client.redirect_uri
    );
    Ok(ExitCode::SUCCESS)
}
