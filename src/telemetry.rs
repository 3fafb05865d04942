//! Logging: `tracing` to stderr, human-readable on a terminal, JSON lines for log collectors.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Pretty on a terminal, plain text otherwise.
    Auto,
    /// Multi-line, coloured.
    Pretty,
    /// One JSON object per line.
    Json,
}

/// Installs the global subscriber (once, from the binary). `RUST_LOG` overrides the level.
pub fn init(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,tower_http=info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let tty = std::io::stderr().is_terminal();
    let _ = match format {
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
        LogFormat::Pretty => builder.pretty().try_init(),
        LogFormat::Auto if tty => builder.pretty().try_init(),
        LogFormat::Auto => builder.with_ansi(false).try_init(),
    };
}
