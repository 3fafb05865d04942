//! Field checks shared by the management API and the login path (a legacy store's profiles):
//! each names the field it refuses and why, so the caller can say so.

/// A refused field: which one, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct FieldError {
    /// The field, as the caller named it.
    pub field: String,
    /// Why it is refused.
    pub message: String,
}

fn invalid(field: impl Into<String>, message: impl Into<String>) -> FieldError {
    FieldError {
        field: field.into(),
        message: message.into(),
    }
}

/// Checks an email's shape (one `@`, non-empty parts, no spaces, at most 254 characters).
pub fn email(field: &str, value: &str) -> Result<(), FieldError> {
    let v = value.trim();
    let ok = v.chars().count() <= 254
        && !v.chars().any(char::is_whitespace)
        && matches!(v.split_once('@'), Some((local, domain))
            if !local.is_empty() && !domain.is_empty() && !domain.contains('@')
               && !domain.starts_with('.') && !domain.ends_with('.'));
    if ok {
        Ok(())
    } else {
        Err(invalid(field, "must be an email address"))
    }
}

/// Checks a free-text field: not blank, at most `max` characters, no control characters.
pub fn text(field: &str, value: &str, max: usize) -> Result<(), FieldError> {
    if value.trim().is_empty() {
        return Err(invalid(field, "must not be empty"));
    }
    if value.chars().count() > max {
        return Err(invalid(field, format!("must be at most {max} characters")));
    }
    if value.chars().any(char::is_control) {
        return Err(invalid(field, "must not contain control characters"));
    }
    Ok(())
}

/// Checks an optional free-text field.
pub fn opt_text(field: &str, value: Option<&str>, max: usize) -> Result<(), FieldError> {
    value.map_or(Ok(()), |v| text(field, v, max))
}

/// Checks an external id: 1 to 128 characters.
pub fn external_id(value: Option<&str>) -> Result<(), FieldError> {
    opt_text("external_id", value, 128)
}

/// Checks a picture URL (http or https).
pub fn picture(value: Option<&str>) -> Result<(), FieldError> {
    if let Some(v) = value {
        text("picture", v, 2048)?;
        match url::Url::parse(v) {
            Ok(u) if matches!(u.scheme(), "http" | "https") => {}
            _ => return Err(invalid("picture", "must be an http(s) URL")),
        }
    }
    Ok(())
}

/// Checks a token-like value (role names, permissions, scopes, identifiers): printable ASCII
/// without spaces, 1 to `max` characters.
pub fn token(field: &str, value: &str, max: usize) -> Result<(), FieldError> {
    let ok = !value.is_empty() && value.len() <= max && value.chars().all(|c| c.is_ascii_graphic());
    if ok {
        Ok(())
    } else {
        Err(invalid(
            field,
            format!("must be 1 to {max} printable ASCII characters without spaces"),
        ))
    }
}

/// Whether `c` may begin a name in a JWT template path (`user.user_metadata.department`):
/// a letter or `_` (docs/jwt-templates.md). The template parser and the register of metadata
/// keys it suggests share this rule.
pub fn is_template_name_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_'
}

/// Whether `c` may continue a name in a JWT template path: a letter, a digit, `_` or `-`.
pub fn is_template_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '-'
}
