//! `sigil hooks ...`: the local runner (`test`), hook management on the database (upload,
//! deploy, rollback, delete, secrets, the flow, traces) and the hidden compile worker.

use std::path::Path;
use std::process::ExitCode;

use anyhow::Result;

use sigil::manage::PageParams;
use sigil::manage::hooks::flow::{self, Flow};
use sigil::manage::hooks::{allow, secrets, traces, versions};
use sigil::manage::tenants;
use sigil::runner::{self, LocalEvent, LocalRunner};
use sigil_hooks::engine::EngineSettings;
use sigil_hooks::fetch::allow::AllowList;
use sigil_hooks::fetch::tape::Tape;
use sigil_hooks::outcome::FlowStatus;
use std::sync::Arc;

use super::args::Target;
use super::args::{CompileWorkerArgs, HookManageCommand, HookTestArgs};
use super::{offline, offline_settings, print_json, read, read_text};

/// `sigil hooks test`: runs the files as one flow against the event in the local runner and
/// prints the outcome on stdout; exits 1 when the flow denies the login or fails, with the
/// reason on stderr, so a CI pipeline can gate on it.
/// Blocks: called before the async runtime starts.
pub fn test(args: HookTestArgs) -> Result<ExitCode> {
    let event = LocalEvent::from_json(&read_text(&args.event)?)?;
    let secrets: Vec<(String, String)> = args
        .secrets
        .into_iter()
        .map(|s| (s.name, s.value))
        .collect();
    let limits = args.limits.limits();
    let allow = AllowList::new(args.allow).map_err(|e| anyhow::anyhow!("--allow: {e}"))?;
    let mut fetch = args.fetch.fetch()?;
    let tape = match (&args.record, &args.replay) {
        (Some(_), _) => Some(Arc::new(Tape::record())),
        (None, Some(file)) => Some(Arc::new(
            Tape::replay(&read_text(file)?)
                .map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?,
        )),
        (None, None) => None,
    };
    fetch.tape = tape.clone();
    let runner = LocalRunner::with_fetch(fetch)?;
    let mut steps = Vec::with_capacity(args.files.len());
    for file in &args.files {
        let hook = runner
            .prepare(&read(file)?)
            .map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
        steps.push(runner::step(
            &hook_name(file),
            hook,
            limits,
            secrets.clone(),
            allow.clone(),
        ));
    }
    let outcome = runner.run(&steps, &event, event.addable_scopes());
    print_json(&outcome)?;
    if let (Some(file), Some(tape)) = (&args.record, &tape) {
        std::fs::write(file, tape.to_text())
            .map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
    }
    Ok(match &outcome.status {
        FlowStatus::Success => ExitCode::SUCCESS,
        FlowStatus::Denied { hook, reason } => {
            eprintln!("denied by {hook}: {reason}");
            ExitCode::FAILURE
        }
        FlowStatus::Failed {
            hook,
            code,
            message,
        } => {
            eprintln!("failed: {hook} ({code}): {message}");
            ExitCode::FAILURE
        }
    })
}

/// The name a local hook has in the trace: its file's stem.
fn hook_name(file: &Path) -> String {
    file.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// The hook management commands, on the database directly.
pub async fn manage(target: &Target, command: HookManageCommand) -> Result<ExitCode> {
    let off = offline(&offline_settings(target)).await?;
    let hooks = off.hooks()?;
    match command {
        HookManageCommand::Upload {
            file,
            name,
            tenant,
            deploy,
        } => {
            let bytes = read(&file)?;
            let ctx = tenants::cli_ctx(&off.db, &tenant).await?;
            let up = versions::upload(&off.db, &hooks, &ctx, &name, &bytes).await?;
            print_json(&up)?;
            if deploy {
                print_json(
                    &versions::deploy(&off.db, &hooks, &ctx, &up.hook_id, up.version.version)
                        .await?,
                )?;
            }
        }
        HookManageCommand::List { tenant } => {
            let ctx = tenants::cli_ctx(&off.db, &tenant).await?;
            print_json(&versions::list(&off.db, &ctx, &Default::default()).await?)?;
        }
        HookManageCommand::Deploy {
            hook,
            version,
            tenant,
        } => {
            let ctx = tenants::cli_ctx(&off.db, &tenant).await?;
            print_json(&versions::deploy(&off.db, &hooks, &ctx, &hook, version).await?)?;
        }
        HookManageCommand::Rollback { hook, tenant } => {
            let ctx = tenants::cli_ctx(&off.db, &tenant).await?;
            print_json(&versions::rollback(&off.db, &hooks, &ctx, &hook).await?)?;
        }
        HookManageCommand::Delete { hook, tenant } => {
            let ctx = tenants::cli_ctx(&off.db, &tenant).await?;
            versions::delete(&off.db, &hooks, &ctx, &hook).await?;
            println!("deleted {hook}");
        }
        HookManageCommand::SetSecret { hook, name, tenant } => {
            let value = read_text(Path::new("-"))?;
            let value = value.trim_end_matches(['\n', '\r']);
            let ctx = tenants::cli_ctx(&off.db, &tenant).await?;
            secrets::set_secret(&off.db, &hooks, &ctx, &hook, &name, value).await?;
            println!("secret {name} set on {hook}");
        }
        HookManageCommand::Allow {
            hook,
            tenant,
            rules,
        } => {
            let ctx = tenants::cli_ctx(&off.db, &tenant).await?;
            let allow = allow::Allow { rules };
            print_json(&allow::set_allow(&off.db, &hooks, &ctx, &hook, allow).await?)?;
        }
        HookManageCommand::Flow { tenant, bindings } => {
            let ctx = tenants::cli_ctx(&off.db, &tenant).await?;
            // The bindings are replaced; the flow's budget stays as the API last set it.
            let budget_ms = flow::flow(&off.db, &ctx).await?.budget_ms;
            let flow = Flow {
                bindings: bindings.into_iter().map(Into::into).collect(),
                budget_ms,
            };
            print_json(&flow::set_flow(&off.db, &hooks, &ctx, flow).await?)?;
        }
        HookManageCommand::Traces { tenant, limit } => {
            let ctx = tenants::cli_ctx(&off.db, &tenant).await?;
            let page = PageParams {
                limit: Some(limit),
                cursor: None,
            };
            print_json(&traces::traces(&off.db, &hooks, &ctx, &page).await?)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The hidden `hooks compile-worker`: compiles stdin to stdout under the limits the server
/// passed.
pub fn compile_worker(args: &CompileWorkerArgs) -> ExitCode {
    let engine = EngineSettings {
        max_wasm_stack: args.max_wasm_stack,
        max_memory_bytes: args.max_memory,
        pool_instances: args.pool_instances,
    };
    match sigil_hooks::compile::worker_main(&engine, args.address_space, args.cpu_seconds) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{e}");
            ExitCode::FAILURE
        }
    }
}
