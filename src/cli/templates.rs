//! `sigil templates ...`: JWT templates on the database. An invalid template prints each
//! error with its position and code on stderr and exits 2.

use std::process::ExitCode;

use anyhow::Result;

use sigil::manage::ManageError;
use sigil::manage::templates::{self, PreviewInput, TokenKind};
use sigil::manage::tenants;

use super::args::Target;
use super::args::TemplatesCommand;
use super::{offline, offline_settings, print_json, read_json};

/// Runs one templates command.
pub async fn run(target: &Target, command: TemplatesCommand) -> Result<ExitCode> {
    let off = offline(&offline_settings(target)).await?;
    match command {
        TemplatesCommand::Get { tenant, client } => {
            let ctx = tenants::cli_ctx(&off.db, &tenant).await?;
            print_json(&templates::get(&off.db, &ctx, client.as_deref()).await?)?;
        }
        TemplatesCommand::Set {
            token,
            file,
            tenant,
            client,
        } => {
            let ctx = tenants::cli_ctx(&off.db, &tenant).await?;
            let kind = TokenKind::parse(&token)?;
            match templates::set(
                &off.db,
                &off.templates,
                &ctx,
                client.as_deref(),
                kind,
                read_json(&file)?,
            )
            .await
            {
                Ok(v) => print_json(&v)?,
                Err(e) => return invalid(e),
            }
        }
        TemplatesCommand::Preview {
            file,
            token,
            tenant,
            client,
            user,
            organization,
            event,
        } => {
            let ctx = tenants::cli_ctx(&off.db, &tenant).await?;
            let input = PreviewInput {
                template: file.as_deref().map(read_json).transpose()?,
                token,
                client_id: client,
                user_id: user,
                organization,
                event: event.as_deref().map(read_json).transpose()?,
            };
            match templates::preview(&off.db, &off.templates, &ctx, input).await {
                Ok(p) => print_json(&serde_json::json!({
                    "access_token": p.access_token,
                    "id_token": p.id_token,
                }))?,
                Err(e) => return invalid(e),
            }
        }
        TemplatesCommand::Delete {
            token,
            tenant,
            client,
        } => {
            let ctx = tenants::cli_ctx(&off.db, &tenant).await?;
            templates::delete(
                &off.db,
                &off.templates,
                &ctx,
                client.as_deref(),
                TokenKind::parse(&token)?,
            )
            .await?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// An invalid template: every error on stderr and exit code 2; any other error is returned.
fn invalid(e: ManageError) -> Result<ExitCode> {
    if let ManageError::InvalidTemplate(errs) = &e {
        for x in errs {
            eprintln!("error: {x} [{}]", x.kind.code());
        }
        return Ok(ExitCode::from(2));
    }
    Err(e.into())
}
