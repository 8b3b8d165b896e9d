//! The admin console (docs/admin-console.md): server-rendered pages at
//! `/admin` for the people who run a Latchkey: a dashboard, clients, users,
//! sessions, signing keys and the audit log.
//!
//! - The console is an OpenID Connect client of its own server
//!   ([`CONSOLE_CLIENT_ID`], registered at startup): admins sign in through
//!   the real `/authorize`, so every sign-in policy applies to them
//!   ([`session`]).
//! - Who may use it, and what they may do, comes from their groups
//!   (`admin.console_groups` maps groups to a [`Role`]); every page and
//!   every form checks the role on the server ([`Admin::require`]).
//! - Every form carries a CSRF token bound to the console session, checked
//!   on every POST ([`Posted`]).
//! - Every change goes through `latchkey_domain` (as the CLI and the admin
//!   API do) and is an audit event with the admin as actor
//!   ([`Admin::event`]).
//!
//! Adding a page: a route in [`router`], a handler taking [`Admin`] (or
//! [`Posted`] for a form, then [`Admin::require`]), a template extending
//! `console/base.html` with a `layout: Layout` field, [`render`].

// A refusal is answered with its page: `Result<_, Response>`, as axum's own
// extractors do. Boxing the error would save nothing on a path that ends the
// request.
#![allow(clippy::result_large_err)]

mod audit;
mod clients;
mod dashboard;
mod keys;
pub mod page;
pub mod session;
mod sessions;
mod users;

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Router;
use axum::extract::FromRef;
use axum::routing::{get, post};
use latchkey_core::audit::AuditEvent;
use latchkey_core::{Clock, RegistrationPolicy};
use latchkey_keys::KeyRing;
use latchkey_store::Store;

pub use latchkey_config::ConsoleRole as Role;
pub use latchkey_domain::clients::CONSOLE_CLIENT_ID;
pub use page::{Flash, Layout, Nav, Page, Pager, forbidden, render};
pub use session::{Admin, Posted};

/// Where the console lives (on whichever listener serves it).
pub const BASE: &str = "/admin";

/// The console's own stylesheet (on top of the pages' `latchkey.css`).
pub const CSS_PATH: &str = "/admin/assets/console.css";

/// The state of the stores, as the dashboard shows it: (name, condition)
/// pairs such as ("database", "up").
pub type HealthReport = Arc<dyn Fn() -> Vec<(&'static str, &'static str)> + Send + Sync>;

/// What the console needs.
#[derive(Clone)]
pub struct ConsoleState {
    pub settings: Arc<ConsoleSettings>,
    pub store: Arc<dyn Store>,
    pub clock: Arc<dyn Clock>,
    /// The server's signing keys: they sign the console's cookies (so any
    /// replica accepts them) and are what the keys page manages.
    pub keys: Arc<KeyRing>,
    pub key_settings: latchkey_domain::keys::KeySettings,
    /// Ending sessions as signing out does.
    pub notifier: Arc<latchkey_domain::BackchannelNotifier>,
    pub end_revokes: latchkey_domain::EndRevokes,
    /// The redirect-URI rules clients created here follow (as the CLI's).
    pub policy: RegistrationPolicy,
    pub health: HealthReport,
    pub trusted_proxies: Arc<[latchkey_http::IpRange]>,
    /// The outbox, where email is configured (password reset links).
    pub outbox: Option<Arc<latchkey_email::Outbox>>,
    /// `email`: links' lifetimes and the per-account limit.
    pub email: Arc<latchkey_config::Email>,
    /// The operator's email templates (`ui.templates_dir`), if any.
    pub email_templates: Option<Arc<latchkey_email::Overrides>>,
}

impl ConsoleState {
    /// What sending a reset link needs; `None` without email configured.
    pub fn mail(&self) -> Option<latchkey_domain::self_service::Mail<'_>> {
        Some(latchkey_domain::self_service::Mail {
            store: &*self.store,
            outbox: self.outbox.as_deref()?,
            clock: &*self.clock,
            settings: &self.email,
            issuer: &self.settings.issuer,
            product: &self.settings.product_name,
            // The email speaks the account's `locale`; the console itself is English.
            lang: latchkey_email::messages::Language::En,
            overrides: self.email_templates.as_deref(),
        })
    }
}

/// The console's configuration, resolved once.
#[derive(Debug, Clone)]
pub struct ConsoleSettings {
    /// The issuer (`/authorize` is under it).
    pub issuer: String,
    /// Where browsers reach the console, without a trailing slash
    /// (`admin.console_url`, or the issuer's origin with `/admin`).
    pub base_url: String,
    /// Cookies are `Secure` (the console is served over https).
    pub secure_cookies: bool,
    /// `admin.console_groups`.
    pub groups: BTreeMap<String, Role>,
    pub product_name: String,
    pub logo_uri: Option<String>,
    /// The pages' shared stylesheet (`latchkey.css`, under the issuer's path).
    pub css_href: String,
}

impl ConsoleSettings {
    pub fn from_config(config: &latchkey_config::Config) -> Self {
        Self {
            issuer: config.issuer.clone(),
            base_url: config.admin.console_base_url(&config.issuer),
            secure_cookies: config.admin.console_base_url(&config.issuer).starts_with("https://"),
            groups: config.admin.console_groups.clone(),
            product_name: config.ui.product_name.trim().to_string(),
            logo_uri: config.ui.logo_uri.clone(),
            css_href: format!("{}/assets/latchkey.css", config.issuer.trim_end_matches('/')),
        }
    }

    /// The console's sign-in callback (its client's one redirect URI).
    pub fn redirect_uri(&self) -> String {
        format!("{}/callback", self.base_url)
    }

    /// The strongest role `groups` give, if any.
    pub fn role_of<S: AsRef<str>>(&self, groups: &[S]) -> Option<Role> {
        groups.iter().filter_map(|g| self.groups.get(g.as_ref()).copied()).max()
    }
}

/// The console's routes, at `/admin/...`.
pub fn router<S>() -> Router<S>
where
    S: Clone + Send + Sync + 'static,
    ConsoleState: FromRef<S>,
{
    let path = |p: &str| format!("{BASE}{p}");
    Router::new()
        .route(BASE, get(dashboard::show))
        .route(&path("/"), get(dashboard::show))
        .route(&path("/sign-in"), get(session::sign_in))
        .route(&path("/callback"), get(session::callback))
        .route(&path("/sign-out"), post(session::sign_out))
        .route(&path("/sessions"), get(sessions::show))
        .route(&path("/sessions/end"), post(sessions::end))
        .route(&path("/sessions/end-all"), post(sessions::end_all))
        .route(&path("/keys"), get(keys::show))
        .route(&path("/keys/rotate"), post(keys::rotate))
        .route(&path("/keys/retire"), post(keys::retire))
        .route(&path("/audit"), get(audit::show))
        .route(&path("/audit/export"), get(audit::export))
        // Clients and users (src/clients.rs, src/users.rs).
        .route(&path("/clients"), get(clients::list))
        .route(&path("/clients/new"), get(clients::new_form).post(clients::create))
        .route(&path("/clients/{client_id}"), get(clients::show).post(clients::update))
        .route(&path("/clients/{client_id}/rotate-secret"), post(clients::rotate_secret))
        .route(&path("/clients/{client_id}/delete"), get(clients::confirm_delete).post(clients::delete))
        .route(&path("/users"), get(users::list))
        .route(&path("/users/new"), get(users::new_form).post(users::create))
        .route(&path("/users/{user_id}"), get(users::show).post(users::update))
        .route(&path("/users/{user_id}/disable"), post(users::disable))
        .route(&path("/users/{user_id}/enable"), post(users::enable))
        .route(&path("/users/{user_id}/password"), post(users::set_password))
        .route(&path("/users/{user_id}/reset-link"), post(users::send_reset_link))
        .route(&path("/users/{user_id}/unlock"), post(users::unlock))
        .route(&path("/users/{user_id}/factors/reset"), post(users::reset_factors))
        .route(&path("/users/{user_id}/sessions/end"), post(users::end_sessions))
        .route(&path("/users/{user_id}/consents/revoke"), post(users::revoke_consent))
        .route(&path("/users/{user_id}/delete"), get(users::confirm_delete).post(users::delete))
        .route(CSS_PATH, get(page::stylesheet))
        .layer(axum::extract::DefaultBodyLimit::max(64 * 1024))
}

/// Records an audit event (a failure to record is logged, not shown).
pub async fn record(state: &ConsoleState, event: AuditEvent) {
    latchkey_http::audit(state.store.as_ref(), event).await;
}

/// What each role may do: the one place the matrix is written down
/// (docs/admin-console.md shows it as a table).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Every page, read only.
    View,
    /// Unlock, reset a password, end sessions, remove second factors,
    /// disable and enable an account, revoke a consent.
    AccountSupport,
    /// Create, edit and delete users; edit their claims and groups.
    ManageUsers,
    /// Create, edit, delete clients and rotate their secrets.
    ManageClients,
    /// Rotate and retire signing keys.
    ManageKeys,
}

impl Action {
    /// The weakest role allowed to do this.
    pub fn needs(self) -> Role {
        match self {
            Action::View => Role::ReadOnly,
            Action::AccountSupport => Role::Support,
            Action::ManageUsers | Action::ManageClients | Action::ManageKeys => Role::Full,
        }
    }

    /// Words for the refusal page: "Your role may not {describe}."
    pub fn describe(self) -> &'static str {
        match self {
            Action::View => "view the console",
            Action::AccountSupport => "change accounts (unlock, reset passwords, end sessions, remove second factors)",
            Action::ManageUsers => "create, edit or delete users",
            Action::ManageClients => "create, change or delete clients",
            Action::ManageKeys => "rotate or retire signing keys",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_strongest_role_wins_and_strangers_have_none() {
        let settings = ConsoleSettings {
            issuer: "https://id.example.com".into(),
            base_url: "https://id.example.com/admin".into(),
            secure_cookies: true,
            groups: BTreeMap::from([
                ("auditors".to_string(), Role::ReadOnly),
                ("helpdesk".to_string(), Role::Support),
                ("it-admins".to_string(), Role::Full),
            ]),
            product_name: "Latchkey".into(),
            logo_uri: None,
            css_href: "/assets/latchkey.css".into(),
        };
        assert_eq!(settings.role_of(&["staff", "helpdesk", "auditors"]), Some(Role::Support));
        assert_eq!(settings.role_of(&["it-admins", "auditors"]), Some(Role::Full));
        assert_eq!(settings.role_of(&["staff"]), None);
        assert_eq!(settings.role_of::<&str>(&[]), None);
        assert_eq!(settings.redirect_uri(), "https://id.example.com/admin/callback");
    }

    #[test]
    fn the_matrix() {
        assert!(Role::ReadOnly >= Action::View.needs());
        assert!(Role::ReadOnly < Action::AccountSupport.needs());
        assert!(Role::Support >= Action::AccountSupport.needs());
        for full_only in [Action::ManageUsers, Action::ManageClients, Action::ManageKeys] {
            assert!(Role::Support < full_only.needs() && Role::Full >= full_only.needs());
        }
    }
}
