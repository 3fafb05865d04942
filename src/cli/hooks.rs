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
pub fn test(mut args: HookTestArgs) -> Result<ExitCode> {
    let secrets: Vec<(String, String)> = std::mem::take(&mut args.secrets)
        .into_iter()
        .map(|s| (s.name, s.value))
        .collect();
    let limits = args.limits.limits();
    let allow = AllowList::new(std::mem::take(&mut args.allow))
        .map_err(|e| anyhow::anyhow!("--allow: {e}"))?;
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
    let user_store = [args.login.is_some(), args.lookup.is_some(), args.user_count];
    if user_store.contains(&true) {
        let code = user_store_test(&runner, &args, limits, secrets, allow)?;
        save_tape(&args, &tape)?;
        return Ok(code);
    }
    let event_file = args.event.as_ref().expect("clap requires --event here");
    let event = LocalEvent::from_json(&read_text(event_file)?)?;
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
    save_tape(&args, &tape)?;
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

/// Writes the recording, when `--record` asked for one.
fn save_tape(args: &HookTestArgs, tape: &Option<Arc<Tape>>) -> Result<()> {
    if let (Some(file), Some(tape)) = (&args.record, tape) {
        std::fs::write(file, tape.to_text())
            .map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
    }
    Ok(())
}

/// `sigil hooks test HOOK --login NAME | --lookup NAME | --user-count`: asks one user-store
/// hook, as a tenant's legacy store is asked at a login, and prints its answer and trace. Exits
/// 1 when the hook failed or refused the login (with why on stderr).
fn user_store_test(
    runner: &LocalRunner,
    args: &HookTestArgs,
    limits: sigil_hooks::Limits,
    secrets: Vec<(String, String)>,
    allow: AllowList,
) -> Result<ExitCode> {
    use sigil_hooks::user_store::{LoginAnswer, Password, StoreAnswer, StoreCall};
    let [file] = args.files.as_slice() else {
        anyhow::bail!("a user-store hook is tested alone: give one file");
    };
    let hook = runner
        .prepare(&read(file)?)
        .map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
    if hook.world() != sigil_hooks::prepare::World::UserStore {
        anyhow::bail!(
            "{} is a {} hook; --login, --lookup and --user-count ask user-store hooks",
            file.display(),
            hook.world().name()
        );
    }
    let step = runner::step(&hook_name(file), hook, limits, secrets, allow);
    let call = match (&args.login, &args.lookup) {
        (Some(name), _) => {
            use sigil::clock::Clock as _;
            let password = read_text(Path::new("-"))?;
            let now_ms = sigil::clock::SystemClock.now_ms();
            StoreCall::Login {
                identifier: name.clone(),
                password: Password(password.trim_end_matches(['\n', '\r']).to_string()),
                tenant_id: "local".into(),
                tenant_name: "local".into(),
                now: sigil::clock::rfc3339(now_ms),
                now_ms,
            }
        }
        (None, Some(name)) => StoreCall::Lookup(name.clone()),
        (None, None) => StoreCall::UserCount,
    };
    let run = runner.user_store(&step, call);
    #[derive(serde::Serialize)]
    struct Printed<'a> {
        answer: Option<&'a StoreAnswer>,
        trace: &'a sigil_hooks::outcome::HookTrace,
    }
    print_json(&Printed {
        answer: run.result.as_ref().ok(),
        trace: &run.trace,
    })?;
    Ok(match &run.result {
        Ok(StoreAnswer::Login(LoginAnswer::WrongPassword | LoginAnswer::UnknownUser)) => {
            eprintln!("refused: {}", run.trace.outcome);
            ExitCode::FAILURE
        }
        Ok(_) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("failed ({}): {e}", e.code());
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
        HookManageCommand::Traces {
            tenant,
            limit,
            user,
            client,
            status,
            hook,
        } => {
            let ctx = tenants::cli_ctx(&off.db, &tenant).await?;
            let page = PageParams {
                limit: Some(limit),
                cursor: None,
            };
            let query = traces::TraceQuery {
                user_id: user,
                client_id: client,
                status,
                hook,
            };
            print_json(&traces::traces(&off.db, &hooks, &ctx, &query, &page).await?)?;
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
