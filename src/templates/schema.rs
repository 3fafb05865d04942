//! The shape of the post-login event, so that typos in paths are rejected when the template is
//! saved rather than silently rendering nothing at every login.

use super::ErrorKind;
use super::expr::Segment;

#[derive(Clone, Copy)]
enum Shape {
    /// An object with a fixed set of fields.
    Fields(&'static [(&'static str, Shape)]),
    /// Customer-controlled JSON (metadata): any path below it is valid.
    Free,
    /// An array of single values: only a numeric index may follow.
    List,
    /// A single value: nothing may follow.
    Scalar,
}

use Shape::{Fields, Free, List, Scalar};

const USER: &[(&str, Shape)] = &[
    ("id", Scalar),
    ("email", Scalar),
    ("email_verified", Scalar),
    ("name", Scalar),
    ("given_name", Scalar),
    ("family_name", Scalar),
    ("nickname", Scalar),
    ("picture", Scalar),
    ("created_at", Scalar),
    ("last_login", Scalar),
    ("logins_count", Scalar),
    ("external_id", Scalar),
    ("user_metadata", Free),
    ("app_metadata", Free),
    ("roles", List),
    ("permissions", List),
];

const ORGANIZATION: &[(&str, Shape)] = &[
    ("id", Scalar),
    ("name", Scalar),
    ("display_name", Scalar),
    ("external_id", Scalar),
    ("metadata", Free),
    ("roles", List),
];

const CLIENT: &[(&str, Shape)] = &[
    ("client_id", Scalar),
    ("name", Scalar),
    ("client_metadata", Free),
];

const REQUEST: &[(&str, Shape)] = &[
    ("ip", Scalar),
    ("user_agent", Scalar),
    ("hostname", Scalar),
    ("language", Scalar),
];

const TRANSACTION: &[(&str, Shape)] = &[
    ("protocol", Scalar),
    ("requested_scopes", List),
    ("audience", Scalar),
    ("redirect_uri", Scalar),
];

const TENANT: &[(&str, Shape)] = &[("id", Scalar), ("name", Scalar)];

const ROOTS: &[(&str, Shape)] = &[
    ("user", Fields(USER)),
    ("organization", Fields(ORGANIZATION)),
    ("client", Fields(CLIENT)),
    ("request", Fields(REQUEST)),
    ("transaction", Fields(TRANSACTION)),
    ("tenant", Fields(TENANT)),
    ("now", Scalar),
];

/// A path rejected by the schema: offset of the bad segment, kind and message.
pub(super) type Rejection = (usize, ErrorKind, String);

fn lookup(fields: &[(&str, Shape)], key: &str) -> Option<Shape> {
    fields
        .iter()
        .find(|(name, _)| *name == key)
        .map(|(_, s)| *s)
}

fn names(fields: &[(&str, Shape)]) -> String {
    let list: Vec<&str> = fields.iter().map(|(name, _)| *name).collect();
    list.join(", ")
}

fn dotted(path: &[Segment]) -> String {
    let keys: Vec<&str> = path.iter().map(|s| &*s.key).collect();
    keys.join(".")
}

/// Checks that `path` can exist in a post-login event.
pub(super) fn check(path: &[Segment]) -> Result<(), Rejection> {
    let Some((root, rest)) = path.split_first() else {
        return Ok(());
    };
    let Some(mut shape) = lookup(ROOTS, &root.key) else {
        let msg = format!(
            "unknown root `{}`; expected one of {}",
            root.key,
            names(ROOTS)
        );
        return Err((root.at, ErrorKind::UnknownRoot, msg));
    };
    for (n, seg) in rest.iter().enumerate() {
        let parent = || dotted(path.get(..=n).unwrap_or_default());
        shape = match shape {
            Free => return Ok(()),
            Fields(fields) => lookup(fields, &seg.key).ok_or_else(|| {
                let msg = format!(
                    "`{}` has no field `{}`; known fields: {}",
                    parent(),
                    seg.key,
                    names(fields)
                );
                (seg.at, ErrorKind::UnknownField, msg)
            })?,
            List if seg.index.is_some() => Scalar,
            List => {
                let msg = format!("`{}` is a list; only an index may follow it", parent());
                return Err((seg.at, ErrorKind::UnknownField, msg));
            }
            Scalar => {
                let msg = format!("`{}` is a single value; nothing may follow it", parent());
                return Err((seg.at, ErrorKind::UnknownField, msg));
            }
        };
    }
    Ok(())
}
