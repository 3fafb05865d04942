//! Parse-time errors. Every error names where it happened so the management API can point the
//! customer at the exact claim and character instead of echoing the whole template back.

/// One problem found while parsing a template.
///
/// `pointer` is the JSON pointer (RFC 6901) of the offending value inside the template, e.g.
/// `/department` or `/https:~1~1example.com~1roles/0`; it is empty for errors about the whole
/// template. `offset` is the 0-based character (not byte) offset inside that string value, 0
/// when the error is about the value as a whole.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{pointer} at {offset}: {message}")]
pub struct TemplateError {
    /// JSON pointer of the offending value within the template.
    pub pointer: String,
    /// Character offset inside the string at `pointer`.
    pub offset: usize,
    /// What kind of problem this is, for programmatic handling.
    pub kind: ErrorKind,
    /// Human-readable explanation, safe to show to the template author.
    pub message: String,
}

/// The category of a [`TemplateError`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// Malformed expression: unclosed `{{`, empty expression, bad path, bad literal.
    Syntax,
    /// A path starts with something other than a known event root.
    UnknownRoot,
    /// A path names a field the event does not have, or reaches into a single value.
    UnknownField,
    /// The claim is reserved for the server (e.g. `iss`, `sub`).
    RestrictedClaim,
    /// The template is not a JSON object.
    NotAnObject,
    /// The serialized template exceeds [`Limits::max_bytes`](super::Limits::max_bytes).
    TooLarge,
    /// Objects and arrays nest deeper than [`Limits::max_depth`](super::Limits::max_depth).
    TooDeep,
    /// More expressions than [`Limits::max_expressions`](super::Limits::max_expressions).
    TooManyExpressions,
}

impl ErrorKind {
    /// Stable snake_case identifier, suitable for API error bodies.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Syntax => "syntax",
            Self::UnknownRoot => "unknown_root",
            Self::UnknownField => "unknown_field",
            Self::RestrictedClaim => "restricted_claim",
            Self::NotAnObject => "not_an_object",
            Self::TooLarge => "too_large",
            Self::TooDeep => "too_deep",
            Self::TooManyExpressions => "too_many_expressions",
        }
    }
}
