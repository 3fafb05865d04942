//! The administration commands that work on the database directly: `migrate`, `tenants`,
//! `api-keys`, `users import`, `users lock`, `client-grants`, `keys`; and `openapi`, which
//! needs nothing.

use std::io::IsTerminal;
use std::process::ExitCode;

use anyhow::Result;
use indicatif::{ProgressBar, ProgressStyle};

use sigil::manage::api_keys::{self, CreateApiKey};
use sigil::manage::client_grants::{self, ClientGrantFilter, CreateClientGrant};
use sigil::manage::import::{ImportMode, import_lines};
use sigil::manage::signing_keys::{self, Rotate};
use sigil::manage::tenants::{self, CreateTenant};
use sigil::manage::users::{self as user_ops, UserFilter};
use sigil::manage::{ManageError, PageParams, TenantCtx};
use sigil::startup;

use super::args::{
    ApiKeyCommand, ClientGrantCommand, KeysCommand, LockCommand, Target, TenantCommand, UserCommand,
};
use super::{Offline, offline, offline_settings, print_json, read_text};

/// `sigil migrate`: connects and migrates, nothing else.
pub async fn migrate(target: &Target) -> Result<ExitCode> {
    let db = startup::connect(&offline_settings(target)).await?;
    db.store.close().await;
    println!("migrations applied");
    Ok(ExitCode::SUCCESS)
}

/// `sigil tenants create`: prints the tenant, its issuer and its first API key (last line).
pub async fn tenants(target: &Target, command: TenantCommand) -> Result<ExitCode> {
    let TenantCommand::Create { name } = command;
    let off = offline(&offline_settings(target)).await?;
    let created = tenants::create(
        &off.db,
        &off.secrets,
        &off.issuers,
        "cli",
        CreateTenant { name },
    )
    .await?;
    println!("tenant {} ({})", created.tenant.name, created.tenant.id);
    println!("issuer {}", created.tenant.issuer);
    println!("api key (shown once):");
    println!("{}", created.api_key.key);
    Ok(ExitCode::SUCCESS)
}

/// `sigil api-keys create`: prints the key as the last line.
pub async fn api_keys(target: &Target, command: ApiKeyCommand) -> Result<ExitCode> {
    let ApiKeyCommand::Create {
        tenant,
        name,
        operator,
    } = command;
    let off = offline(&offline_settings(target)).await?;
    let ctx = tenants::cli_ctx(&off.db, &tenant).await?;
    let key = api_keys::create(
        &off.db,
        &off.secrets,
        &ctx,
        true,
        CreateApiKey { name, operator },
    )
    .await?;
    println!(
        "api key {} for tenant {} (shown once):",
        key.id, ctx.tenant_name
    );
    println!("{}", key.key);
    Ok(ExitCode::SUCCESS)
}

/// `sigil users import` (prints the report; exits 2 when a line failed) and `sigil users
/// lock show|lift`.
pub async fn users(target: &Target, command: UserCommand) -> Result<ExitCode> {
    let (file, tenant, update) = match command {
        UserCommand::Import {
            file,
            tenant,
            update,
        } => (file, tenant, update),
        UserCommand::Lock { command } => return user_lock(target, command).await,
        UserCommand::MakeAdmin {
            user,
            tenant,
            password_stdin,
        } => return super::dashboard::make_admin(target, &user, &tenant, password_stdin).await,
        UserCommand::MigrationStatus { tenant } => {
            return super::legacy_store::status(target, &tenant).await;
        }
    };
    let text = read_text(&file)?;
    let off = offline(&offline_settings(target)).await?;
    let ctx = tenants::cli_ctx(&off.db, &tenant).await?;
    let lines: Vec<&str> = text.lines().collect();
    let bar = progress_bar(lines.len());
    let report = import_lines(
        &off.db,
        &ctx,
        ImportMode { update },
        lines.iter().copied(),
        || bar.inc(1),
    )
    .await?;
    bar.finish_and_clear();
    print_json(&report)?;
    Ok(if report.failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(2)
    })
}

/// `sigil users lock show|lift`.
async fn user_lock(target: &Target, command: LockCommand) -> Result<ExitCode> {
    let off = offline(&offline_settings(target)).await?;
    match command {
        LockCommand::Show {
            user,
            tenant,
            limits,
        } => {
            let limits = limits.lock()?;
            let ctx = tenants::cli_ctx(&off.db, &tenant).await?;
            let id = user_id(&off, &ctx, &user).await?;
            print_json(&user_ops::lock_status(&off.db, &limits, &ctx, &id).await?)?;
        }
        LockCommand::Lift { user, tenant, ip } => {
            let ctx = tenants::cli_ctx(&off.db, &tenant).await?;
            let id = user_id(&off, &ctx, &user).await?;
            let cleared = user_ops::lift_lock(&off.db, &ctx, &id, ip.as_deref()).await?;
            println!("lock lifted for {id} ({cleared} IP counter(s) cleared)");
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The id of the user named by id or (with an `@`) by email.
pub(super) async fn user_id(off: &Offline, ctx: &TenantCtx, user: &str) -> Result<String> {
    if !user.contains('@') {
        return Ok(user.to_string());
    }
    let filter = UserFilter {
        email: Some(user.to_string()),
        ..Default::default()
    };
    let page = user_ops::list(&off.db, ctx, &filter, &PageParams::default()).await?;
    match page.data.into_iter().next() {
        Some(u) => Ok(u.id),
        None => Err(ManageError::NotFound("user").into()),
    }
}

/// `sigil client-grants create|list|delete`.
pub async fn client_grants(target: &Target, command: ClientGrantCommand) -> Result<ExitCode> {
    let off = offline(&offline_settings(target)).await?;
    match command {
        ClientGrantCommand::Create {
            tenant,
            client,
            audience,
            scopes,
        } => {
            let ctx = tenants::cli_ctx(&off.db, &tenant).await?;
            let input = CreateClientGrant {
                client_id: client,
                audience,
                scopes,
            };
            print_json(&client_grants::create(&off.db, &ctx, input).await?)?;
        }
        ClientGrantCommand::List {
            tenant,
            client,
            audience,
        } => {
            let ctx = tenants::cli_ctx(&off.db, &tenant).await?;
            let filter = ClientGrantFilter {
                client_id: client,
                audience,
            };
            let mut all = Vec::new();
            let mut page = PageParams {
                limit: Some(100),
                cursor: None,
            };
            loop {
                let got = client_grants::list(&off.db, &ctx, &filter, &page).await?;
                all.extend(got.data);
                match got.next_cursor {
                    Some(c) => page.cursor = Some(c),
                    None => break,
                }
            }
            print_json(&all)?;
        }
        ClientGrantCommand::Delete { id, tenant } => {
            let ctx = tenants::cli_ctx(&off.db, &tenant).await?;
            client_grants::delete(&off.db, &ctx, &id).await?;
            println!("client grant {id} deleted");
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// A progress bar on a terminal's stderr; nothing when stderr is not a terminal.
fn progress_bar(len: usize) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(len as u64);
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} lines  {eta} left")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar
}

/// `sigil keys rotate|list`: prints the published keys.
pub async fn keys(target: &Target, command: KeysCommand) -> Result<ExitCode> {
    let off = offline(&offline_settings(target)).await?;
    let keys = match command {
        KeysCommand::Rotate { tenant, alg } => {
            let ctx = tenants::cli_ctx(&off.db, &tenant).await?;
            signing_keys::rotate(&off.db, &off.keys, &ctx, Rotate { alg: Some(alg) }).await?
        }
        KeysCommand::List { tenant } => {
            let ctx = tenants::cli_ctx(&off.db, &tenant).await?;
            signing_keys::list(&off.db, &off.keys, &ctx).await?
        }
    };
    print_json(&keys)?;
    Ok(ExitCode::SUCCESS)
}

/// `sigil openapi`: the management API's document.
pub fn openapi() -> Result<ExitCode> {
    print_json(&sigil::http::openapi())?;
    Ok(ExitCode::SUCCESS)
}
