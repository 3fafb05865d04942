//! The README's walk-through, run as written against a fresh server, so it cannot rot.
//!
//! Everything between `<!-- walkthrough -->` and `<!-- /walkthrough -->` in README.md runs in
//! order, in one bash session, from the repository's directory:
//! - every ```sh block, command by command; a command fails the run when it fails (the
//!   session's `curl` fails on an HTTP error status, as `--fail-with-body` does);
//! - a comment right after a command that shows its output (`# {"id":"usr_...",...}`, lines
//!   starting with `{`, `[` or continuing with `#  `) is checked against what the command
//!   printed: `...` matches anything and whitespace is ignored. An output that is an error
//!   body (`{"code":...` or `{"error":...`) is what the step is meant to show, so that
//!   command may fail;
//! - `<!-- walkthrough: ... -->` comments, invisible on the rendered page, run where they
//!   stand: only what a reader does by hand differently (starting the server, which the
//!   quickstart did in another terminal).
//!
//! The differences from a reader's run are these, and only these: the server listens on a free
//! port instead of 8080 (the text's `127.0.0.1:8080` is rewritten to it), its database is in a
//! temporary directory (`DATABASE_URL`, which the CLI commands read too), and `sigil` is this
//! build's binary.

use std::path::{Path, PathBuf};
use std::process::Command;

/// One thing the walk-through does.
#[derive(Debug, PartialEq)]
enum Step {
    /// A shell command, and the output the README shows for it (if any).
    Command { text: String, shows: Option<String> },
    /// A hidden `<!-- walkthrough: ... -->` step.
    Hidden(String),
}

/// The steps between the markers, in order.
fn steps(readme: &str) -> Vec<Step> {
    let start = readme
        .find("<!-- walkthrough -->")
        .expect("README.md has a <!-- walkthrough --> marker");
    let end = readme
        .find("<!-- /walkthrough -->")
        .expect("README.md has a <!-- /walkthrough --> marker");
    let region = &readme[start + "<!-- walkthrough -->".len()..end];
    let mut out = Vec::new();
    let mut rest = region;
    loop {
        let hidden = rest.find("<!-- walkthrough:");
        let block = rest.find("```sh\n");
        match (hidden, block) {
            (Some(h), b) if b.is_none_or(|b| h < b) => {
                let body = &rest[h + "<!-- walkthrough:".len()..];
                let close = body.find("-->").expect("a closed walkthrough comment");
                out.push(Step::Hidden(body[..close].trim().to_string()));
                rest = &body[close + 3..];
            }
            (_, Some(b)) => {
                let body = &rest[b + "```sh\n".len()..];
                let close = body.find("\n```").expect("a closed ```sh block");
                out.extend(commands(&body[..close + 1]));
                rest = &body[close + 4..];
            }
            _ => break,
        }
    }
    out
}

/// Splits a shell block into commands: a newline ends a command unless it is inside quotes,
/// inside `$( ... )` or escaped with a backslash. Comment lines that show output attach to the
/// command before them; other comments are dropped.
fn commands(block: &str) -> Vec<Step> {
    let mut out: Vec<Step> = Vec::new();
    let mut current = String::new();
    let (mut single, mut double, mut depth) = (false, false, 0i32);
    let mut last_was_command = false;
    for line in block.lines() {
        if current.is_empty() {
            let t = line.trim_start();
            if t.is_empty() {
                last_was_command = false;
                continue;
            }
            if let Some(c) = t.strip_prefix('#') {
                let shown = c.strip_prefix(' ').unwrap_or(c);
                let starts =
                    shown.starts_with('{') || shown.starts_with('[') || shown.starts_with("http");
                let continues = shown.starts_with(' ') || shown.starts_with("...");
                if let Some(Step::Command { shows, .. }) = out.last_mut()
                    && last_was_command
                    && (starts && shows.is_none() || continues && shows.is_some())
                {
                    shows.get_or_insert_with(String::new).push_str(shown.trim());
                    continue;
                }
                last_was_command = false;
                continue;
            }
        }
        let mut escaped = false;
        let mut prev = ' ';
        for ch in line.chars() {
            // A `#` starting a word outside quotes comments out the rest of the line.
            if ch == '#' && !single && !double && !escaped && prev.is_whitespace() {
                break;
            }
            prev = ch;
            match ch {
                _ if escaped => escaped = false,
                '\\' if !single => escaped = true,
                '\'' if !double => single = !single,
                '"' if !single => double = !double,
                '(' if !single && !double => depth += 1,
                ')' if !single && !double => depth -= 1,
                _ => {}
            }
        }
        current.push_str(line);
        current.push('\n');
        let continued = line.trim_end().ends_with('\\');
        if !single && !double && depth == 0 && !continued {
            out.push(Step::Command {
                text: std::mem::take(&mut current),
                shows: None,
            });
            last_was_command = true;
        }
    }
    assert!(current.is_empty(), "an unfinished command: {current}");
    out
}

/// Whether `output` is what the README shows: `...` matches anything, whitespace is ignored.
fn matches(shown: &str, output: &str) -> bool {
    let squash = |s: &str| s.chars().filter(|c| !c.is_whitespace()).collect::<String>();
    let (shown, output) = (squash(shown), squash(output));
    let pieces: Vec<&str> = shown.split("...").collect();
    let (first, last) = (pieces[0], pieces[pieces.len() - 1]);
    if pieces.len() == 1 {
        return shown == output;
    }
    if !output.starts_with(first) || !output[first.len()..].ends_with(last) {
        return false;
    }
    let mut at = first.len();
    let end = output.len() - last.len();
    for p in &pieces[1..pieces.len() - 1] {
        match output[at..end].find(p) {
            Some(i) => at += i + p.len(),
            None => return false,
        }
    }
    true
}

/// The bash script of the steps; each command with a shown output writes it to
/// `$WALK/out-N` for [`matches`] to compare afterwards.
fn script(steps: &[Step]) -> String {
    let mut s = String::from(
        "set -euo pipefail\n\
         curl() { command curl --fail-with-body \"$@\"; }\n",
    );
    for (i, step) in steps.iter().enumerate() {
        match step {
            Step::Hidden(text) => {
                s.push_str(text);
                s.push('\n');
            }
            Step::Command { text, shows: None } => {
                s.push_str(&format!("echo '+ step {i}' >&2\n{text}"));
            }
            Step::Command {
                text,
                shows: Some(shown),
            } => {
                let may_fail = shown.starts_with("{\"code\":") || shown.starts_with("{\"error\":");
                let tolerate = if may_fail { " || true" } else { "" };
                s.push_str(&format!(
                    "echo '+ step {i}' >&2\n{{\n{text}}} > \"$WALK/out-{i}\"{tolerate}\ncat \"$WALK/out-{i}\"\n"
                ));
            }
        }
    }
    s
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn the_readme_walk_through_runs_as_written() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let readme = std::fs::read_to_string(repo.join("README.md")).unwrap();
    let port = free_port();
    let readme = readme
        .replace("127.0.0.1:8080", &format!("127.0.0.1:{port}"))
        .replace("127.0.0.1%3A8080", &format!("127.0.0.1%3A{port}"));
    let steps = steps(&readme);
    assert!(
        steps.len() > 20,
        "the walk-through has {} steps",
        steps.len()
    );

    let walk = std::env::temp_dir().join(format!("sigil-walkthrough-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&walk);
    let bin = walk.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_sigil"), bin.join("sigil")).unwrap();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let text = script(&steps);
    std::fs::write(walk.join("walkthrough.sh"), &text).unwrap();

    let out = Command::new("bash")
        .arg(walk.join("walkthrough.sh"))
        .current_dir(repo)
        .env("PATH", path)
        .env("WALK", &walk)
        .env("SIGIL_LISTEN", format!("127.0.0.1:{port}"))
        .env(
            "DATABASE_URL",
            format!("sqlite://{}/data/sigil.db", walk.display()),
        )
        .env("SIGIL_OPERATOR_KEY_FILE", walk.join("operator-key"))
        .env_remove("SIGIL_PUBLIC_URL")
        .env_remove("SIGIL_MASTER_KEY")
        .env("RUST_LOG", "warn")
        .output()
        .expect("bash runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let server_log = std::fs::read_to_string(walk.join("server.log")).unwrap_or_default();
    assert!(
        out.status.success(),
        "the walk-through stopped ({}); script: {}\n--- stdout\n{stdout}\n--- stderr\n{stderr}\n--- server log\n{server_log}",
        out.status,
        walk.join("walkthrough.sh").display()
    );
    let mut wrong = Vec::new();
    for (i, step) in steps.iter().enumerate() {
        if let Step::Command {
            text,
            shows: Some(shown),
        } = step
        {
            let got = std::fs::read_to_string(walk.join(format!("out-{i}"))).unwrap_or_default();
            if !matches(shown, &got) {
                wrong.push(format!(
                    "step {i}: {}\n  README shows: {shown}\n  printed:      {}",
                    text.trim(),
                    got.trim()
                ));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "outputs differ from the README:\n{}",
        wrong.join("\n")
    );
    let _ = std::fs::remove_dir_all(&walk);
    let _: PathBuf = walk;
}

#[test]
fn commands_split_at_newlines_outside_quotes_and_keep_their_shown_output() {
    let block = "A=1   # a note\n\
                 curl -s -d '{\n  \"a\": 1 }' \\\n  -H x\n\
                 # {\"id\":\"usr_...\",\n\
                 #  \"b\":2}\n\
                 # an explanation, not output\n\
                 X=$(echo \"(\" |\n  tr a b)   # Ada's\n";
    let got = commands(block);
    assert_eq!(got.len(), 3, "{got:?}");
    assert_eq!(
        got[0],
        Step::Command {
            text: "A=1   # a note\n".into(),
            shows: None
        }
    );
    match &got[1] {
        Step::Command { text, shows } => {
            assert!(text.ends_with("-H x\n"), "{text}");
            assert_eq!(shows.as_deref(), Some("{\"id\":\"usr_...\",\"b\":2}"));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn shown_output_matches_with_ellipses_and_without_whitespace() {
    assert!(matches(
        r#"{"id":"usr_...","email":"ada@example.com",...}"#,
        r#"{"id":"usr_01K","email":"ada@example.com","x":1}"#
    ));
    assert!(matches("{\"a\": 1,\n \"b\": 2}", "{\"a\":1,\"b\":2}\n"));
    assert!(!matches(r#"{"id":"usr_..."}"#, r#"{"id":"org_1"}"#));
    assert!(!matches(r#"{"a":1}"#, r#"{"a":1,"b":2}"#));
    assert!(!matches(r#"{"a":...,"c":3}"#, r#"{"a":1,"b":2}"#));
}
