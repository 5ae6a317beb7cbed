//! Who is calling: password and secret hashing, signed access tokens, the
//! sign-in throttle and the extractor that authenticates every request.

pub mod cache;
pub mod oidc;
pub mod password;
pub mod principal;
pub mod sessions;
pub mod throttle;
pub mod tokens;

pub use principal::{Identity, Principal, Subject};
pub use tokens::TokenKeys;
