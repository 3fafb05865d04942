//! Value syntaxes of the command line, each a [`FromStr`] clap calls, so a malformed value is
//! refused while parsing, with the argument named, before anything opens the database:
//!
//! - [`FlowBinding`]: `HOOK[@VERSION][:fail_open|:fail_closed][:MSms]` (`sigil hooks flow`);
//! - [`HookSecret`]: `NAME=VALUE` (`sigil hooks test --secret`).

use std::fmt;
use std::str::FromStr;

use sigil::manage::hooks::flow::Binding;
use sigil_hooks::outcome::FailurePolicy;

/// One binding of the post-login flow: `HOOK[@VERSION][:POLICY][:MSms]`.
///
/// `HOOK` is the hook's name or id; `@VERSION` pins a version (a positive whole number;
/// without it the hook's deployed version runs); `:POLICY` is `fail_closed` (the default) or
/// `fail_open`; `:MSms` is the binding's own deadline in milliseconds, for a hook that calls an
/// API (`crm:fail_open:2000ms`; the server holds it to its `--hook-fetch-deadline-ms`). The
/// deadline is a last `:` segment ending in `ms`, the policy the last `:` segment before it and
/// the version what follows the last `@`, so a hook whose name holds `@` or `:` is bound by its
/// id (`hook_...`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlowBinding {
    /// The hook's name or id.
    pub hook: String,
    /// A pinned version.
    pub version: Option<i64>,
    /// What a failure of the hook does to the login.
    pub policy: FailurePolicy,
    /// The binding's own deadline, ms.
    pub deadline_ms: Option<u64>,
}

/// Why a flow binding does not parse. The messages follow clap's "invalid value 'X' for
/// '[BINDINGS]...': ", which already quotes the whole binding.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BindingError {
    /// Nothing before `@` or `:`.
    #[error(
        "no hook before the version or policy (expected HOOK[@VERSION][:fail_open|:fail_closed][:MSms])"
    )]
    NoHook,
    /// `@` followed by something that is not a version.
    #[error(
        "the version `{0}` is not a positive whole number (a hook whose name holds `@` is bound by its id)"
    )]
    Version(String),
    /// A `:...ms` segment that is not a whole number of milliseconds above zero.
    #[error("the deadline `{0}` is not a whole number of milliseconds above zero, like `2000ms`")]
    Deadline(String),
    /// `:` followed by something that is not a policy.
    #[error(
        "unknown failure policy `{0}`: fail_open or fail_closed (a hook whose name holds `:` is bound by its id)"
    )]
    Policy(String),
}

impl FromStr for FlowBinding {
    type Err = BindingError;

    fn from_str(s: &str) -> Result<Self, BindingError> {
        let (s, deadline_ms) = match s.rsplit_once(':') {
            Some((rest, d)) if d.ends_with("ms") => {
                let digits = &d[..d.len() - 2];
                match digits.parse::<u64>() {
                    Ok(n) if n > 0 && !digits.starts_with('+') => (rest, Some(n)),
                    _ => return Err(BindingError::Deadline(d.into())),
                }
            }
            _ => (s, None),
        };
        let (rest, policy) = match s.rsplit_once(':') {
            None => (s, FailurePolicy::FailClosed),
            Some((rest, "fail_closed")) => (rest, FailurePolicy::FailClosed),
            Some((rest, "fail_open")) => (rest, FailurePolicy::FailOpen),
            Some((_, other)) => return Err(BindingError::Policy(other.into())),
        };
        let (hook, version) = match rest.rsplit_once('@') {
            None => (rest, None),
            Some((hook, v)) => match v.parse::<i64>() {
                // `parse` accepts a leading `+`; a version is written as the API shows it.
                Ok(n) if n > 0 && !v.starts_with('+') => (hook, Some(n)),
                _ => return Err(BindingError::Version(v.into())),
            },
        };
        if hook.is_empty() {
            return Err(BindingError::NoHook);
        }
        Ok(FlowBinding {
            hook: hook.into(),
            version,
            policy,
            deadline_ms,
        })
    }
}

impl fmt::Display for FlowBinding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.hook)?;
        if let Some(v) = self.version {
            write!(f, "@{v}")?;
        }
        if self.policy == FailurePolicy::FailOpen {
            f.write_str(":fail_open")?;
        }
        match self.deadline_ms {
            Some(ms) => write!(f, ":{ms}ms"),
            None => Ok(()),
        }
    }
}

impl From<FlowBinding> for Binding {
    fn from(b: FlowBinding) -> Self {
        Binding {
            hook: b.hook,
            hook_name: None,
            version: b.version,
            failure_policy: b.policy,
            deadline_ms: b.deadline_ms,
        }
    }
}

/// A secret a locally run hook can read: `NAME=VALUE` (split at the first `=`, so the value
/// may hold more). The value never appears in debug output.
#[derive(Clone, PartialEq, Eq)]
pub struct HookSecret {
    /// What the hook asks for.
    pub name: String,
    /// What it gets.
    pub value: String,
}

impl fmt::Debug for HookSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HookSecret")
            .field("name", &self.name)
            .field("value", &"[redacted]")
            .finish()
    }
}

/// Why a secret does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretError {
    /// No `=`.
    #[error("expected NAME=VALUE")]
    NoValue,
    /// Nothing before `=`.
    #[error("the secret's name is empty (expected NAME=VALUE)")]
    NoName,
}

impl FromStr for HookSecret {
    type Err = SecretError;

    fn from_str(s: &str) -> Result<Self, SecretError> {
        let (name, value) = s.split_once('=').ok_or(SecretError::NoValue)?;
        if name.is_empty() {
            return Err(SecretError::NoName);
        }
        Ok(HookSecret {
            name: name.into(),
            value: value.into(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn binding(hook: &str, version: Option<i64>, policy: FailurePolicy) -> FlowBinding {
        FlowBinding {
            hook: hook.into(),
            version,
            policy,
            deadline_ms: None,
        }
    }

    #[test]
    fn bindings_take_a_deadline_of_their_own() {
        use FailurePolicy::{FailClosed, FailOpen};
        let with = |b: FlowBinding, ms| FlowBinding {
            deadline_ms: Some(ms),
            ..b
        };
        for (text, expected) in [
            ("crm:2000ms", with(binding("crm", None, FailClosed), 2000)),
            (
                "crm:fail_open:2000ms",
                with(binding("crm", None, FailOpen), 2000),
            ),
            (
                "crm@3:fail_closed:150ms",
                with(binding("crm", Some(3), FailClosed), 150),
            ),
        ] {
            assert_eq!(text.parse::<FlowBinding>(), Ok(expected), "{text}");
        }
        for (text, bad) in [("crm:0ms", "0ms"), ("crm:twoms", "twoms"), ("crm:ms", "ms")] {
            assert_eq!(
                text.parse::<FlowBinding>(),
                Err(BindingError::Deadline(bad.into())),
                "{text}"
            );
        }
        assert_eq!(
            "crm@3:fail_open:2000ms"
                .parse::<FlowBinding>()
                .unwrap()
                .to_string(),
            "crm@3:fail_open:2000ms"
        );
    }

    #[test]
    fn bindings_parse_hook_version_and_policy() {
        use FailurePolicy::{FailClosed, FailOpen};
        for (text, expected) in [
            ("roles", binding("roles", None, FailClosed)),
            ("roles@2", binding("roles", Some(2), FailClosed)),
            ("roles:fail_open", binding("roles", None, FailOpen)),
            ("roles:fail_closed", binding("roles", None, FailClosed)),
            ("roles@12:fail_open", binding("roles", Some(12), FailOpen)),
            (
                "hook_01K0ABC@3",
                binding("hook_01K0ABC", Some(3), FailClosed),
            ),
        ] {
            assert_eq!(text.parse::<FlowBinding>(), Ok(expected), "{text}");
        }
    }

    #[test]
    fn bad_bindings_say_what_is_wrong() {
        for (text, expected) in [
            ("", BindingError::NoHook),
            ("@2", BindingError::NoHook),
            (":fail_open", BindingError::NoHook),
            ("roles@", BindingError::Version("".into())),
            ("roles@two", BindingError::Version("two".into())),
            ("roles@0", BindingError::Version("0".into())),
            ("roles@-1", BindingError::Version("-1".into())),
            ("roles@+1", BindingError::Version("+1".into())),
            ("roles@1.5", BindingError::Version("1.5".into())),
            ("roles:fail-open", BindingError::Policy("fail-open".into())),
            ("roles:", BindingError::Policy("".into())),
            (
                "roles@2:FAIL_OPEN",
                BindingError::Policy("FAIL_OPEN".into()),
            ),
            // The policy comes last: after it, nothing else is read.
            (
                "roles:fail_open@2",
                BindingError::Policy("fail_open@2".into()),
            ),
        ] {
            assert_eq!(text.parse::<FlowBinding>(), Err(expected), "{text:?}");
        }
        assert_eq!(
            "roles:fail-open"
                .parse::<FlowBinding>()
                .unwrap_err()
                .to_string(),
            "unknown failure policy `fail-open`: fail_open or fail_closed (a hook whose name \
             holds `:` is bound by its id)"
        );
        assert_eq!(
            "roles@x".parse::<FlowBinding>().unwrap_err().to_string(),
            "the version `x` is not a positive whole number (a hook whose name holds `@` is \
             bound by its id)"
        );
    }

    #[test]
    fn bindings_print_as_they_are_written() {
        for text in ["roles", "roles@2", "roles:fail_open", "roles@7:fail_open"] {
            assert_eq!(text.parse::<FlowBinding>().unwrap().to_string(), text);
        }
        // The default policy is not written out.
        assert_eq!(
            "roles@2:fail_closed"
                .parse::<FlowBinding>()
                .unwrap()
                .to_string(),
            "roles@2"
        );
    }

    #[test]
    fn a_binding_becomes_the_api_binding() {
        let b: Binding = "roles@2:fail_open".parse::<FlowBinding>().unwrap().into();
        assert_eq!(
            (b.hook.as_str(), b.version, b.failure_policy),
            ("roles", Some(2), FailurePolicy::FailOpen)
        );
    }

    #[test]
    fn secrets_split_at_the_first_equals_sign() {
        let s: HookSecret = "CRM_KEY=a=b".parse().unwrap();
        assert_eq!((s.name.as_str(), s.value.as_str()), ("CRM_KEY", "a=b"));
        let empty: HookSecret = "EMPTY=".parse().unwrap();
        assert_eq!(empty.value, "");
        assert_eq!("CRM_KEY".parse::<HookSecret>(), Err(SecretError::NoValue));
        assert_eq!("=value".parse::<HookSecret>(), Err(SecretError::NoName));
    }

    #[test]
    fn a_secret_value_never_prints() {
        let s: HookSecret = "CRM_KEY=s3cr3t".parse().unwrap();
        let shown = format!("{s:?}");
        assert!(
            shown.contains("CRM_KEY") && !shown.contains("s3cr3t"),
            "{shown}"
        );
    }
}
