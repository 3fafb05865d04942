//! Errors as the management API shows them: a JSON body with a stable machine `code`, a human
//! `message` and, when one field is to blame, its `field` (a dot path such as
//! `user_metadata.plan` or `redirect_uris[0]`).
//!
//! A 500 body says only "internal error": its cause can hold SQL, paths or data, so it goes to
//! the log (with the request's span) and never to the client.

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{FromRequest, Request};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde::de::DeserializeOwned;
use utoipa::ToSchema;

use crate::manage::ManageError;
use sigil_hooks::admission::AdmissionError;

/// The JSON error body.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    /// Stable machine code: `invalid_json`, `invalid_field`, `unauthorized`, `forbidden`,
    /// `not_found`, `conflict`, `payload_too_large`, `rate_limited`, `compile_busy`,
    /// Machine-readable error code (`invalid`, `not_found`, `conflict`, `internal`...).
    pub code: &'static str,
    /// What went wrong, for people.
    pub message: String,
    /// The offending field, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// Every problem, when there are several (`invalid_template`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<ErrorDetail>,
}

/// One problem of a document with positions (a JWT template).
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorDetail {
    /// JSON pointer of the string at fault (RFC 6901), e.g. `/department`.
    pub pointer: String,
    /// Character offset in that string.
    pub offset: usize,
    /// `syntax`, `unknown_root`, `unknown_field`, `restricted_claim`, `not_an_object`,
    /// `too_large`, `too_deep`, `too_many_expressions`.
    pub code: &'static str,
    /// What is wrong.
    pub message: String,
}

/// An error response.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    body: ErrorBody,
    /// Seconds for the `Retry-After` header (RFC 9110 10.2.3) of a 429 or 503.
    retry_after: Option<u64>,
}

impl ApiError {
    /// Builds an error.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            body: ErrorBody {
                code,
                message: message.into(),
                field: None,
                errors: Vec::new(),
            },
            retry_after: None,
        }
    }

    /// Names the offending field.
    pub fn field(mut self, field: impl Into<String>) -> Self {
        self.body.field = Some(field.into());
        self
    }

    /// 401 for a missing or unknown key.
    pub fn unauthorized() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "a valid API key is required: Authorization: Bearer sk_...",
        )
    }

    /// 403.
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", message)
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        self.status
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut res = (self.status, Json(self.body)).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            res.headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        if let Some(secs) = self.retry_after {
            res.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        res
    }
}

impl From<ManageError> for ApiError {
    fn from(e: ManageError) -> Self {
        match e {
            ManageError::Invalid { field, message } => {
                ApiError::new(StatusCode::BAD_REQUEST, "invalid_field", message).field(field)
            }
            ManageError::NotFound(what) => ApiError::new(
                StatusCode::NOT_FOUND,
                "not_found",
                format!("{what} not found"),
            ),
            ManageError::Conflict { field } => ApiError::new(
                StatusCode::CONFLICT,
                "conflict",
                format!("{field} is already taken"),
            )
            .field(field),
            ManageError::Forbidden(why) => ApiError::forbidden(why),
            ManageError::InvalidTemplate(errs) => {
                let first = errs
                    .first()
                    .map(|e| e.to_string())
                    .unwrap_or_else(|| "invalid template".into());
                let mut e = ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "invalid_template",
                    format!("the template is invalid: {first}"),
                );
                e.body.field = errs.first().map(|x| x.pointer.clone());
                e.body.errors = errs
                    .into_iter()
                    .map(|x| ErrorDetail {
                        pointer: x.pointer,
                        offset: x.offset,
                        code: x.kind.code(),
                        message: x.message,
                    })
                    .collect();
                e
            }
            ManageError::InUse(why) => ApiError::new(StatusCode::CONFLICT, "in_use", why),
            ManageError::Admission(e) => {
                let status = match e {
                    AdmissionError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
                    AdmissionError::CompileBusy { .. } => StatusCode::SERVICE_UNAVAILABLE,
                };
                let mut err = ApiError::new(status, e.code(), e.to_string());
                err.retry_after = Some(e.retry_after_secs());
                err
            }
            ManageError::Internal(cause) => {
                tracing::error!(
                    error = &*cause as &dyn std::error::Error,
                    "internal failure"
                );
                ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal",
                    "internal error",
                )
            }
            ManageError::Store(cause) => {
                tracing::error!(error = &cause as &dyn std::error::Error, "store failure");
                ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal",
                    "internal error",
                )
            }
        }
    }
}

/// A JSON request body whose errors name the field: malformed JSON, a wrong type or an unknown
/// field all become 400s with the path, and a body over the limit a 413.
#[derive(Debug)]
pub struct Body<T>(pub T);

impl<S, T> FromRequest<S> for Body<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = Bytes::from_request(req, state)
            .await
            .map_err(|e: BytesRejection| {
                if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                    ApiError::new(
                        StatusCode::PAYLOAD_TOO_LARGE,
                        "payload_too_large",
                        "request body is too large",
                    )
                } else {
                    ApiError::new(StatusCode::BAD_REQUEST, "invalid_json", e.body_text())
                }
            })?;
        parse(&bytes).map(Body)
    }
}

/// Parses JSON, reporting the path of the first problem.
pub fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        let code = if inner.is_syntax() || inner.is_eof() {
            "invalid_json"
        } else {
            "invalid_field"
        };
        let err = ApiError::new(StatusCode::BAD_REQUEST, code, inner.to_string());
        if path == "." { err } else { err.field(path) }
    })?;
    de.end()
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "invalid_json", e.to_string()))?;
    Ok(value)
}
