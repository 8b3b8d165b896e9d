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
use crate::pages::error_page;
use crate::request::Target;

/// The title of the authorization flow's error pages.
pub(crate) const REQUEST_TITLE: &str = "This request cannot be completed";

/// What a browser route answers when it fails.
#[derive(Debug, Clone)]
pub(crate) enum Failure {
    /// An error page; never a redirect.
    Page { status: StatusCode, title: &'static str, message: String },
    /// An OAuth error sent back to the client, with `state` and `iss`.
    ToClient { target: Target, error: OAuthError },
}

impl Failure {
    /// An error page of the authorization flow.
    pub fn page(status: StatusCode, message: impl Into<String>) -> Self {
        Self::Page { status, title: REQUEST_TITLE, message: message.into() }
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
            title: "Temporarily unavailable",
            message: "Sign-in is temporarily unavailable. Please try again in a moment.".into(),
        }
    }

    /// The page for a form a browser posted that cannot be read.
    pub fn form(rejection: &FormRejection) -> Self {
        match rejection {
            FormRejection::Body(_) => Self::page(StatusCode::PAYLOAD_TOO_LARGE, "The request is too large."),
            FormRejection::NotForm { .. } => {
                Self::page(StatusCode::BAD_REQUEST, "The request is not a form submission.")
            }
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
    let mut res = next.run(req).await;
    let Some(failure) = res.extensions_mut().remove::<Failure>() else {
        return res;
    };
    let mut rendered = match failure {
        Failure::Page { status, title, message } => error_page(&state.settings.ui, status, title, &message),
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
            InteractionError::Expired => Failure::page(
                StatusCode::BAD_REQUEST,
                "This sign-in request has expired or was already used. Go back to the application and start again.",
            ),
            InteractionError::Forged => Failure::page(
                StatusCode::FORBIDDEN,
                "This form could not be verified. Make sure cookies are enabled, go back to the application and start again.",
            ),
            InteractionError::AppGone => {
                Failure::page(StatusCode::BAD_REQUEST, "The application is no longer registered here.")
            }
            InteractionError::Store(e) => Failure::store(&e),
        }
    }
}
