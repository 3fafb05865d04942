//! `LIKE` patterns built from user input: the input's `\`, `%` and `_` escaped, so it matches
//! only itself (every statement that uses one says `ESCAPE '\'`, which both databases take).

use super::Backend;

/// `text` with the `LIKE` wildcards and the escape character escaped.
pub fn escaped(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    for c in text.chars() {
        if matches!(c, '\\' | '%' | '_') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// `column` with its ASCII letters lower-cased, as SQL: one fold on both back-ends (SQLite's
/// `lower` folds ASCII only; PostgreSQL's would fold all of Unicode), for a prefix that
/// [`ascii_lower_prefix`] folded the same way.
pub fn ascii_lower(column: &str, backend: Backend) -> String {
    match backend {
        Backend::Sqlite => format!("lower({column})"),
        Backend::Postgres => format!(
            "translate({column}, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz')"
        ),
    }
}

/// The `LIKE` pattern of the values whose [`ascii_lower`] starts with `prefix` folded alike.
pub fn ascii_lower_prefix(prefix: &str) -> String {
    starting_with(&prefix.to_ascii_lowercase())
}

/// A search by the start of a name, its ASCII letters in any case ([`ascii_lower`]).
#[derive(Debug, Clone, Copy)]
pub struct NamePrefix<'a> {
    /// What was typed.
    pub prefix: &'a str,
    /// The database's, for the fold.
    pub backend: Backend,
}

impl NamePrefix<'_> {
    /// The condition on `column` that parameter `$n`, bound to [`NamePrefix::pattern`], makes:
    /// true for every row when there is no search (the pattern is then empty).
    pub fn condition(search: Option<Self>, column: &str, n: u8) -> String {
        let backend = search.map_or(Backend::Sqlite, |s| s.backend);
        let folded = ascii_lower(column, backend);
        format!("(${n} = '' OR {folded} LIKE ${n} ESCAPE '\\')")
    }

    /// The value of the [`NamePrefix::condition`]'s parameter.
    pub fn pattern(search: Option<Self>) -> String {
        search
            .map(|s| ascii_lower_prefix(s.prefix))
            .unwrap_or_default()
    }
}

/// The pattern of the values that start with `prefix`.
pub fn starting_with(prefix: &str) -> String {
    let mut p = escaped(prefix);
    p.push('%');
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_in_the_input_match_only_themselves() {
        assert_eq!(escaped(r"a_b%c\d"), r"a\_b\%c\\d");
        assert_eq!(starting_with("ada"), "ada%");
        assert_eq!(starting_with("a%"), r"a\%%");
        assert_eq!(ascii_lower_prefix("ÉAc"), "Éac%");
    }
}
