//! Metadata objects (`user_metadata`, `app_metadata`, organization `metadata`,
//! `client_metadata`): validation and Auth0's top-level merge rule.
//!
//! Merge: each top-level key of the patch replaces the stored key whole (a nested object is not
//! merged deeply), a key set to `null` is deleted, and `{}` changes nothing. Limits keep the
//! event that hooks receive small: at most [`MAX_BYTES`] serialized per object, keys at most
//! [`MAX_KEY_CHARS`] characters at any depth.

use serde_json::{Map, Value};

/// Largest serialized size of one metadata object.
pub const MAX_BYTES: usize = 16 * 1024;
/// Longest key, at any depth.
pub const MAX_KEY_CHARS: usize = 255;

/// Why a metadata object was refused; `path` names the offending key (dot-separated).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
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
    for (k, v) in obj {
        let path = if prefix.is_empty() {
            k.clone()
        } else {
            format!("{prefix}.{k}")
        };
        if k.chars().count() > MAX_KEY_CHARS {
            return Err(MetadataError::KeyTooLong { path });
        }
        match v {
            Value::Object(inner) => check_keys(inner, &path)?,
            Value::Array(items) => {
                for item in items {
                    if let Value::Object(inner) = item {
                        check_keys(inner, &path)?;
                    }
                }
            }
            _ => {}
        }
    }
    Ok(())
}

/// Applies `patch` to `current` by the top-level rule, then validates the result.
pub fn merge(current: &Value, patch: &Value) -> Result<Value, MetadataError> {
    let patch = patch.as_object().ok_or(MetadataError::NotAnObject)?;
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
}
