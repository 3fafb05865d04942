//! Metadata objects (`user_metadata`, `app_metadata`, organization `metadata`,
//! `client_metadata`): validation and Auth0's top-level merge rule.
//!
//! Merge: each top-level key of the patch replaces the stored key whole (a nested object is not
//! merged deeply), a key set to `null` is deleted, and `{}` changes nothing. Limits keep the
//! event that hooks receive small: at most [`MAX_BYTES`] serialized per object, keys at most
//! [`MAX_KEY_CHARS`] characters at any depth, and at most [`MAX_DEPTH`] levels of nesting.
//!
//! These rules are the only ones: the management API and the hook host (which
//! checks each `set-*-metadata` call against the merge the commit will do, see
//! [`merge_map`]) all call this module.

use serde_json::{Map, Value};

/// Largest serialized size of one metadata object.
pub const MAX_BYTES: usize = 16 * 1024;
/// Longest key, at any depth.
pub const MAX_KEY_CHARS: usize = 255;
/// Deepest nesting of objects and arrays; the metadata object itself is level 1. Well under
/// serde_json's parse limit of 128, so stored metadata always reads back.
pub const MAX_DEPTH: usize = 32;

/// Why a metadata object was refused; `path` names the offending key (dot-separated).
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum MetadataError {
    /// Not a JSON object.
    #[error("must be a JSON object")]
    NotAnObject,
    /// A key is too long.
    #[error("key `{path}` is longer than {MAX_KEY_CHARS} characters")]
    KeyTooLong {
        /// The key's path.
        path: String,
    },
    /// Objects and arrays nest deeper than [`MAX_DEPTH`].
    #[error("`{path}` nests deeper than {MAX_DEPTH} levels")]
    TooDeep {
        /// The path of the container that is too deep.
        path: String,
    },
    /// The object is too large.
    #[error("is {size} bytes serialized; the limit is {MAX_BYTES}")]
    TooLarge {
        /// Its serialized size.
        size: usize,
    },
}

/// Checks `value` is an object within the limits, returning it as a map.
pub fn validate(value: &Value) -> Result<&Map<String, Value>, MetadataError> {
    let obj = value.as_object().ok_or(MetadataError::NotAnObject)?;
    check_keys(obj, "")?;
    let size = serde_json::to_string(value).map(|s| s.len()).unwrap_or(0);
    if size > MAX_BYTES {
        return Err(MetadataError::TooLarge { size });
    }
    Ok(obj)
}

fn check_keys(obj: &Map<String, Value>, prefix: &str) -> Result<(), MetadataError> {
    check_members(obj, prefix, 1)
}

/// Checks the members of an object at nesting level `depth` (the top object is level 1).
fn check_members(
    obj: &Map<String, Value>,
    prefix: &str,
    depth: usize,
) -> Result<(), MetadataError> {
    if depth > MAX_DEPTH {
        return Err(MetadataError::TooDeep {
            path: prefix.to_string(),
        });
    }
    for (k, v) in obj {
        let path = if prefix.is_empty() {
            k.clone()
        } else {
            format!("{prefix}.{k}")
        };
        if k.chars().count() > MAX_KEY_CHARS {
            return Err(MetadataError::KeyTooLong { path });
        }
        check_value(v, &path, depth + 1)?;
    }
    Ok(())
}

/// Checks a value that would sit at nesting level `depth` if it is a container. Arrays are
/// walked too, arrays of arrays included, so no key escapes the rules by being wrapped.
fn check_value(v: &Value, path: &str, depth: usize) -> Result<(), MetadataError> {
    match v {
        Value::Object(inner) => check_members(inner, path, depth),
        Value::Array(items) => {
            if depth > MAX_DEPTH {
                return Err(MetadataError::TooDeep {
                    path: path.to_string(),
                });
            }
            items
                .iter()
                .try_for_each(|item| check_value(item, path, depth + 1))
        }
        _ => Ok(()),
    }
}

/// Applies `patch` to `current` by the top-level rule, then validates the result.
pub fn merge(current: &Value, patch: &Value) -> Result<Value, MetadataError> {
    merge_map(
        current,
        patch.as_object().ok_or(MetadataError::NotAnObject)?,
    )
}

/// [`merge`] for a patch that is already a map (the hook host checks every metadata write with
/// it, against the metadata the commit will merge into, so a write the commit would refuse is
/// refused at call time).
pub fn merge_map(current: &Value, patch: &Map<String, Value>) -> Result<Value, MetadataError> {
    check_keys(patch, "")?;
    let mut out = current.as_object().cloned().unwrap_or_default();
    for (k, v) in patch {
        if v.is_null() {
            out.remove(k);
        } else {
            out.insert(k.clone(), v.clone());
        }
    }
    let merged = Value::Object(out);
    validate(&merged)?;
    Ok(merged)
}

/// Replaces the whole object: `null` values are dropped, so a stored object never holds nulls.
pub fn replace(new: &Value) -> Result<Value, MetadataError> {
    merge(&Value::Object(Map::new()), new)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn merge_rules() {
        let cur = json!({"a": 1, "nested": {"x": 1, "y": 2}, "gone": true});
        let out = merge(&cur, &json!({"b": 2, "nested": {"z": 3}, "gone": null})).unwrap();
        assert_eq!(out, json!({"a": 1, "b": 2, "nested": {"z": 3}}));
        assert_eq!(merge(&cur, &json!({})).unwrap(), cur);
    }

    #[test]
    fn replace_drops_nulls() {
        assert_eq!(
            replace(&json!({"a": null, "b": 1})).unwrap(),
            json!({"b": 1})
        );
    }

    #[test]
    fn limits() {
        assert_eq!(
            merge(&json!({}), &json!([1])),
            Err(MetadataError::NotAnObject)
        );
        let long = "k".repeat(256);
        assert_eq!(
            merge(&json!({}), &json!({"outer": {long.clone(): 1}})),
            Err(MetadataError::KeyTooLong {
                path: format!("outer.{long}")
            })
        );
        let big = "x".repeat(MAX_BYTES);
        assert!(matches!(
            merge(&json!({}), &json!({"big": big})),
            Err(MetadataError::TooLarge { .. })
        ));
        // Growth past the limit by merging is refused too, not only a single large patch.
        let half = "x".repeat(MAX_BYTES / 2);
        let cur = merge(&json!({}), &json!({"a": half.clone()})).unwrap();
        assert!(merge(&cur, &json!({"b": half})).is_err());
    }

    #[test]
    fn depth_and_keys_inside_nested_arrays() {
        let long = "k".repeat(256);
        assert_eq!(
            merge(&json!({}), &json!({"a": [[{long.clone(): 1}]]})),
            Err(MetadataError::KeyTooLong {
                path: format!("a.{long}")
            })
        );
        // The object is level 1, so a value may add MAX_DEPTH - 1 levels.
        let nest = |n: usize| -> Value {
            serde_json::from_str(&format!("{}1{}", "[".repeat(n), "]".repeat(n))).unwrap()
        };
        assert!(merge(&json!({}), &json!({"ok": nest(MAX_DEPTH - 1)})).is_ok());
        assert_eq!(
            merge(&json!({}), &json!({"deep": nest(MAX_DEPTH)})),
            Err(MetadataError::TooDeep {
                path: "deep".into()
            })
        );
    }
}
