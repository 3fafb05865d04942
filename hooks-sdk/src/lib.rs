//! Write [Sigil](https://github.com/sigil) post-login hooks in Rust.
//!
//! A hook runs on every login (password grant, authorization-code exchange, refresh), after
//! the user is authenticated and before tokens are signed. It reads the [`Event`] and acts
//! through the [`Api`]: set custom claims on the ID and access tokens, deny the login, change
//! the access token's scopes, write metadata back, and log.
//!
//! ```no_run
//! use sigil_hooks::{Api, Event};
//!
//! fn on_login(event: &Event, api: &Api) -> Result<(), String> {
//!     let roles = event.user().app_metadata.get("roles").cloned().unwrap_or_default();
//!     api.id_token().set_custom_claim("https://myapp.example/roles", &roles)?;
//!     api.access_token().set_custom_claim("https://myapp.example/roles", &roles)?;
//!     Ok(())
//! }
//!
//! sigil_hooks::export_post_login!(on_login);
//! ```
//!
//! Build with `cargo build --release --target wasm32-unknown-unknown` and upload the `.wasm`
//! as is: Sigil turns it into a component. Test it locally with
//! `sigil hooks test target/wasm32-unknown-unknown/release/my_hook.wasm --event event.json`.
//!
//! A panic is written to the hook's log (with its message and location) before the hook
//! traps, so the execution trace says why it failed.
//!
//! The crate installs a bump allocator as the global allocator (feature `bump-alloc`, on by
//! default): a hook runs once in a fresh instance, so freeing is pointless, and serving the
//! first 256 KiB from static data spares the host a `memory.grow` per login. A hook that
//! brings its own `#[global_allocator]` depends on this crate with `default-features = false`.

#[cfg(feature = "bump-alloc")]
mod alloc;

// One login, one fresh instance: a bump allocator inside the initial memory (see `alloc`).
#[cfg(all(feature = "bump-alloc", target_arch = "wasm32"))]
#[global_allocator]
static ALLOC: alloc::BumpAlloc = alloc::BumpAlloc::new();

use std::cell::{OnceCell, RefCell};
use std::marker::PhantomData;
use std::sync::Once;

use serde::Serialize;
use serde_json::Value;

#[cfg(all(feature = "contract-0-1", feature = "contract-0-2"))]
compile_error!(
    "choose one hook contract: `contract-0-2` (the default) or `contract-0-1` (with default-features = false)"
);
#[cfg(not(any(feature = "contract-0-1", feature = "contract-0-2")))]
compile_error!(
    "choose a hook contract: add the feature `contract-0-2` (or `contract-0-1`) when turning default features off"
);

#[doc(hidden)]
pub mod bindings {
    #[cfg(feature = "contract-0-2")]
    wit_bindgen::generate!({
        path: "wit/0.2.0",
        world: "post-login",
        pub_export_macro: true,
        default_bindings_module: "sigil_hooks::bindings",
    });
    #[cfg(all(feature = "contract-0-1", not(feature = "contract-0-2")))]
    wit_bindgen::generate!({
        path: "wit/0.1.0",
        world: "post-login",
        pub_export_macro: true,
        default_bindings_module: "sigil_hooks::bindings",
    });

    /// The `user-store` world: the imports are post-login's own (one set of helpers serves
    /// both kinds of hook); only its exports are generated here. A hook links the world whose
    /// `export!` it uses: the custom section each `generate!` links describes imports only.
    #[cfg(feature = "contract-0-2")]
    // The generated lowering of a profile takes one argument per field.
    #[allow(clippy::too_many_arguments)]
    pub mod user_store {
        wit_bindgen::generate!({
            path: "wit/0.2.0",
            world: "user-store",
            pub_export_macro: true,
            default_bindings_module: "sigil_hooks::bindings::user_store",
            with: {
                "sigil:hooks/types@0.2.0": crate::bindings::sigil::hooks::types,
                "sigil:hooks/api@0.2.0": crate::bindings::sigil::hooks::api,
                "sigil:hooks/http@0.2.0": crate::bindings::sigil::hooks::http,
                "sigil:hooks/cache@0.2.0": crate::bindings::sigil::hooks::cache,
            },
        });
    }
}

#[cfg(feature = "contract-0-2")]
pub mod cache;
#[cfg(feature = "contract-0-2")]
pub mod http;
#[cfg(feature = "contract-0-2")]
pub mod user_store;

use bindings::sigil::hooks::api as host;
use bindings::sigil::hooks::types as wit;

pub use serde_json;

/// How the user logged in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// The resource owner password grant.
    Password,
    /// The authorization-code flow (the hosted login page).
    AuthorizationCode,
    /// A refresh-token grant.
    RefreshToken,
}

/// The user logging in, with metadata parsed as JSON.
#[derive(Debug, Clone)]
pub struct User {
    /// `usr_...`
    pub id: String,
    /// Email address.
    pub email: String,
    /// Whether the email is verified.
    pub email_verified: bool,
    /// Full name.
    pub name: Option<String>,
    /// Given name.
    pub given_name: Option<String>,
    /// Family name.
    pub family_name: Option<String>,
    /// Nickname.
    pub nickname: Option<String>,
    /// Picture URL.
    pub picture: Option<String>,
    /// RFC 3339.
    pub created_at: String,
    /// RFC 3339; `None` on the first login.
    pub last_login: Option<String>,
    /// Logins so far.
    pub logins_count: u64,
    /// The customer's own id.
    pub external_id: Option<String>,
    /// Data the user may edit.
    pub user_metadata: Value,
    /// Data only the app and hooks set.
    pub app_metadata: Value,
    /// Tenant-wide role names.
    pub roles: Vec<String>,
    /// Permissions of those roles.
    pub permissions: Vec<String>,
}

/// The organization the login is for.
#[derive(Debug, Clone)]
pub struct Organization {
    /// `org_...`
    pub id: String,
    /// Unique name.
    pub name: String,
    /// Display name.
    pub display_name: Option<String>,
    /// The customer's own id.
    pub external_id: Option<String>,
    /// Organization metadata.
    pub metadata: Value,
    /// The member's roles in this organization.
    pub roles: Vec<String>,
}

/// The application.
#[derive(Debug, Clone)]
pub struct Client {
    /// OAuth client id.
    pub client_id: String,
    /// Display name.
    pub name: String,
    /// Client metadata.
    pub client_metadata: Value,
}

/// The login event. Parts are decoded on first access (metadata JSON is parsed only if the
/// hook reads it), which keeps a hook's fixed cost low.
#[derive(Debug, Clone)]
pub struct Event {
    user: OnceCell<User>,
    organization: OnceCell<Option<Organization>>,
    client: OnceCell<Client>,
    // The undecoded parts, moved (not copied) into the decoded ones on first access.
    raw_user: RefCell<Option<wit::User>>,
    raw_organization: RefCell<Option<wit::Organization>>,
    raw_client: RefCell<Option<wit::Client>>,
    raw: wit::Event,
}

fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or(Value::Object(Default::default()))
}

impl Event {
    fn new(mut raw: wit::Event) -> Self {
        let blank_user = wit::User {
            id: String::new(),
            email: String::new(),
            email_verified: false,
            name: None,
            given_name: None,
            family_name: None,
            nickname: None,
            picture: None,
            created_at: String::new(),
            last_login: None,
            logins_count: 0,
            external_id: None,
            user_metadata: String::new(),
            app_metadata: String::new(),
            roles: Vec::new(),
            permissions: Vec::new(),
        };
        let blank_client = wit::Client {
            client_id: String::new(),
            name: String::new(),
            client_metadata: String::new(),
        };
        Event {
            user: OnceCell::new(),
            organization: OnceCell::new(),
            client: OnceCell::new(),
            raw_user: RefCell::new(Some(std::mem::replace(&mut raw.user, blank_user))),
            raw_organization: RefCell::new(raw.organization.take()),
            raw_client: RefCell::new(Some(std::mem::replace(&mut raw.client, blank_client))),
            raw,
        }
    }

    /// The user.
    pub fn user(&self) -> &User {
        self.user.get_or_init(|| {
            let u = self.raw_user.borrow_mut().take().expect("decoded once");
            User {
                id: u.id,
                email: u.email,
                email_verified: u.email_verified,
                name: u.name,
                given_name: u.given_name,
                family_name: u.family_name,
                nickname: u.nickname,
                picture: u.picture,
                created_at: u.created_at,
                last_login: u.last_login,
                logins_count: u.logins_count,
                external_id: u.external_id,
                user_metadata: json(&u.user_metadata),
                app_metadata: json(&u.app_metadata),
                roles: u.roles,
                permissions: u.permissions,
            }
        })
    }
    /// The organization, when the login is for one.
    pub fn organization(&self) -> Option<&Organization> {
        self.organization
            .get_or_init(|| {
                self.raw_organization
                    .borrow_mut()
                    .take()
                    .map(|o| Organization {
                        id: o.id,
                        name: o.name,
                        display_name: o.display_name,
                        external_id: o.external_id,
                        metadata: json(&o.metadata),
                        roles: o.roles,
                    })
            })
            .as_ref()
    }
    /// The application.
    pub fn client(&self) -> &Client {
        self.client.get_or_init(|| {
            let c = self.raw_client.borrow_mut().take().expect("decoded once");
            Client {
                client_id: c.client_id,
                name: c.name,
                client_metadata: json(&c.client_metadata),
            }
        })
    }
    /// How the user logged in.
    pub fn protocol(&self) -> Protocol {
        match self.raw.transaction.protocol {
            wit::Protocol::Password => Protocol::Password,
            wit::Protocol::AuthorizationCode => Protocol::AuthorizationCode,
            wit::Protocol::RefreshToken => Protocol::RefreshToken,
        }
    }
    /// Scopes the application asked for.
    pub fn requested_scopes(&self) -> &[String] {
        &self.raw.transaction.requested_scopes
    }
    /// The API (audience) the access token is for.
    pub fn audience(&self) -> Option<&str> {
        self.raw.transaction.audience.as_deref()
    }
    /// The redirect URI of a code flow.
    pub fn redirect_uri(&self) -> Option<&str> {
        self.raw.transaction.redirect_uri.as_deref()
    }
    /// The client's IP address.
    pub fn ip(&self) -> &str {
        &self.raw.request.ip
    }
    /// The User-Agent header.
    pub fn user_agent(&self) -> Option<&str> {
        self.raw.request.user_agent.as_deref()
    }
    /// The host name the request was made to.
    pub fn hostname(&self) -> &str {
        &self.raw.request.hostname
    }
    /// The preferred language (from Accept-Language).
    pub fn language(&self) -> Option<&str> {
        self.raw.request.language.as_deref()
    }
    /// The tenant's name.
    pub fn tenant(&self) -> &str {
        &self.raw.tenant.name
    }
    /// One of this hook's secrets (set with `sigil hooks secrets set`).
    #[cfg(not(feature = "contract-0-2"))]
    pub fn secret(&self, name: &str) -> Option<&str> {
        self.raw
            .secrets
            .iter()
            .find(|s| s.name == name)
            .map(|s| s.value.as_str())
    }
    /// One of this hook's secrets (set with `sigil hooks secrets set`), read from the host.
    /// To authenticate a request, prefer `{{secrets.NAME}}` in a header
    /// ([`http::Request::header`]): the host substitutes it on the way out, and the value never
    /// enters the hook.
    #[cfg(feature = "contract-0-2")]
    pub fn secret(&self, name: &str) -> Option<String> {
        host::secret(name)
    }
    /// The names of this hook's secrets.
    #[cfg(feature = "contract-0-2")]
    pub fn secret_names(&self) -> &[String] {
        &self.raw.secret_names
    }
    /// The time of the login, RFC 3339.
    pub fn now(&self) -> &str {
        &self.raw.now
    }
    /// The time of the login in milliseconds since the Unix epoch.
    pub fn now_ms(&self) -> i64 {
        self.raw.now_ms
    }
}

fn to_json(value: &impl Serialize) -> Result<String, String> {
    serde_json::to_string(value).map_err(|e| format!("value is not serializable: {e}"))
}

/// Acts on the login.
#[derive(Debug, Default)]
pub struct Api {
    _private: (),
}

/// Claims on the ID token.
#[derive(Debug)]
pub struct IdToken<'a>(PhantomData<&'a Api>);
/// Claims and scopes on the access token.
#[derive(Debug)]
pub struct AccessToken<'a>(PhantomData<&'a Api>);
/// Allow or deny the login.
#[derive(Debug)]
pub struct Access<'a>(PhantomData<&'a Api>);
/// Metadata writes, applied once after the whole flow succeeds.
#[derive(Debug)]
pub struct UserWrites<'a>(PhantomData<&'a Api>);

impl Api {
    /// The ID token (its custom claims also appear in `/userinfo`).
    pub fn id_token(&self) -> IdToken<'_> {
        IdToken(PhantomData)
    }
    /// The access token.
    pub fn access_token(&self) -> AccessToken<'_> {
        AccessToken(PhantomData)
    }
    /// Allow or deny.
    pub fn access(&self) -> Access<'_> {
        Access(PhantomData)
    }
    /// The user's metadata.
    pub fn user(&self) -> UserWrites<'_> {
        UserWrites(PhantomData)
    }
    /// Writes a line to the hook's log (shown in the execution trace and by `sigil hooks test`).
    pub fn log(&self, message: impl AsRef<str>) {
        host::log(message.as_ref());
    }
}

impl IdToken<'_> {
    /// Sets a custom claim, e.g. `set_custom_claim("https://myapp.example/roles", &roles)`.
    /// Namespaced names (URLs) avoid clashes with standard claims; registered claims (`sub`,
    /// `iss`, `email`, ...) may not be set and fail the hook.
    pub fn set_custom_claim(&self, name: &str, value: &impl Serialize) -> Result<(), String> {
        host::set_id_token_claim(name, &to_json(value)?);
        Ok(())
    }
}

impl AccessToken<'_> {
    /// Sets a custom claim on the access token.
    pub fn set_custom_claim(&self, name: &str, value: &impl Serialize) -> Result<(), String> {
        host::set_access_token_claim(name, &to_json(value)?);
        Ok(())
    }
    /// Adds a scope, e.g. `add_scope("admin:all")`.
    pub fn add_scope(&self, scope: &str) {
        host::add_scope(scope);
    }
    /// Removes a scope, e.g. `remove_scope("write:reports")`.
    pub fn remove_scope(&self, scope: &str) {
        host::remove_scope(scope);
    }
}

impl Access<'_> {
    /// Denies the login with a reason shown to the user (`access_denied`).
    pub fn deny(&self, reason: &str) {
        host::deny(reason);
    }
}

impl UserWrites<'_> {
    /// Sets `user_metadata[key]`; `serde_json::Value::Null` deletes the key.
    pub fn set_user_metadata(&self, key: &str, value: &impl Serialize) -> Result<(), String> {
        host::set_user_metadata(key, &to_json(value)?);
        Ok(())
    }
    /// Sets `app_metadata[key]`; `serde_json::Value::Null` deletes the key.
    pub fn set_app_metadata(&self, key: &str, value: &impl Serialize) -> Result<(), String> {
        host::set_app_metadata(key, &to_json(value)?);
        Ok(())
    }
}

#[doc(hidden)]
pub fn __run(
    raw: wit::Event,
    handler: fn(&Event, &Api) -> Result<(), String>,
) -> Result<(), String> {
    log_panics();
    let event = Event::new(raw);
    handler(&event, &Api::default())
}

/// Writes a panic's message and location to the hook's log before the hook traps, so the
/// trace says why it failed.
fn log_panics() {
    static PANIC_HOOK: Once = Once::new();
    PANIC_HOOK.call_once(|| {
        std::panic::set_hook(Box::new(|info| {
            host::log(&format!("panic: {info}"));
        }));
    });
}

/// Declares the hook's handler: `fn(&Event, &Api) -> Result<(), String>`.
#[macro_export]
macro_rules! export_post_login {
    ($handler:path) => {
        struct __SigilHook;
        impl $crate::bindings::Guest for __SigilHook {
            fn on_post_login(
                event: $crate::bindings::sigil::hooks::types::Event,
            ) -> ::core::result::Result<(), ::std::string::String> {
                $crate::__run(event, $handler)
            }
        }
        $crate::bindings::export!(__SigilHook);
    };
}
