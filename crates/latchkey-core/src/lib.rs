//! Wire and domain types shared by every Latchkey crate. Nothing here does I/O:
//! time and randomness come in through [`Clock`] and [`random`], so callers and
//! tests decide where they come from.

pub mod acr;
pub mod audit;
pub mod calendar;
pub mod claims;
pub mod claims_request;
pub mod client;
pub mod client_keys;
pub mod clock;
pub mod device;
pub mod dpop;
pub mod error;
pub mod fapi2;
pub mod grant;
pub mod ip;
pub mod jws;
pub mod lockout;
pub mod password;
pub mod pkce;
pub mod profile;
pub mod random;
pub mod recovery;
pub mod redirect_uri;
pub mod scope;
pub mod secret;
pub mod totp;
pub mod user;

pub use client::{
    AuthMethod, Client, ClientMetadata, GrantType, MetadataError, RegistrationPolicy, SelfRegistrationPolicy,
};
pub use clock::{Clock, MockClock, SystemClock};
pub use error::{ErrorCode, OAuthError};
pub use scope::Scope;
pub use user::{Address, NewUser, User, UserClaims};
