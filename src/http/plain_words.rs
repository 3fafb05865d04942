//! serde's deserialization messages rewritten for the people reading a 400: what the field must
//! be and what it got, without Rust type names ("expected struct CreateUser with 13
//! elements", "u32") or the parser's line and column of a one-line body.

/// One problem of a request body or query, in plain words: the field at fault (a dot path,
/// when one is to blame) and what is wrong with it.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Problem {
    /// `user_metadata.plan`, `redirect_uris[1]`; `None` for the body as a whole.
    pub field: Option<String>,
    /// What is wrong, for people.
    pub message: String,
}

/// Rewrites serde's message about the value at `path` (serde_path_to_error's rendering: `.`
/// for the root, `?` where the parser lost track).
pub(super) fn problem(path: &str, serde_message: &str) -> Problem {
    let path = match path {
        "." | "?" | "" => None,
        p => Some(p.to_string()),
    };
    let text = strip_position(serde_message);
    if let Some(name) = between(text, "missing field `", "`") {
        let field = match &path {
            Some(p) => format!("{p}.{name}"),
            None => name.to_string(),
        };
        return Problem {
            field: Some(field),
            message: "is required".into(),
        };
    }
    let message = if let Some(rest) = text.strip_prefix("unknown field `") {
        match rest.split_once(", expected ") {
            Some((_, allowed)) => format!(
                "unknown field; the fields are {}",
                ticks(allowed.trim_start_matches("one of "))
            ),
            None => "unknown field; this object takes none".into(),
        }
    } else if let Some(rest) = text.strip_prefix("unknown variant `") {
        let (got, allowed) = rest.split_once("`, expected ").unwrap_or((rest, ""));
        format!("must be {} (got \"{got}\")", ticks(allowed))
    } else if let Some((got, expected)) = text
        .strip_prefix("invalid type: ")
        .or_else(|| text.strip_prefix("invalid value: "))
        .and_then(|r| r.split_once(", expected "))
    {
        format!(
            "must be {} (got {})",
            expected_words(expected),
            got_words(got)
        )
    } else if let Some((n, expected)) = text
        .strip_prefix("invalid length ")
        .and_then(|r| r.split_once(", expected "))
    {
        format!("must be {} (got {n} items)", expected_words(expected))
    } else {
        number_words(text).unwrap_or(text).to_string()
    };
    Problem {
        field: path,
        message,
    }
}

/// A syntax error of the body as a whole.
pub(super) fn syntax(serde_message: &str) -> String {
    if serde_message.starts_with("EOF while parsing a value at line 1 column 0") {
        return "the body is empty: send a JSON object".into();
    }
    let (what, at) = match serde_message.rsplit_once(" at line ") {
        Some((what, pos)) => (
            what,
            format!(" (line {})", pos.replace(" column ", ", column ")),
        ),
        None => (serde_message, String::new()),
    };
    format!("the body is not valid JSON: {what}{at}")
}

/// serde_json ends every message with the parser's position, which says nothing about a body
/// of one line that the field path does not say better.
fn strip_position(message: &str) -> &str {
    message
        .rsplit_once(" at line ")
        .filter(|(_, pos)| pos.contains(" column "))
        .map_or(message, |(m, _)| m)
}

fn between<'a>(text: &'a str, start: &str, end: &str) -> Option<&'a str> {
    let rest = text.strip_prefix(start)?;
    rest.split_once(end).map(|(inside, _)| inside)
}

/// "`a`, `b`" and "`a` or `b`" become "a, b" and "a or b".
fn ticks(list: &str) -> String {
    list.replace('`', "")
}

/// What serde says it expected, as a JSON type.
fn expected_words(expected: &str) -> String {
    let e = expected.trim();
    if e.starts_with("struct ") || e == "a map" || e.starts_with("a map ") {
        return "an object".into();
    }
    if e == "a sequence" || e.starts_with("a sequence ") || e.starts_with("a tuple") {
        return "an array".into();
    }
    if ["u8", "u16", "u32", "u64", "usize"].contains(&e) {
        return "a whole number, 0 or more".into();
    }
    if ["i8", "i16", "i32", "i64", "isize"].contains(&e) {
        return "a whole number".into();
    }
    if ["f32", "f64"].contains(&e) {
        return "a number".into();
    }
    if e == "a borrowed string" {
        return "a string".into();
    }
    if e.starts_with("enum ") {
        return "one of the allowed values".into();
    }
    ticks(e)
}

/// What serde says it got, as a JSON value.
fn got_words(got: &str) -> String {
    let g = got.trim();
    for (prefix, word) in [
        ("integer `", "the number "),
        ("floating point `", "the number "),
        ("boolean `", ""),
    ] {
        if let Some(v) = g.strip_prefix(prefix) {
            return format!("{word}{}", v.trim_end_matches('`'));
        }
    }
    if let Some(v) = g.strip_prefix("string ") {
        return format!("the string {v}");
    }
    match g {
        "map" => "an object".into(),
        "sequence" => "an array".into(),
        "unit value" | "null" => "null".into(),
        other => other.into(),
    }
}

/// The standard library's number-parsing messages (query strings parse numbers from text).
fn number_words(text: &str) -> Option<&'static str> {
    Some(match text {
        "invalid digit found in string" => "must be a whole number",
        "cannot parse integer from empty string" => "must be a whole number (got nothing)",
        "number too large to fit in target type" => "is too large",
        "number too small to fit in target type" => "is too small",
        "invalid float literal" => "must be a number",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(path: &str, msg: &str) -> (Option<String>, String) {
        let x = problem(path, msg);
        (x.field, x.message)
    }

    #[test]
    fn a_missing_field_is_named_and_required() {
        assert_eq!(
            p(".", "missing field `email` at line 1 column 2"),
            (Some("email".into()), "is required".into())
        );
        assert_eq!(
            p("scopes[0]", "missing field `value` at line 1 column 40"),
            (Some("scopes[0].value".into()), "is required".into())
        );
    }

    #[test]
    fn a_wrong_type_says_what_it_must_be_and_what_it_got() {
        assert_eq!(
            p(
                "email",
                "invalid type: integer `5`, expected a string at line 1 column 10"
            )
            .1,
            "must be a string (got the number 5)"
        );
        assert_eq!(
            p(
                "blocked",
                "invalid type: string \"yes\", expected a boolean at line 1 column 32"
            )
            .1,
            "must be a boolean (got the string \"yes\")"
        );
        assert_eq!(
            p(
                "roles",
                "invalid type: map, expected a sequence at line 1 column 9"
            )
            .1,
            "must be an array (got an object)"
        );
        assert_eq!(
            p("limit", "invalid value: integer `-1`, expected u32").1,
            "must be a whole number, 0 or more (got the number -1)"
        );
    }

    #[test]
    fn no_rust_type_names_or_positions_reach_the_reader() {
        let (_, m) = p(
            ".",
            "invalid length 0, expected struct CreateUser with 13 elements at line 1 column 2",
        );
        assert_eq!(m, "must be an object (got 0 items)");
        let (f, m) = p(
            "bogus",
            "unknown field `bogus`, expected one of `email`, `name` at line 1 column 24",
        );
        assert_eq!(f.as_deref(), Some("bogus"));
        assert_eq!(m, "unknown field; the fields are email, name");
        let (_, m) = p(
            "type",
            "unknown variant `private`, expected `public` or `confidential` at line 1 column 9",
        );
        assert_eq!(m, "must be public or confidential (got \"private\")");
        assert_eq!(
            p("limit", "invalid digit found in string").1,
            "must be a whole number"
        );
    }

    #[test]
    fn a_syntax_error_is_about_the_body() {
        assert_eq!(
            syntax("EOF while parsing an object at line 1 column 16"),
            "the body is not valid JSON: EOF while parsing an object (line 1, column 16)"
        );
        assert_eq!(
            syntax("EOF while parsing a value at line 1 column 0"),
            "the body is empty: send a JSON object"
        );
        assert_eq!(p("?", "whatever").0, None);
    }
}
