//! How the browser routes fail. Each route has its own error enum that says
//! what went wrong (`LoginError::Interaction(InteractionError::Expired)`,
//! `LogoutError::UnregisteredRedirectUri`, ...) and maps it, in one `match`,
//! to a [`Failure`]: an error page with its status and message, or an OAuth
//! error for the client's redirect URI. The errors implement `IntoResponse`,
//! so handlers return `Result<Response, RouteError>`; drawing the page needs
//! the branding and the issuer, which the router's [`render_failures`] layer
//! holds.

use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use latchkey_core::OAuthError;
use latchkey_http::FormRejection;
use latchkey_store::StoreError;

use crate::AuthorizeState;
use crate::pages::{Text, error_page};
use crate::request::Target;

/// The title of the authorization flow's error pages.
pub(crate) const REQUEST_TITLE: &str = "error-request-title";

/// What a browser route answers when it fails.
#[derive(Debug, Clone)]
pub(crate) enum Failure {
    /// An error page; never a redirect.
    Page { status: StatusCode, title: Text, message: Text },
    /// An OAuth error sent back to the client, with `state` and `iss`.
    ToClient { target: Target, error: OAuthError },
}

impl Failure {
    /// An error page of the authorization flow, with words as they are
    /// (details such as a request's OAuth error description).
    pub fn page(status: StatusCode, message: impl Into<String>) -> Self {
        Self::Page { status, title: Text::new(REQUEST_TITLE), message: Text::verbatim(message) }
    }

    /// An error page of the authorization flow, saying a catalog message.
    pub fn says(status: StatusCode, message: Text) -> Self {
        Self::Page { status, title: Text::new(REQUEST_TITLE), message }
    }

    /// The page for a storage failure (503 while the store is unreachable);
    /// details go to the log only.
    pub fn store(e: &StoreError) -> Self {
        let unavailable = matches!(e, StoreError::Unavailable(_));
        if unavailable {
            tracing::warn!(error = %e, "authorization: store unavailable");
        } else {
            tracing::error!(error = %e, "authorization: store failure");
        }
        Self::Page {
            status: if unavailable { StatusCode::SERVICE_UNAVAILABLE } else { StatusCode::INTERNAL_SERVER_ERROR },
            title: Text::new("error-unavailable-title"),
            message: Text::new("error-unavailable"),
        }
    }

    /// The page for a form a browser posted that cannot be read.
    pub fn form(rejection: &FormRejection) -> Self {
        match rejection {
            FormRejection::Body(_) => Self::says(StatusCode::PAYLOAD_TOO_LARGE, Text::new("error-too-large")),
            FormRejection::NotForm { .. } => Self::says(StatusCode::BAD_REQUEST, Text::new("error-not-form")),
            FormRejection::Invalid(e) => Self::page(StatusCode::BAD_REQUEST, e.to_string()),
        }
    }
}

/// A stand-in response that carries the failure to [`render_failures`]
/// (without that layer it would be an empty 500, never a wrong answer).
impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        let mut res = StatusCode::INTERNAL_SERVER_ERROR.into_response();
        res.extensions_mut().insert(self);
        res
    }
}

/// Draws the [`Failure`] a browser route answered: the error page with the
/// product's branding, or the redirect to the client. Cookies the route set
/// (a new session, a cleared one) are kept.
pub(crate) async fn render_failures(State(state): State<AuthorizeState>, req: Request, next: Next) -> Response {
    // The page speaks the request's `ui_locales` (an authorization request
    // refused before it became an interaction), else the browser's language.
    let ui_locales = req.uri().query().and_then(|q| {
        url::form_urlencoded::parse(q.as_bytes()).find(|(k, _)| k == "ui_locales").map(|(_, v)| v.into_owned())
    });
    let accept = req.headers().get(header::ACCEPT_LANGUAGE).and_then(|v| v.to_str().ok());
    let lang = latchkey_i18n::negotiate(ui_locales.as_deref(), None, accept);
    let mut res = next.run(req).await;
    let Some(failure) = res.extensions_mut().remove::<Failure>() else {
        return res;
    };
    let mut rendered = match failure {
        Failure::Page { status, title, message } => {
            let ui = state.settings.ui.speaking(lang);
            error_page(&ui, status, &ui.text(&title), &ui.text(&message))
        }
        Failure::ToClient { target, error } => {
            let mut fields: Vec<(&str, &str)> = vec![("error", error.code.as_str())];
            if let Some(d) = &error.description {
                fields.push(("error_description", d));
            }
            state.to_client(&target, fields)
        }
    };
    for cookie in res.headers().get_all(header::SET_COOKIE) {
        rendered.headers_mut().append(header::SET_COOKIE, cookie.clone());
    }
    rendered
}

/// Why a form of the sign-in flow (the login and consent pages, an upstream
/// provider's button) was refused before anything it asked for happened.
#[derive(Debug, thiserror::Error)]
pub enum InteractionError {
    /// Unknown, expired, already used, or at another stage.
    #[error("the interaction is unknown or expired")]
    Expired,
    /// The CSRF token matches neither the browser's cookie nor the interaction.
    #[error("CSRF token mismatch")]
    Forged,
    /// The application was deleted while the person was signing in.
    #[error("the client is gone")]
    AppGone,
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<InteractionError> for Failure {
    fn from(e: InteractionError) -> Self {
        match e {
            InteractionError::Expired => Failure::says(StatusCode::BAD_REQUEST, Text::new("error-interaction-expired")),
            InteractionError::Forged => Failure::says(StatusCode::FORBIDDEN, Text::new("error-form-forged")),
            InteractionError::AppGone => Failure::says(StatusCode::BAD_REQUEST, Text::new("error-app-gone")),
            InteractionError::Store(e) => Failure::store(&e),
        }
    }
}
