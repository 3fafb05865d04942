//! Errors as the management API shows them: a JSON body with a stable machine `code`, a human
//! `message` and, when one field is to blame, its `field` (a dot path such as
//! `user_metadata.plan` or `redirect_uris[0]`).
//!
//! A 500 body says only "internal error": its cause can hold SQL, paths or data, so it goes to
//! the log (with the request's span) and never to the client. A database outage is a 503
//! `temporarily_unavailable` with `Retry-After` instead (see [`super::unavailable`]), its cause
//! logged the same way.

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde::de::DeserializeOwned;
use utoipa::ToSchema;

use super::{plain_words, unavailable};
use crate::manage::ManageError;
use crate::store::StoreError;
use crate::store::unavailable::unavailable_in;
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
            "a valid API key (Authorization: Bearer sk_...) or a dashboard access token is required",
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
        let refused = self.body.code == unavailable::CODE;
        let mut res = (self.status, Json(self.body)).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            res.headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        if let Some(secs) = self.retry_after {
            res.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        if refused {
            res = unavailable::refused(res);
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
            ManageError::InUse { field, why } => {
                let mut e = ApiError::new(StatusCode::CONFLICT, "in_use", why);
                e.body.field = Some(field.to_string());
                e
            }
            ManageError::Admission(e) => {
                let status = match e {
                    AdmissionError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
                    AdmissionError::CompileBusy { .. } => StatusCode::SERVICE_UNAVAILABLE,
                };
                let mut err = ApiError::new(status, e.code(), e.to_string());
                err.retry_after = Some(e.retry_after_secs());
                err
            }
            ManageError::Store(cause @ StoreError::Unavailable(_)) => {
                tracing::warn!(
                    error = &cause as &dyn std::error::Error,
                    "database unavailable"
                );
                unavailable::api()
            }
            ManageError::Internal(cause) if unavailable_in(&*cause) => {
                tracing::warn!(
                    error = &*cause as &dyn std::error::Error,
                    "database unavailable"
                );
                unavailable::api()
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
/// field all become 400s with the path and plain words, a body that is not JSON by its
/// content type a 415, and a body over the limit a 413.
#[derive(Debug)]
pub struct Body<T>(pub T);

impl<S, T> FromRequest<S> for Body<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        json_content_type(req.headers())?;
        let bytes = Bytes::from_request(req, state)
            .await
            .map_err(|e| body_error(e, "invalid_json"))?;
        parse(&bytes).map(Body)
    }
}

/// A request body taken as it is (a hook's `.wasm`), whose failures are the API's JSON errors
/// like [`Body`]'s: a 413 over the limit, a 400 for a body that could not be read.
#[derive(Debug)]
pub struct RawBody(pub Bytes);

impl<S: Send + Sync> FromRequest<S> for RawBody {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        Bytes::from_request(req, state)
            .await
            .map(RawBody)
            .map_err(|e| body_error(e, "invalid_body"))
    }
}

/// A body that could not be read: `payload_too_large` over the limit, `code` otherwise.
fn body_error(e: BytesRejection, code: &'static str) -> ApiError {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            "request body is too large",
        )
    } else {
        ApiError::new(StatusCode::BAD_REQUEST, code, e.body_text())
    }
}

/// A JSON body is declared as JSON (`application/json` or a `+json` type) or not declared at
/// all. Anything else, most often curl's `-d` default `application/x-www-form-urlencoded`, is
/// 415 with the way to send JSON, rather than a guess at what the client meant.
fn json_content_type(headers: &HeaderMap) -> Result<(), ApiError> {
    let Some(value) = headers.get(header::CONTENT_TYPE) else {
        return Ok(());
    };
    let essence = value
        .to_str()
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    if essence == "application/json" || essence.ends_with("+json") {
        return Ok(());
    }
    Err(ApiError::new(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
        format!(
            "the body must be JSON, sent with content-type: application/json (got `{essence}`; \
             with curl, use --json '{{...}}' or -H 'content-type: application/json')"
        ),
    )
    .field("content-type"))
}

/// Parses JSON, reporting the path of the first problem in plain words.
pub fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if inner.is_syntax() || inner.is_eof() {
            return ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_json",
                plain_words::syntax(&inner.to_string()),
            );
        }
        if let Some(kind) = not_an_object::<T>(bytes) {
            return ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_json",
                format!("the body must be a JSON object, not {kind}"),
            );
        }
        problem_error(plain_words::problem(&path, &inner.to_string()))
    })?;
    de.end().map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_json",
            plain_words::syntax(&e.to_string()),
        )
    })?;
    Ok(value)
}

/// When `T` is an object and the body is some other JSON value, what the body is instead.
/// Only asked on the error path, where the second parse costs nothing that matters.
fn not_an_object<T: DeserializeOwned>(bytes: &[u8]) -> Option<&'static str> {
    let kind = match serde_json::from_slice::<serde_json::Value>(bytes).ok()? {
        serde_json::Value::Object(_) => return None,
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Null => "null",
    };
    // `T` takes an object when `{}` fails only for a missing field, or parses.
    match serde_json::from_str::<T>("{}") {
        Ok(_) => Some(kind),
        Err(e) if e.to_string().starts_with("missing field") => Some(kind),
        Err(_) => None,
    }
}

fn problem_error(p: plain_words::Problem) -> ApiError {
    let err = ApiError::new(StatusCode::BAD_REQUEST, "invalid_field", p.message);
    match p.field {
        Some(f) => err.field(f),
        None => err,
    }
}

/// A query string whose errors are JSON and name the parameter (`?limit=abc`: `limit` must be
/// a whole number), where axum's own `Query` answers in plain text.
#[derive(Debug)]
pub struct Query<T>(pub T);

impl<S, T> FromRequestParts<S> for Query<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let query = parts.uri.query().unwrap_or("");
        let de = serde_urlencoded::Deserializer::new(url::form_urlencoded::parse(query.as_bytes()));
        serde_path_to_error::deserialize(de)
            .map(Query)
            .map_err(|e| {
                let path = e.path().to_string();
                problem_error(plain_words::problem(&path, &e.into_inner().to_string()))
            })
    }
}

/// Answers a request whose method the route does not take with a JSON 405 (axum's own has an
/// empty body). The router adds the `Allow` header (RFC 9110 15.5.6) to this response.
pub async fn method_not_allowed(method: Method) -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        format!("this endpoint does not take {method}; the Allow header lists what it takes"),
    )
}
