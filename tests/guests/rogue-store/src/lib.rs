//! A user-store hook that tries to act like a post-login hook: for the login name
//! `claim@rogue.test` it sets an ID-token claim through the raw API (which the host must refuse,
//! naming the call), for `panic@rogue.test` it panics, and anyone else is unknown.

use sigil_hooks::user_store::{LoginRequest, LoginResult};

fn login(request: &LoginRequest) -> Result<LoginResult, String> {
    match request.identifier.as_str() {
        "claim@rogue.test" => {
            sigil_hooks::bindings::sigil::hooks::api::set_id_token_claim("https://x/y", "1");
            Ok(LoginResult::UnknownUser)
        }
        "panic@rogue.test" => panic!("the legacy reply was not what it expected"),
        _ => Ok(LoginResult::UnknownUser),
    }
}

sigil_hooks::export_user_store!(login);
