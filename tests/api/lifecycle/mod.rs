//! A node's life (issue 13 item 4): starting beside other nodes on one database.

mod migrations;

use sigil::startup::Settings;

/// Settings for one node on a shared database, as the harness makes them (the shared hook
/// runtime, this build's compile worker, light password hashing), with the deployment's
/// master key.
pub(crate) fn node_settings(url: &str, master_key: &str) -> Settings {
    let mut s = Settings::new("127.0.0.1:0".parse().unwrap(), url);
    s.max_connections = 3;
    s.hook_runtime = Some(crate::helpers::shared_runtime());
    s.compiler.exe = env!("CARGO_BIN_EXE_sigil").into();
    s.passwords = sigil::passwords::PasswordHasher::new(4096, 1, 1);
    s.master_key = Some(master_key.to_string());
    s
}
