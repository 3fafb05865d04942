//! `sigil legacy-store ...` and `sigil users migration-status`: the tenant's legacy user store
//! (a user-store hook asked at the password logins Sigil cannot check itself) on the database.

use std::process::ExitCode;

use anyhow::Result;
use clap::Subcommand;

use sigil::manage::legacy_store::{self, SetLegacyStore};
use sigil::manage::tenants;

use super::args::Target;
use super::{offline, offline_settings, print_json};

/// `sigil legacy-store ...`
#[derive(Debug, Subcommand)]
pub enum LegacyStoreCommand {
    /// Make a deployed user-store hook the tenant's legacy store (see docs/legacy-store.md).
    Set {
        /// The user-store hook's name or id.
        hook: String,
        /// `migrate` (ask at a user's first login, then keep them locally) or `delegate` (ask
        /// at every login, keep no password).
        #[arg(long, default_value = "migrate")]
        mode: String,
        /// The hook's deadline for one call, ms (default: the operator's
        /// --hook-fetch-deadline-ms).
        #[arg(long)]
        deadline_ms: Option<u64>,
        /// The tenant's name.
        #[arg(long)]
        tenant: String,
    },
    /// Print the tenant's legacy store.
    Show {
        /// The tenant's name.
        #[arg(long)]
        tenant: String,
    },
    /// Remove the tenant's legacy store (only users Sigil holds can log in afterwards).
    Clear {
        /// The tenant's name.
        #[arg(long)]
        tenant: String,
    },
}

/// Runs one legacy-store command.
pub async fn run(target: &Target, command: LegacyStoreCommand) -> Result<ExitCode> {
    let off = offline(&offline_settings(target)).await?;
    let hooks = off.hooks()?;
    match command {
        LegacyStoreCommand::Set {
            hook,
            mode,
            deadline_ms,
            tenant,
        } => {
            let ctx = tenants::cli_ctx(&off.db, &tenant).await?;
            let input = SetLegacyStore {
                hook,
                mode,
                deadline_ms,
            };
            print_json(&legacy_store::set(&off.db, &hooks, &ctx, input).await?)?;
        }
        LegacyStoreCommand::Show { tenant } => {
            let ctx = tenants::cli_ctx(&off.db, &tenant).await?;
            print_json(&legacy_store::get(&off.db, &hooks, &ctx).await?)?;
        }
        LegacyStoreCommand::Clear { tenant } => {
            let ctx = tenants::cli_ctx(&off.db, &tenant).await?;
            legacy_store::clear(&off.db, &ctx).await?;
            println!("the legacy store of {tenant} is cleared");
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `sigil users migration-status`: users migrated lazily, imported, still without a password,
/// and (when the legacy store's hook counts its users) still only in the legacy store.
pub async fn status(target: &Target, tenant: &str) -> Result<ExitCode> {
    let off = offline(&offline_settings(target)).await?;
    let hooks = off.hooks()?;
    let ctx = tenants::cli_ctx(&off.db, tenant).await?;
    print_json(&legacy_store::status(&off.db, &hooks, &ctx).await?)?;
    Ok(ExitCode::SUCCESS)
}
