//! The decoded types of stored columns, and how a row's raw column becomes one.
//!
//! Rows are decoded once, when they are read: a flag is a `bool`, a JSON column a typed value,
//! a grant type, client type or signing algorithm an enum. A value that does not decode (a
//! corrupt JSON text, a flag that is neither 0 nor 1, an unknown enum string) fails the read
//! with [`super::StoreError::Corrupt`] naming the column; nothing is silently defaulted.
//!
//! The row structs use sqlx's `#[sqlx(try_from = "...")]`: [`JsonText`] and [`Flag`] are the
//! raw column types, and the `TryFrom` impls below are the decoders.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sqlx::any::{AnyTypeInfo, AnyValueRef};
use sqlx::error::BoxDynError;
use sqlx::{Any, Decode, Type};

use super::StoreError;

/// The raw text of a JSON column, before it is decoded into the row's field type.
#[derive(Debug, Clone)]
pub struct JsonText(String);

impl Type<Any> for JsonText {
    fn type_info() -> AnyTypeInfo {
        <String as Type<Any>>::type_info()
    }
    fn compatible(ty: &AnyTypeInfo) -> bool {
        <String as Type<Any>>::compatible(ty)
    }
}

impl<'r> Decode<'r, Any> for JsonText {
    fn decode(value: AnyValueRef<'r>) -> Result<Self, BoxDynError> {
        Ok(Self(<String as Decode<'r, Any>>::decode(value)?))
    }
}

/// Decodes JSON columns into each type a row holds (one impl per type: the orphan rule allows
/// `TryFrom<JsonText>` for a concrete foreign type, not for every `T`).
macro_rules! json_column {
    ($($t:ty),* $(,)?) => {$(
        impl TryFrom<JsonText> for $t {
            type Error = serde_json::Error;
            fn try_from(text: JsonText) -> Result<Self, Self::Error> {
                serde_json::from_str(&text.0)
            }
        }
    )*};
}

json_column!(
    Vec<String>,
    Vec<GrantType>,
    Value,
    Map<String, Value>,
    Vec<ApiScope>
);

/// The raw 0/1 of a flag column, before it becomes a `bool`.
#[derive(Debug, Clone, Copy)]
pub struct Flag(i64);

impl Type<Any> for Flag {
    fn type_info() -> AnyTypeInfo {
        <i64 as Type<Any>>::type_info()
    }
    fn compatible(ty: &AnyTypeInfo) -> bool {
        <i64 as Type<Any>>::compatible(ty)
    }
}

impl<'r> Decode<'r, Any> for Flag {
    fn decode(value: AnyValueRef<'r>) -> Result<Self, BoxDynError> {
        Ok(Self(<i64 as Decode<'r, Any>>::decode(value)?))
    }
}

impl TryFrom<Flag> for bool {
    type Error = Unknown;
    fn try_from(f: Flag) -> Result<Self, Unknown> {
        match f.0 {
            0 => Ok(false),
            1 => Ok(true),
            n => Err(Unknown(n.to_string())),
        }
    }
}

/// Bools are stored as 0/1 on both back-ends.
pub(crate) fn flag(b: bool) -> i64 {
    i64::from(b)
}

/// Encodes a typed value for a JSON column.
pub(crate) fn to_json<T: Serialize + ?Sized>(
    column: &'static str,
    value: &T,
) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|e| StoreError::BadJson(column, e))
}

/// A stored value that names no known variant (or a flag that is neither 0 nor 1).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown stored value `{0}`")]
pub struct Unknown(pub String);

/// Declares a closed set of stored strings: the enum, `as_str`, `FromStr`, `Display`,
/// `TryFrom<String>` (the row decoder) and serde as the same strings.
macro_rules! string_enum {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident = $text:literal,)* }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        pub enum $name {
            $($(#[$vdoc])* #[serde(rename = $text)] $variant,)*
        }

        impl $name {
            /// Every variant, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant,)*];

            /// The stored (and API) string.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text,)*
                }
            }
        }

        impl FromStr for $name {
            type Err = Unknown;
            fn from_str(s: &str) -> Result<Self, Unknown> {
                match s {
                    $($text => Ok($name::$variant),)*
                    other => Err(Unknown(other.to_string())),
                }
            }
        }

        impl TryFrom<String> for $name {
            type Error = Unknown;
            fn try_from(s: String) -> Result<Self, Unknown> {
                s.parse()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

string_enum!(
    /// An OAuth grant type an application may be allowed.
    GrantType {
        /// The code flow (RFC 6749 4.1).
        AuthorizationCode = "authorization_code",
        /// Refresh tokens (RFC 6749 6).
        RefreshToken = "refresh_token",
        /// Client credentials (RFC 6749 4.4); confidential applications only.
        ClientCredentials = "client_credentials",
        /// Resource owner password (RFC 6749 4.3); confidential applications only.
        Password = "password",
    }
);

string_enum!(
    /// Whether an application holds a secret (RFC 6749 2.1).
    ClientType {
        /// Has a client secret.
        Confidential = "confidential",
        /// Cannot keep a secret (SPA, native app).
        Public = "public",
    }
);

string_enum!(
    /// A JWS algorithm tokens are signed with.
    SigningAlg {
        /// RSASSA-PKCS1-v1_5 with SHA-256.
        Rs256 = "RS256",
        /// ECDSA P-256 with SHA-256.
        Es256 = "ES256",
        /// Ed25519.
        EdDsa = "EdDSA",
    }
);

/// One scope an API defines (`apis.scopes` holds a JSON array of them).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiScope {
    /// The scope value.
    pub value: String,
    /// What it grants, for people.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enums_round_trip_through_their_stored_strings() {
        for g in GrantType::ALL {
            assert_eq!(g.as_str().parse::<GrantType>(), Ok(*g));
            assert_eq!(serde_json::to_value(g).unwrap(), Value::from(g.as_str()));
        }
        for c in ClientType::ALL {
            assert_eq!(c.as_str().parse::<ClientType>(), Ok(*c));
        }
        for a in SigningAlg::ALL {
            assert_eq!(a.to_string().parse::<SigningAlg>(), Ok(*a));
        }
        assert_eq!(SigningAlg::EdDsa.as_str(), "EdDSA");
        assert_eq!(
            serde_json::from_str::<Vec<GrantType>>(r#"["password","refresh_token"]"#).unwrap(),
            vec![GrantType::Password, GrantType::RefreshToken]
        );
    }

    #[test]
    fn unknown_strings_are_errors_not_defaults() {
        assert_eq!(
            "implicit".parse::<GrantType>(),
            Err(Unknown("implicit".into()))
        );
        assert!("Confidential".parse::<ClientType>().is_err());
        assert!("rs256".parse::<SigningAlg>().is_err());
        assert!(serde_json::from_str::<Vec<GrantType>>(r#"["implicit"]"#).is_err());
    }

    #[test]
    fn flags_are_zero_or_one_only() {
        assert_eq!(bool::try_from(Flag(0)), Ok(false));
        assert_eq!(bool::try_from(Flag(1)), Ok(true));
        assert!(bool::try_from(Flag(2)).is_err());
        assert_eq!(flag(true), 1);
    }

    #[test]
    fn json_columns_refuse_corrupt_text() {
        assert!(Vec::<String>::try_from(JsonText("[\"a\"".into())).is_err());
        assert!(Map::<String, Value>::try_from(JsonText("[]".into())).is_err());
        assert_eq!(
            Vec::<String>::try_from(JsonText("[\"a\"]".into())).unwrap(),
            vec!["a".to_string()]
        );
    }
}
