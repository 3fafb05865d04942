//! `sigil master-key add | retire | list`: rotating the master key (see `sigil::root_key`).

use std::process::ExitCode;

use anyhow::{Context, Result};
use sigil::clock::rfc3339;
use sigil::config;
use sigil::crypto::MasterKey;
use sigil::root_key;
use sigil::store::Store;

use super::args::{MasterKeyCommand, Target};
use super::{existing_sqlite, offline_settings};

/// Runs a `master-key` command on the database `target` names.
pub async fn run(target: &Target, command: MasterKeyCommand) -> Result<ExitCode> {
    let settings = offline_settings(target);
    existing_sqlite(&settings)?;
    let (current, _) = config::master_key(&settings.database_url, settings.master_key.as_deref())?;
    let store = Store::connect(&settings.database_url, 2).await?;
    store.migrate().await?;
    let now = settings.clock.now_ms();
    match command {
        MasterKeyCommand::Add => {
            let text = std::env::var("SIGIL_NEW_MASTER_KEY")
                .context("set SIGIL_NEW_MASTER_KEY to the new key (`openssl rand -base64 32`)")?;
            let new = MasterKey::from_base64(&text).context("SIGIL_NEW_MASTER_KEY")?;
            if root_key::add(&store, &current, &new, now).await? {
                println!(
                    "master key {} now opens the database too; move every node to it, then run \
                     `sigil master-key retire` with it",
                    new.fingerprint()
                );
            } else {
                println!(
                    "master key {} already opens the database",
                    new.fingerprint()
                );
            }
        }
        MasterKeyCommand::Retire => {
            let n = root_key::retire_others(&store, &current, now).await?;
            println!(
                "{n} other master key(s) removed; only {} opens the database",
                current.fingerprint()
            );
        }
        MasterKeyCommand::List => {
            let mine = current.fingerprint();
            for (id, at) in root_key::list(&store).await? {
                let this = if id == mine { "  (this key)" } else { "" };
                println!("{id}  added {}{this}", rfc3339(at));
            }
        }
    }
    store.close().await;
    Ok(ExitCode::SUCCESS)
}
