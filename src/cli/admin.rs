//! The administration commands that work on the database directly: `migrate`, `tenants`,
//! `api-keys`, `users import`, `keys`; and `openapi`, which needs nothing.

use std::io::IsTerminal;
use std::process::ExitCode;

use anyhow::Result;
use indicatif::{ProgressBar, ProgressStyle};

use sigil::manage::api_keys::{self, CreateApiKey};
use sigil::manage::import::{ImportMode, import_lines};
use sigil::manage::signing_keys::{self, Rotate};
use sigil::manage::tenants::{self, CreateTenant};
use sigil::startup;

use super::args::Target;
use super::args::{ApiKeyCommand, KeysCommand, TenantCommand, UserCommand};
use super::{offline, offline_settings, print_json, read_text};

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

/// `sigil users import`: prints the report; exits 2 when a line failed.
pub async fn users(target: &Target, command: UserCommand) -> Result<ExitCode> {
    let UserCommand::Import {
        file,
        tenant,
        update,
    } = command;
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
