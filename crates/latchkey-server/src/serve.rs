//! `latchkey serve`: opens the database, makes sure signing keys exist,
//! assembles the router, and serves until SIGTERM or Ctrl-C.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use latchkey_authorize::{AuthorizeSettings, AuthorizeState};
use latchkey_core::{Clock, SystemClock};
use latchkey_discovery::{DiscoveryState, ProviderMetadata};
use latchkey_domain::BackchannelNotifier;
use latchkey_keys::KeyRing;
use latchkey_registration::RegistrationState;
use latchkey_store::KeyStore;
use latchkey_token::{TokenSettings, TokenState};
use tower_http::timeout::TimeoutLayer;

use crate::commands::open_store;
use crate::config::{AdminListener, ConfigError, LogFormat, RegistrationMode, Settings};
use crate::health::StoreHealth;
use crate::keys::{load_key_set, spawn_refresher};
use crate::state::{AppParts, AppState, HealthState};
use latchkey_client_auth::{ClientAuthenticator, ClientKeys, KeyFetchSettings};
use latchkey_core::client_keys::{ASSERTION_ALGORITHMS, HMAC_ALGORITHMS};

/// Paths relative to the issuer.
pub const JWKS_PATH: &str = "/jwks";
pub const REGISTRATION_PATH: &str = "/register";

/// Logs go to standard error; `LATCHKEY_LOG` overrides `log_level`.
/// `default_level` caps the CLI's chatter (warnings only) while `serve` uses
/// the configured level.
pub fn init_logging(settings: &Settings, default_level: Option<&str>) {
    let level = default_level.unwrap_or(&settings.config.log_level);
    let filter = tracing_subscriber::EnvFilter::try_from_env("LATCHKEY_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr);
    let _ = match settings.config.log_format {
        LogFormat::Json => builder.json().flatten_event(true).with_current_span(true).with_span_list(false).try_init(),
        LogFormat::Text => builder.try_init(),
    };
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

/// The DPoP proof checker. Server nonces are keyed by `keys.encryption_key`
/// where it is set (replicas accept each other's); else by a key of this
/// process alone.
fn dpop_verifier(
    settings: &Settings,
    replay: Arc<dyn latchkey_store::ReplayStore>,
    clock: Arc<dyn Clock>,
) -> latchkey_client_auth::DpopVerifier {
    let d = &settings.config.dpop;
    let nonce_key = match &settings.encryption_key {
        Some(key) => key.dpop_nonce_key(),
        None => latchkey_core::dpop::NonceKey::random(),
    };
    latchkey_client_auth::DpopVerifier::new(
        replay,
        clock,
        &settings.config.issuer,
        latchkey_client_auth::DpopSettings {
            iat_window_seconds: d.iat_window_seconds.secs(),
            require_nonce: d.require_nonce,
            nonce_lifetime_seconds: d.nonce_lifetime_seconds.secs(),
        },
        nonce_key,
    )
}

/// The provider metadata: exactly what this build implements.
pub fn provider_metadata(settings: &Settings) -> ProviderMetadata {
    let url = |path: &str| format!("{}{path}", settings.config.issuer);
    // client_secret_jwt only where its secrets can be derived (keys.encryption_key).
    let secret_jwt = settings.encryption_key.is_some();
    let auth_methods = |public: bool| {
        let mut methods = strings(&["client_secret_basic", "client_secret_post", "private_key_jwt"]);
        if secret_jwt {
            methods.push("client_secret_jwt".into());
        }
        if public {
            methods.push("none".into());
        }
        methods
    };
    let mut assertion_algorithms = strings(&ASSERTION_ALGORITHMS);
    if secret_jwt {
        assertion_algorithms.extend(strings(&HMAC_ALGORITHMS));
    }
    // Every algorithm we keep keys for, RS256 first.
    let signing_algorithms: Vec<String> = settings.signing_algorithms().iter().map(|a| a.as_str().into()).collect();
    ProviderMetadata {
        issuer: settings.config.issuer.clone(),
        authorization_endpoint: Some(url("/authorize")),
        token_endpoint: Some(url("/token")),
        userinfo_endpoint: Some(url("/userinfo")),
        introspection_endpoint: Some(url("/introspect")),
        revocation_endpoint: Some(url("/revoke")),
        end_session_endpoint: Some(url("/logout")),
        device_authorization_endpoint: Some(url("/device_authorization")),
        pushed_authorization_request_endpoint: Some(url(latchkey_authorize::par::PATH)),
        require_pushed_authorization_requests: settings.config.par.required,
        jwks_uri: url(JWKS_PATH),
        registration_endpoint: (settings.registration() != RegistrationMode::Closed).then(|| url(REGISTRATION_PATH)),
        scopes_supported: strings(&["openid", "profile", "email", "phone", "address", "groups", "offline_access"]),
        response_types_supported: strings(&["code"]),
        response_modes_supported: strings(&latchkey_authorize::request::RESPONSE_MODES),
        grant_types_supported: strings(&[
            "authorization_code",
            "refresh_token",
            "client_credentials",
            latchkey_core::device::GRANT_TYPE,
            latchkey_core::client::TOKEN_EXCHANGE,
        ]),
        subject_types_supported: strings(&["public"]),
        id_token_signing_alg_values_supported: signing_algorithms.clone(),
        userinfo_signing_alg_values_supported: signing_algorithms.clone(),
        token_endpoint_auth_methods_supported: auth_methods(true),
        token_endpoint_auth_signing_alg_values_supported: assertion_algorithms.clone(),
        code_challenge_methods_supported: strings(&["S256"]),
        dpop_signing_alg_values_supported: strings(&latchkey_core::dpop::DPOP_ALGORITHMS),
        // The ID token's own claims, then every end-user claim a scope releases.
        claims_supported: [
            "iss",
            "sub",
            "aud",
            "exp",
            "iat",
            "auth_time",
            "nonce",
            "acr",
            "amr",
            "azp",
            "at_hash",
            "sid",
        ]
        .into_iter()
        .chain(latchkey_core::claims_request::SCOPE_CLAIMS.iter().flat_map(|(_, claims)| claims.iter().copied()))
        .map(String::from)
        .collect(),
        // What sign-ins here can give (docs/mfa.md); acr_values naming them are honoured.
        acr_values_supported: {
            let mut acr = vec![latchkey_authorize::ACR_PASSWORD, latchkey_authorize::ACR_MFA];
            // Passkeys need a host name for the issuer (browsers refuse WebAuthn on IP addresses).
            if latchkey_domain::passkeys::relying_party(&settings.config.issuer, "Latchkey").is_some() {
                acr.push(latchkey_authorize::ACR_PHR);
            }
            if !settings.upstreams.is_empty() {
                acr.push(latchkey_authorize::upstream::ACR_FEDERATED);
            }
            strings(&acr)
        },
        display_values_supported: strings(&["page", "popup", "touch", "wap"]),
        // Exactly the languages pages and emails ship in (latchkey-i18n).
        ui_locales_supported: latchkey_i18n::Language::ALL.iter().map(|l| l.tag().to_string()).collect(),
        prompt_values_supported: {
            let mut prompts = vec!["none", "login", "consent", "select_account"];
            // Initiating User Registration via OpenID Connect 1.0: only where anyone may sign up.
            if settings.config.signup.mode == latchkey_config::SignupMode::Open {
                prompts.push("create");
            }
            strings(&prompts)
        },
        authorization_response_iss_parameter_supported: true,
        request_parameter_supported: true,
        request_object_signing_alg_values_supported: strings(&latchkey_client_auth::REQUEST_OBJECT_ALGORITHMS),
        request_uri_parameter_supported: false,
        authorization_signing_alg_values_supported: signing_algorithms,
        claims_parameter_supported: true,
        introspection_endpoint_auth_methods_supported: auth_methods(false),
        introspection_endpoint_auth_signing_alg_values_supported: assertion_algorithms.clone(),
        revocation_endpoint_auth_methods_supported: auth_methods(true),
        revocation_endpoint_auth_signing_alg_values_supported: assertion_algorithms,
        backchannel_logout_supported: true,
        backchannel_logout_session_supported: true,
        service_documentation: None,
    }
}

/// The configured upstream providers, each with its callback URL.
fn upstreams(settings: &Settings) -> anyhow::Result<latchkey_federation::Upstreams> {
    let mut list = Vec::new();
    for u in &settings.upstreams {
        let callback = format!("{}/upstream/{}/callback", settings.config.issuer, u.id);
        list.push(
            latchkey_federation::Upstream::new(u.clone(), &callback)
                .map_err(|e| anyhow::anyhow!("upstream {}: {e}", u.id))?,
        );
    }
    Ok(latchkey_federation::Upstreams::new(list))
}

/// Builds the full router for the given state; unknown paths get a page
/// (browsers) or JSON (programs).
pub fn router(settings: &Settings, state: AppState) -> Router {
    let mut api: Router<AppState> = Router::new()
        .merge(latchkey_discovery::router(JWKS_PATH))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .merge(latchkey_authorize::router(state.authorize.clone()))
        .merge(latchkey_token::router());
    if settings.registration() != RegistrationMode::Closed {
        api = api.merge(latchkey_registration::router(REGISTRATION_PATH));
    }
    let mut app = if settings.issuer_path.is_empty() {
        api
    } else {
        // Health probes also answer at the host root, where load balancers look.
        Router::new()
            .nest(&settings.issuer_path, api)
            .merge(latchkey_discovery::root_router(&settings.issuer_path))
            .route("/healthz", get(healthz))
            .route("/readyz", get(readyz))
    };
    if settings.config.metrics.enabled {
        app = app.route("/metrics", get(crate::observe::metrics_endpoint));
    }
    // Browsers ask for it at the host root: no icon, and no 404 in the logs.
    app = app.route("/favicon.ico", get(favicon));
    // The admin API and the console sit at the host root (not under the issuer's path).
    if settings.admin() == AdminListener::Public {
        app = app.merge(latchkey_admin::router());
    }
    if settings.config.admin.console_listener() == AdminListener::Public {
        app = app.merge(latchkey_console::router());
    }
    finish(app.fallback(latchkey_authorize::not_found), state)
}

/// The router of the separate admin listener (`admin.listen`): the admin API
/// and the console, as enabled, and JSON 404s.
pub fn admin_router(settings: &Settings, state: AppState) -> Router {
    let mut app = Router::new();
    if matches!(settings.admin(), AdminListener::Separate(_)) {
        app = app.merge(latchkey_admin::router());
    }
    if matches!(settings.config.admin.console_listener(), AdminListener::Separate(_)) {
        app = app.merge(latchkey_console::router());
    }
    finish(app.fallback(latchkey_http::not_found), state)
}

async fn favicon() -> Response {
    (StatusCode::NO_CONTENT, [(axum::http::header::CACHE_CONTROL, "public, max-age=86400")]).into_response()
}

/// What every listener's router gets after its 404 fallback: request
/// tracking, security headers and the request timeout.
fn finish(app: Router<AppState>, state: AppState) -> Router {
    let app = app.layer(axum::middleware::from_fn(crate::observe::track)).with_state(state);
    latchkey_http::with_security_headers(app)
        .layer(TimeoutLayer::with_status_code(StatusCode::SERVICE_UNAVAILABLE, Duration::from_secs(30)))
        .layer(axum::middleware::map_response(retry_after))
}

/// Seconds a client is asked to wait after a `503`.
pub const RETRY_AFTER_SECONDS: u32 = 5;

/// Every `503` (a store that is away, full or failing fast, a request over
/// its time limit) says when to try again.
async fn retry_after(mut res: Response) -> Response {
    if res.status() == StatusCode::SERVICE_UNAVAILABLE && !res.headers().contains_key(header::RETRY_AFTER) {
        res.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECONDS));
    }
    res
}

async fn healthz() -> Response {
    axum::Json(serde_json::json!({"status": "ok"})).into_response()
}

/// Ready while every store answers and database writes succeed, as the
/// health probe last found (it runs every second, and at once when a
/// request's store call fails).
async fn readyz(State(health): State<HealthState>) -> Response {
    let stores = &health.stores;
    let mut body = serde_json::json!({"status": "ready"});
    if !stores.ready() {
        body = serde_json::json!({"status": "unavailable", "database": stores.database().as_str()});
        if let Some(redis) = stores.redis() {
            body["redis"] = redis.as_str().into();
        }
        return (StatusCode::SERVICE_UNAVAILABLE, axum::Json(body)).into_response();
    }
    axum::Json(body).into_response()
}

/// Deletes expired codes, interactions, sessions, refresh tokens and denylist
/// entries, and audit events past their retention, in bounded batches, so
/// that no table only grows. Every replica runs it; the deletes are idempotent.
fn spawn_gc(
    store: Arc<dyn latchkey_store::Store>,
    clock: Arc<dyn Clock>,
    interval: Duration,
    batch: u32,
    audit_retention: Option<Duration>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticker.tick().await;
            match store.purge_expired(clock.now(), batch).await {
                Ok(p) if p.total() > 0 => tracing::info!(
                    codes = p.codes,
                    interactions = p.interactions,
                    sessions = p.sessions,
                    refresh_tokens = p.refresh_tokens,
                    denylist = p.denylist,
                    email_tokens = p.email_tokens,
                    invitations = p.invitations,
                    "expired records deleted"
                ),
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "clean-up of expired records failed"),
            }
            let Some(retention) = audit_retention else { continue };
            match store.delete_audit_before(clock.now() - retention.as_secs() as i64, batch).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(audit_events = n, "audit events past their retention deleted"),
                Err(e) => tracing::warn!(error = %e, "clean-up of old audit events failed"),
            }
        }
    })
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutdown requested; finishing in-flight requests");
}

pub async fn serve(settings: Settings) -> anyhow::Result<()> {
    serve_with(settings, crate::Hooks::default()).await
}

/// `serve`, with what a binary adds (`Hooks`).
pub async fn serve_with(settings: Settings, hooks: crate::Hooks) -> anyhow::Result<()> {
    init_logging(&settings, None);
    for warning in &settings.warnings {
        tracing::warn!("configuration: {warning}");
    }
    let started = std::time::Instant::now();
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    // Before anything records a metric (the key loader sets key-age gauges).
    let config = &settings.config;
    let metrics = if config.metrics.enabled { crate::observe::install_metrics() } else { None };
    let (store, sql, redis) = open_store(&settings, clock.clone(), latchkey_store_sql::OpenMode::Create).await?;
    tracing::info!(database = %crate::config::database_location(&config.database_url), "database opened");
    let built = build(settings.clone(), (store, sql, redis), clock, metrics, hooks).await?;
    listen(settings, built, started).await
}

/// The application `serve` runs, built from an opened store: the store's
/// layers (fault hook, metrics, health guard, caches), the signing keys, the
/// state of every endpoint, and the background tasks they need (health probe,
/// change-feed poller). `serve` and the in-process tests (`testing::TestApp`)
/// both build it here, so that tests exercise the production wiring.
pub struct App {
    pub state: AppState,
    pub store: Arc<dyn latchkey_store::Store>,
    pub ring: Arc<KeyRing>,
    pub clock: Arc<dyn Clock>,
    /// The in-memory caches (none when `cache.mode` turns them off).
    pub caches: Option<Arc<crate::cached::Caches>>,
    key_store: Arc<dyn KeyStore>,
    pub(crate) sql: latchkey_store_sql::SqlStore,
    sql_probe: latchkey_store_sql::SqlProbe,
    probe: tokio::task::JoinHandle<()>,
    /// The email sender, started by `serve` (the in-process tests drive
    /// the outbox themselves).
    pub sender: Option<latchkey_email::Sender>,
}

impl App {
    /// The router of the public listener (see [`router`]).
    pub fn router(&self, settings: &Settings) -> Router {
        router(settings, self.state.clone())
    }

    /// Stops the background tasks and closes the pools.
    pub async fn close(self) {
        self.probe.abort();
        self.sql_probe.close().await;
        self.sql.close().await;
    }
}

/// Builds the [`App`] on `opened`, what `open_store` returned.
pub async fn build(
    settings: Settings,
    opened: (Arc<dyn latchkey_store::Store>, latchkey_store_sql::SqlStore, Option<latchkey_store_redis::RedisStore>),
    clock: Arc<dyn Clock>,
    metrics: Option<metrics_exporter_prometheus::PrometheusHandle>,
    hooks: crate::Hooks,
) -> anyhow::Result<App> {
    let (store, sql, redis) = opened;
    let config = &settings.config;
    // Parse the message catalogs now: a broken one stops startup, not a page.
    latchkey_i18n::load();
    let store = match hooks.wrap_store {
        Some(wrap) => wrap(store),
        None => store,
    };
    let store: Arc<dyn latchkey_store::Store> =
        if config.metrics.enabled { Arc::new(crate::metered::Metered(store)) } else { store };
    // Fail fast on a store the probe found down; caches (outside) still serve.
    let health = StoreHealth::new(redis.is_some());
    let sql_probe = sql.prober(config.database.acquire_timeout_seconds.duration());
    let redis_probe = redis.clone().zip(settings.redis.as_ref().map(|r| r.timeout));
    let probe = crate::health::spawn_probe(health.clone(), sql_probe.clone(), redis_probe, clock.clone());
    let store: Arc<dyn latchkey_store::Store> =
        Arc::new(crate::guarded::Guarded::new(store, health.clone(), redis.is_some()));
    // Caches outside the metering, so that store metrics count real reads only.
    let caches = settings.cache().map(|c| Arc::new(crate::cached::Caches::new(c)));
    let feed_start = match &caches {
        Some(_) => store.latest_change().await.context("reading the change feed")?,
        None => 0,
    };
    let store: Arc<dyn latchkey_store::Store> =
        Arc::new(crate::cached::Cached::new(store, caches.clone(), clock.clone()));
    if let Some(caches) = caches.clone() {
        tokio::spawn(crate::cached::poll_changes(store.clone(), caches, feed_start));
    }
    let key_store: Arc<dyn KeyStore> = store.clone();
    latchkey_domain::keys::ensure_keys(key_store.as_ref(), clock.as_ref(), &settings.key_settings())
        .await
        .context("preparing signing keys")?;
    let key_set = load_key_set(key_store.as_ref(), settings.encryption_key.as_ref(), clock.now(), None)
        .await
        .map_err(|e| ConfigError::new("keys.encryption_key", format!("cannot load the signing keys: {e}")))?
        .expect("a first load always builds");
    let ring = Arc::new(KeyRing::new(key_set));

    let notifier =
        Arc::new(BackchannelNotifier::new(config.issuer.clone(), store.clone(), ring.clone(), clock.clone()));
    // One client authenticator (one cache of client key sets) for every
    // endpoint that takes client credentials.
    let client_auth = ClientAuthenticator::new(
        store.clone(),
        store.clone(),
        ClientKeys::new(KeyFetchSettings::default()),
        settings.registration_policy().client_secret_key.clone(),
        clock.clone(),
        &config.issuer,
    );
    let dpop = dpop_verifier(&settings, store.clone(), clock.clone());
    // Email: the outbox is shared state; every replica's sender delivers it.
    let smtp = latchkey_email::SmtpTarget::from_config(&config.email)
        .map_err(|e| ConfigError::new("email.smtp_url", e.to_string()))?;
    let outbox = smtp.as_ref().map(|_| Arc::new(latchkey_email::Outbox::new(store.clone(), clock.clone())));
    let authorize_settings = Arc::new(AuthorizeSettings::from_config(config)?);
    // The operator's templates (`ui.templates_dir`) also hold emails, which
    // the admin API and the console send too.
    let email_templates = authorize_settings.ui.overrides.clone();
    let authorize = AuthorizeState {
        settings: authorize_settings,
        clients: store.clone(),
        users: store.clone(),
        sessions: store.clone(),
        consents: store.clone(),
        interactions: store.clone(),
        codes: store.clone(),
        pushed: store.clone(),
        client_auth: client_auth.clone(),
        store: store.clone(),
        failures: store.clone(),
        audit: store.clone(),
        identities: store.clone(),
        upstreams: upstreams(&settings)?,
        notifier: notifier.clone(),
        keys: ring.clone(),
        clock: clock.clone(),
        encryption_key: settings.encryption_key.clone(),
        dpop: dpop.clone(),
        outbox: outbox.clone(),
    };
    // One policy (and one client_secret_jwt key) for every door that
    // registers clients and for client authentication.
    let registration_policy = settings.registration_policy();
    let admin = latchkey_admin::AdminState {
        store: store.clone(),
        keys: settings.key_settings(),
        notifier: notifier.clone(),
        end_revokes: config.sessions.end_revokes,
        clock: clock.clone(),
        policy: registration_policy.clone(),
        trusted_proxies: config.http.trusted_proxies.clone().into(),
        invitations: Arc::new(latchkey_admin::InvitationSettings {
            signup: config.signup.clone(),
            email: config.email.clone(),
            issuer: config.issuer.clone(),
            product: config.ui.product_name.trim().to_string(),
            outbox: outbox.clone(),
            email_templates: email_templates.clone(),
        }),
    };
    let console = latchkey_console::ConsoleState {
        settings: Arc::new(latchkey_console::ConsoleSettings::from_config(config)),
        store: store.clone(),
        clock: clock.clone(),
        keys: ring.clone(),
        key_settings: settings.key_settings(),
        notifier: notifier.clone(),
        end_revokes: config.sessions.end_revokes,
        policy: registration_policy.clone(),
        health: {
            let health = health.clone();
            Arc::new(move || {
                let mut report = vec![("database", health.database().as_str())];
                if let Some(redis) = health.redis() {
                    report.push(("redis", redis.as_str()));
                }
                report
            })
        },
        trusted_proxies: config.http.trusted_proxies.clone().into(),
        outbox: outbox.clone(),
        email: Arc::new(config.email.clone()),
        email_templates,
    };
    if config.admin.console {
        // Every replica does it at start; the domain makes it idempotent.
        latchkey_domain::clients::ensure_console_client(store.as_ref(), &console.settings.redirect_uri(), clock.now())
            .await
            .context("registering the admin console's client")?;
    }
    let state = AppState::new(AppParts {
        discovery: DiscoveryState::new(
            &provider_metadata(&settings),
            ring.clone(),
            config.discovery.max_age_seconds.get(),
            config.keys.jwks_max_age_seconds.get(),
        ),
        registration: RegistrationState {
            clients: store.clone(),
            clock: clock.clone(),
            policy: registration_policy.clone(),
            initial_access_token: match settings.registration() {
                RegistrationMode::Token(t) => Some(t.as_str().into()),
                _ => None,
            },
            endpoint: format!("{}{REGISTRATION_PATH}", config.issuer.trim_end_matches('/')).into(),
            self_policy: Arc::new(config.registration.self_registration()),
            limit: latchkey_registration::RegistrationLimit {
                counter: store.clone(),
                per_address: config.registration.max_per_address,
                window_seconds: u32::try_from(config.registration.window_seconds.get()).unwrap_or(u32::MAX),
                trusted_proxies: config.http.trusted_proxies.clone().into(),
            },
            audit: store.clone(),
            software_statements: Arc::new(settings.software_statements.clone()),
        },
        health: HealthState { stores: health.clone() },
        authorize: authorize.clone(),
        metrics,
        token: TokenState {
            settings: Arc::new(TokenSettings::from_config(config)),
            clients: store.clone(),
            users: store.clone(),
            codes: store.clone(),
            refresh: store.clone(),
            denylist: store.clone(),
            keys: ring.clone(),
            clock: clock.clone(),
            client_auth,
            audit: store.clone(),
            dpop,
        },
        admin,
        console,
    });
    let sender = smtp.zip(outbox).map(|(target, outbox)| {
        latchkey_email::Sender::new(store.clone(), target, clock.clone(), outbox.wake(), &config.email)
    });
    Ok(App { state, store, ring, clock, caches, key_store, sql, sql_probe, probe, sender })
}

/// Binds the listeners and serves `built` until SIGTERM or Ctrl-C.
async fn listen(settings: Settings, built: App, started: std::time::Instant) -> anyhow::Result<()> {
    let App { state, store, ring, clock, key_store, sql, sql_probe, probe, sender, .. } = built;
    let config = &settings.config;
    let app = router(&settings, state.clone());

    let separate = match (settings.admin(), config.admin.console_listener()) {
        (AdminListener::Separate(addr), _) | (_, AdminListener::Separate(addr)) => Some(addr),
        _ => None,
    };
    let admin_listener = match separate {
        Some(addr) => Some(
            tokio::net::TcpListener::bind(addr)
                .await
                .map_err(|e| ConfigError::new("admin.listen", format!("cannot listen on {addr}: {e}")))?,
        ),
        _ => None,
    };
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|e| ConfigError::new("listen", format!("cannot listen on {}: {e}", config.listen)))?;
    let addr = listener.local_addr()?;
    let refresher = spawn_refresher(
        key_store,
        ring,
        clock.clone(),
        settings.encryption_key.clone(),
        config.keys.refresh_interval_seconds.duration(),
    );
    tracing::info!(
        issuer = %config.issuer,
        database = %crate::config::database_location(&config.database_url),
        ready_ms = started.elapsed().as_millis() as u64,
        "listening on http://{addr}"
    );
    let sender = sender.map(|s| tokio::spawn(s.run()));
    let gc = spawn_gc(
        store.clone(),
        clock.clone(),
        config.gc.interval_seconds.duration(),
        config.gc.batch_size,
        config.audit.retention(),
    );
    // On SIGTERM/ctrl-c: stop accepting, let in-flight requests finish, but
    // for at most `shutdown_timeout` (a hung client must not block a deploy).
    let stopping = Arc::new(tokio::sync::Notify::new());
    let (stop_admin, admin_stopped) = tokio::sync::watch::channel(false);
    let signal = {
        let stopping = stopping.clone();
        async move {
            shutdown_signal().await;
            let _ = stop_admin.send(true);
            stopping.notify_one();
        }
    };
    let admin_server = admin_listener.map(|admin_listener| {
        if let Ok(addr) = admin_listener.local_addr() {
            tracing::info!("admin API and console on their own listener at http://{addr}/admin");
        }
        let app = admin_router(&settings, state.clone());
        let mut stopped = admin_stopped;
        let stop = async move {
            let _ = stopped.wait_for(|stop| *stop).await;
        };
        tokio::spawn(crate::connections::serve(admin_listener, app, settings.connections(), stop))
    });
    let server = crate::connections::serve(listener, app, settings.connections(), signal);
    let deadline = async {
        stopping.notified().await;
        tokio::time::sleep(config.shutdown_timeout_seconds.duration()).await;
    };
    tokio::select! {
        _ = server => {}
        _ = deadline => tracing::warn!(
            timeout_s = config.shutdown_timeout_seconds.get(),
            "requests still in flight after the shutdown timeout; exiting anyway"
        ),
    }
    refresher.abort();
    gc.abort();
    if let Some(sender) = sender {
        sender.abort();
    }
    probe.abort();
    sql_probe.close().await;
    if let Some(admin) = admin_server {
        admin.abort();
    }
    sql.close().await;
    tracing::info!("stopped");
    Ok(())
}
