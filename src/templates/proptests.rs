//! Parse and render must never panic, whatever a customer (or attacker) stores.

use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::select;
use serde_json::{Map, Value};

use super::tests::{RESTRICTED, event};
use super::{ErrorKind, Limits, Template, TemplateError};

const FRAGMENTS: &[&str] = &[
    "{{",
    "}}",
    "||",
    "'",
    "\"",
    ".",
    "\\",
    "\\{{",
    " ",
    "user",
    "user.email",
    "user.roles",
    "organization.metadata.tier",
    "user.user_metadata.x",
    "0",
    "01",
    "-",
    "1e5",
    "1e999",
    "true",
    "now",
    "é",
    "{",
    "}",
    "|",
    "\\'",
    "x",
];

fn text() -> impl Strategy<Value = String> {
    let piece = prop_oneof![8 => select(FRAGMENTS).prop_map(str::to_owned), 1 => ".{0,3}"];
    prop_oneof![3 => vec(piece, 0..12).prop_map(|v| v.concat()), 1 => any::<String>()]
}

fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        select(&["sub", "a", "https://x/y", "a~b", ""][..]).prop_map(str::to_owned),
        text()
    ]
}

fn json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        4 => text().prop_map(Value::String),
        1 => any::<i64>().prop_map(Value::from),
        1 => any::<bool>().prop_map(Value::Bool),
        1 => Just(Value::Null),
    ];
    leaf.prop_recursive(5, 48, 6, |inner| {
        prop_oneof![
            vec(inner.clone(), 0..6).prop_map(Value::Array),
            vec((key(), inner), 0..6).prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn template() -> impl Strategy<Value = Value> {
    let claims = vec((key(), json()), 0..8).prop_map(|m| Value::Object(m.into_iter().collect()));
    prop_oneof![9 => claims, 1 => json()]
}

fn limits() -> impl Strategy<Value = Limits> {
    (0usize..400, 0usize..6, 0usize..6).prop_map(|(max_bytes, max_depth, max_expressions)| Limits {
        max_bytes,
        max_depth,
        max_expressions,
    })
}

/// Errors must point at something real in the template, so the UI can highlight it.
fn check_errors(template: &Value, errs: &[TemplateError]) -> Result<(), TestCaseError> {
    prop_assert!(!errs.is_empty() && errs.len() <= 20);
    for e in errs {
        let target = template.pointer(&e.pointer);
        prop_assert!(target.is_some(), "dangling pointer {:?}", e.pointer);
        if let Some(Value::String(s)) = target
            && matches!(
                e.kind,
                ErrorKind::Syntax | ErrorKind::UnknownRoot | ErrorKind::UnknownField
            )
        {
            // An error at the end of the string (an unclosed `{{user.`) points just past its
            // last character.
            prop_assert!(
                e.offset <= s.chars().count(),
                "offset {} in {s:?}",
                e.offset
            );
        }
    }
    Ok(())
}

/// Renders against the sample event and a hostile one; rendered claims are declared ones.
fn check_render(t: &Template) -> Result<(), TestCaseError> {
    let names: Vec<&str> = t.claim_names().collect();
    for ev in [
        event(),
        Value::Null,
        serde_json::json!({"user": [1], "now": {"a": 1}}),
    ] {
        let out = t.render(&ev);
        for (k, v) in &out {
            prop_assert!(names.contains(&k.as_str()));
            prop_assert!(!v.is_null());
        }
    }
    Ok(())
}

proptest! {
    #[test]
    fn any_string_claim(s in text()) {
        let template = Value::Object(Map::from_iter([("claim".to_owned(), Value::String(s))]));
        match Template::parse(&template, RESTRICTED, &Limits::default()) {
            Ok(t) => check_render(&t)?,
            Err(errs) => check_errors(&template, &errs)?,
        }
    }

    #[test]
    fn any_template(template in template(), limits in prop_oneof![Just(Limits::default()), limits()]) {
        match Template::parse(&template, RESTRICTED, &limits) {
            Ok(t) => {
                check_render(&t)?;
                // Without expressions a template renders to itself, minus null claims.
                let text = template.to_string();
                if !text.contains("{{") {
                    let mut expected = template.as_object().cloned().unwrap_or_default();
                    expected.retain(|_, v| !v.is_null());
                    prop_assert_eq!(t.render(&event()), expected);
                }
            }
            Err(errs) => check_errors(&template, &errs)?,
        }
    }
}
