//! The application state: the only place that knows every concrete type.
//! Endpoint crates receive their own slice of it through `FromRef`.

use std::sync::Arc;

use axum::extract::FromRef;
use latchkey_admin::AdminState;
use latchkey_authorize::AuthorizeState;
use latchkey_console::ConsoleState;
use latchkey_discovery::DiscoveryState;
use latchkey_registration::RegistrationState;
use latchkey_token::TokenState;

/// What the health endpoints need.
#[derive(Clone)]
pub struct HealthState {
    pub stores: Arc<crate::health::StoreHealth>,
}

/// Shared by every request. axum clones the router's state once per request,
/// so it is one `Arc`: cloning the parts themselves cost about forty
/// reference-count updates per request (19% of a JWKS request's CPU).
#[derive(Clone)]
pub struct AppState(Arc<AppParts>);

impl AppState {
    pub fn new(parts: AppParts) -> Self {
        Self(Arc::new(parts))
    }
}

impl std::ops::Deref for AppState {
    type Target = AppParts;
    fn deref(&self) -> &AppParts {
        &self.0
    }
}

pub struct AppParts {
    pub discovery: DiscoveryState,
    pub registration: RegistrationState,
    pub health: HealthState,
    pub authorize: AuthorizeState,
    pub token: TokenState,
    pub admin: AdminState,
    /// The admin console (routed only while `admin.console` is on).
    pub console: ConsoleState,
    pub metrics: Option<metrics_exporter_prometheus::PrometheusHandle>,
}

impl FromRef<AppState> for Option<metrics_exporter_prometheus::PrometheusHandle> {
    fn from_ref(s: &AppState) -> Self {
        s.metrics.clone()
    }
}

impl FromRef<AppState> for AuthorizeState {
    fn from_ref(s: &AppState) -> Self {
        s.authorize.clone()
    }
}

impl FromRef<AppState> for TokenState {
    fn from_ref(s: &AppState) -> Self {
        s.token.clone()
    }
}

impl FromRef<AppState> for DiscoveryState {
    fn from_ref(s: &AppState) -> Self {
        s.discovery.clone()
    }
}

impl FromRef<AppState> for RegistrationState {
    fn from_ref(s: &AppState) -> Self {
        s.registration.clone()
    }
}

impl FromRef<AppState> for HealthState {
    fn from_ref(s: &AppState) -> Self {
        s.health.clone()
    }
}

impl FromRef<AppState> for AdminState {
    fn from_ref(s: &AppState) -> Self {
        s.admin.clone()
    }
}

impl FromRef<AppState> for ConsoleState {
    fn from_ref(s: &AppState) -> Self {
        s.console.clone()
    }
}
