//! The operations of the product, once each, as plain async functions over
//! storage. The browser endpoints (`latchkey-authorize`), the admin API and
//! the CLI call them and keep only transport: parsing, rendering, status
//! codes, audit records in their own words.
//!
//! - [`sign_in`]: checking a password within the sign-in limits ([`limits`]).
//! - [`clients`]: registering, replacing the settings of and deleting a
//!   client.
//! - [`sessions`]: starting a session, and ending one (its refresh tokens
//!   as configured, its clients told over the back channel).
//! - [`consents`]: granting consent, and cutting an app off (the consent
//!   and everything issued under it, in one unit of work).
//! - [`accounts`]: provisioning a federated account (in one unit of work),
//!   linking one, and unlinking one (never the last way to sign in).
//! - [`keys`]: creating, rotating and retiring signing keys.
//! - [`tokens`]: redeeming a code (a replay revokes what it got), rotating
//!   a refresh token, revoking a refresh-token family.
//! - [`users`]: creating, saving (password, disabled) and deleting a user.
//! - [`signup`]: open sign-up and invitations (docs/self-service.md).
//! - [`backchannel`]: OIDC Back-Channel Logout delivery.
//! - [`device`]: the limit on wrong user codes of the device grant.
//! - [`mfa`]: second factors: enrolling TOTP, checking a TOTP or recovery
//!   code within the sign-in limits, recovery codes, removing factors.
//! - [`passkeys`]: WebAuthn: registering a passkey, signing in with one (a
//!   second factor or passwordless), listing and removing them.

pub mod accounts;
pub mod backchannel;
pub mod clients;
pub mod consents;
pub mod device;
pub mod keys;
pub mod limits;
pub mod mfa;
pub mod passkeys;
pub mod self_service;
pub mod sessions;
pub mod sign_in;
pub mod signup;
pub mod tokens;
pub mod users;

pub use backchannel::BackchannelNotifier;
pub use sessions::{EndRevokes, EndedSession, end_session};
