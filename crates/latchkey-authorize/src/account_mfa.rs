//! Two-step verification on `/account`: set up an authenticator app (a QR
//! code rendered here, the `otpauth://` link and the secret as text; active
//! only once a code from it is entered), see the recovery codes once,
//! regenerate them, turn it off. The rules are `latchkey_domain::mfa`'s.

use askama::Template;
use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use base64::Engine as _;
use latchkey_core::User;
use latchkey_core::acr::Level;
use latchkey_core::calendar::readable;
use latchkey_core::grant::Session;
use latchkey_domain::mfa::{self, CodeCheck, ConfirmError, Enrollment};
use latchkey_http::{Form, FormRejection};
use latchkey_store::StoreError;
use serde::Deserialize;

use crate::account::{AccountError, PATH, SignedInForm, account_page, see_other, session_csrf, signed_in_form};
use crate::pages::{Ui, html};
use crate::{AuthorizeState, upgrade_session};

pub const BEGIN_PATH: &str = "/account/mfa/totp";
pub const CONFIRM_PATH: &str = "/account/mfa/totp/confirm";
pub const RECOVERY_PATH: &str = "/account/mfa/recovery-codes";
pub const REMOVE_PATH: &str = "/account/mfa/remove";

/// What `/account` shows about two-step verification.
#[derive(Debug, Clone, serde::Serialize)]
pub struct MfaSection {
    /// When the authenticator was added, if one is active.
    pub totp_added: Option<String>,
    pub totp_last_used: Option<String>,
    pub recovery_codes_left: u64,
    /// The session gave a second factor recently: changing the factors
    /// asks for no code.
    pub fresh: bool,
    pub begin_action: String,
    pub recovery_action: String,
    pub remove_action: String,
}

pub(crate) async fn section(state: &AuthorizeState, session: &Session, user: &User) -> Result<MfaSection, StoreError> {
    let status = mfa::status(&state.factors(), &user.id).await?;
    Ok(MfaSection {
        fresh: fresh(state, session),
        totp_added: status.totp.as_ref().map(|t| readable(t.confirmed_at)),
        totp_last_used: status.totp.as_ref().and_then(|t| t.last_used_at).map(readable),
        recovery_codes_left: status.recovery_codes_left,
        begin_action: state.path(BEGIN_PATH),
        recovery_action: state.path(RECOVERY_PATH),
        remove_action: state.path(REMOVE_PATH),
    })
}

/// The setup page (`mfa_enroll.html`).
#[derive(Template, serde::Serialize)]
#[template(path = "mfa_enroll.html")]
struct EnrollPage<'a> {
    ui: &'a Ui,
    csrf: &'a str,
    action: &'a str,
    /// Cancel leads back here (on `/account`; not in the sign-in flow).
    account: Option<&'a str>,
    /// The sign-in flow's interaction.
    interaction: Option<&'a str>,
    /// Why the setup is asked for (in the sign-in flow).
    intro: Option<&'a str>,
    /// The QR code as a `data:` URI (the pages' CSP allows `data:` images, not inline markup).
    qr: String,
    uri: &'a str,
    secret: String,
    error: Option<&'a str>,
}

/// The recovery codes, shown once (`mfa_recovery_codes.html`).
#[derive(Template, serde::Serialize)]
#[template(path = "mfa_recovery_codes.html")]
struct RecoveryCodesPage<'a> {
    ui: &'a Ui,
    account: &'a str,
    codes: Vec<String>,
    /// Shown after the setup (rather than a regeneration).
    enrolled: bool,
}

/// Sample values of the pages here ([`crate::pages::samples`]).
pub(crate) fn samples(ui: &Ui) -> Vec<latchkey_overrides::Known> {
    let enroll = EnrollPage {
        ui,
        csrf: "c",
        action: CONFIRM_PATH,
        account: Some("/account"),
        interaction: Some("i"),
        intro: Some("Your organisation asks for a second step."),
        qr: "data:image/svg+xml;base64,PHN2Zy8+".into(),
        uri: "otpauth://totp/Example:ann?secret=JBSWY3DPEHPK3PXP",
        secret: "JBSWY3DPEHPK3PXP".into(),
        error: Some("That code is not right."),
    };
    let codes = RecoveryCodesPage { ui, account: "/account", codes: vec!["abcd-efgh".into()], enrolled: true };
    vec![
        latchkey_overrides::Known { name: "mfa_enroll.html", sample: crate::pages::context(&enroll) },
        latchkey_overrides::Known { name: "mfa_recovery_codes.html", sample: crate::pages::context(&codes) },
    ]
}

crate::pages::page!(EnrollPage => "mfa_enroll.html", RecoveryCodesPage => "mfa_recovery_codes.html");

fn enroll_page(
    state: &AuthorizeState,
    headers: &HeaderMap,
    enrollment: &Enrollment,
    error: Option<&str>,
    status: StatusCode,
) -> Response {
    let csrf = session_csrf(state, headers);
    let (action, account) = (state.path(CONFIRM_PATH), state.path(PATH));
    let lang = crate::pages::request_language(headers, None);
    let form =
        EnrollForm { lang, action: &action, csrf: &csrf, account: Some(&account), interaction: None, intro: None };
    render_enroll(state, enrollment, form, error, status)
}

/// Where the setup page posts, and what it carries.
pub(crate) struct EnrollForm<'a> {
    /// The page's language.
    pub lang: crate::pages::Language,
    pub action: &'a str,
    pub csrf: &'a str,
    pub account: Option<&'a str>,
    pub interaction: Option<&'a str>,
    pub intro: Option<&'a str>,
}

pub(crate) fn render_enroll(
    state: &AuthorizeState,
    enrollment: &Enrollment,
    form: EnrollForm<'_>,
    error: Option<&str>,
    status: StatusCode,
) -> Response {
    let qr =
        format!("data:image/svg+xml;base64,{}", base64::engine::general_purpose::STANDARD.encode(&enrollment.qr_svg));
    // Groups of four, as people copy it into an app by hand.
    let secret =
        enrollment.secret.as_bytes().chunks(4).map(|c| String::from_utf8_lossy(c)).collect::<Vec<_>>().join(" ");
    let ui = state.settings.ui.speaking(form.lang);
    let page = EnrollPage {
        ui: &ui,
        csrf: form.csrf,
        action: form.action,
        account: form.account,
        interaction: form.interaction,
        intro: form.intro,
        qr,
        uri: &enrollment.uri,
        secret,
        error,
    };
    html(status, &page, None, false)
}

fn codes_page(state: &AuthorizeState, ui: &Ui, codes: Vec<String>, enrolled: bool) -> Response {
    let account = state.path(PATH);
    html(StatusCode::OK, &RecoveryCodesPage { ui, account: &account, codes, enrolled }, None, false)
}

#[derive(Debug, Deserialize)]
pub struct NoFields {}

/// Whether `session` gave a second factor within `mfa.fresh_seconds`.
fn fresh(state: &AuthorizeState, session: &Session) -> bool {
    Level::of_session(&session.auth.acr) >= Level::Mfa
        && state.clock.now() - session.auth.auth_time <= state.settings.mfa.fresh_seconds.secs()
}

/// The form of a change to the factors: a current code, unless the session is fresh.
#[derive(Debug, Deserialize)]
pub struct ChangeFields {
    #[serde(default)]
    code: String,
}

/// Turning the factor off or making new recovery codes: whoever holds only
/// a session (a borrowed laptop, a stolen cookie) must not, so a session
/// that gave no second factor recently proves it now, with a code checked
/// within the sign-in limits. Returns the account page with the reason when
/// it does not.
async fn proven_now(
    state: &AuthorizeState,
    headers: &HeaderMap,
    session: &Session,
    user: &User,
    code: &str,
    address: IpAddr,
) -> Result<Option<Response>, AccountError> {
    if fresh(state, session) {
        return Ok(None);
    }
    let code = code.trim();
    let check = if code.is_empty() || code.len() > 64 {
        CodeCheck::Refused
    } else {
        mfa::verify_code(&state.factors(), &state.sign_in(), user, code, address, None).await?
    };
    let (status, message) = match check {
        CodeCheck::Totp | CodeCheck::Recovery { .. } => return Ok(None),
        CodeCheck::Refused => (
            StatusCode::UNAUTHORIZED,
            "Enter a current code from your authenticator app (or a recovery code) to make this change.",
        ),
        CodeCheck::Throttled(refusal) => (StatusCode::TOO_MANY_REQUESTS, refusal.limit.message()),
    };
    Ok(Some(account_page(state, headers, session, user, None, Some(message), status).await?))
}

/// `POST /account/mfa/totp`: starts (or restarts) the setup and shows the QR code.
pub async fn begin(
    State(state): State<AuthorizeState>,
    headers: HeaderMap,
    form: Result<Form<SignedInForm<NoFields>>, FormRejection>,
) -> Result<Response, AccountError> {
    let state = &state;
    let Some((_, user, _)) = signed_in_form(state, &headers, form).await? else {
        return Ok(see_other(&state.path(PATH)));
    };
    let actor = format!("user:{}", user.id);
    match mfa::begin_enrollment(&state.factors(), &user, &actor).await {
        Ok(enrollment) => Ok(enroll_page(state, &headers, &enrollment, None, StatusCode::OK)),
        // Set up already (another tab): the account page says so.
        Err(mfa::BeginError::AlreadyEnrolled) => Ok(see_other(&state.path(PATH))),
        Err(mfa::BeginError::Store(e)) => Err(e.into()),
        Err(mfa::BeginError::Seal(e)) => {
            tracing::error!(error = %e, "a TOTP secret could not be sealed");
            Err(StoreError::Backend("sealing a secret failed".into()).into())
        }
    }
}

#[derive(Debug, Deserialize)]
pub struct ConfirmFields {
    #[serde(default)]
    code: String,
}

/// `POST /account/mfa/totp/confirm`: a code from the app turns the factor on
/// and shows the recovery codes, once.
pub async fn confirm(
    State(state): State<AuthorizeState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    form: Result<Form<SignedInForm<ConfirmFields>>, FormRejection>,
) -> Result<Response, AccountError> {
    let address = latchkey_http::client_address(peer.ip(), &headers, &state.settings.trusted_proxies);
    let state = &state;
    let Some((session, user, fields)) = signed_in_form(state, &headers, form).await? else {
        return Ok(see_other(&state.path(PATH)));
    };
    let ctx = state.factors();
    let actor = format!("user:{}", user.id);
    let code = fields.code.trim();
    let result = if code.len() > 64 {
        Err(ConfirmError::WrongCode)
    } else {
        mfa::confirm_enrollment(&ctx, &user.id, code, &actor).await
    };
    let message = match result {
        Ok(codes) => {
            // The person just gave a code from the app: this session has both factors now.
            let mut page =
                codes_page(state, &state.settings.ui.for_request(&headers, user.claims.locale.as_deref()), codes, true);
            let upgraded = upgrade_session(state, &session, &user, None, address, &["otp", "mfa"], Level::Mfa).await?;
            if let Some((_, cookie)) = upgraded {
                page.headers_mut().append(header::SET_COOKIE, cookie);
            }
            return Ok(page);
        }
        Err(ConfirmError::Store(e)) => return Err(e.into()),
        Err(ConfirmError::NotStarted) => return Ok(see_other(&state.path(PATH))),
        Err(e @ (ConfirmError::WrongCode | ConfirmError::Restarted | ConfirmError::Open(_))) => e.to_string(),
    };
    // The same QR code again, with what went wrong.
    match mfa::pending_enrollment(&ctx, &user).await {
        Ok(Some(enrollment)) => {
            let message = capitalized(&message);
            Ok(enroll_page(state, &headers, &enrollment, Some(&message), StatusCode::BAD_REQUEST))
        }
        Ok(None) => Ok(see_other(&state.path(PATH))),
        Err(ConfirmError::Store(e)) => Err(e.into()),
        Err(e) => {
            tracing::error!(error = %e, "a pending TOTP secret could not be opened");
            Ok(see_other(&state.path(PATH)))
        }
    }
}

pub(crate) fn capitalized(message: &str) -> String {
    let mut chars = message.chars();
    chars.next().map(|c| c.to_uppercase().chain(chars).collect::<String>() + ".").unwrap_or_default()
}

/// `POST /account/mfa/recovery-codes`: ten new codes, shown once; the old
/// ones stop working. Needs a current code unless the session is fresh.
pub async fn regenerate(
    State(state): State<AuthorizeState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    form: Result<Form<SignedInForm<ChangeFields>>, FormRejection>,
) -> Result<Response, AccountError> {
    let address = latchkey_http::client_address(peer.ip(), &headers, &state.settings.trusted_proxies);
    let state = &state;
    let Some((session, user, fields)) = signed_in_form(state, &headers, form).await? else {
        return Ok(see_other(&state.path(PATH)));
    };
    if !mfa::has_second_factor(&state.factors(), &user.id).await? {
        return Ok(see_other(&state.path(PATH)));
    }
    if let Some(refused) = proven_now(state, &headers, &session, &user, &fields.code, address).await? {
        return Ok(refused);
    }
    let actor = format!("user:{}", user.id);
    match mfa::regenerate_recovery_codes(&state.factors(), &user.id, &actor).await {
        Ok(codes) => {
            Ok(codes_page(state, &state.settings.ui.for_request(&headers, user.claims.locale.as_deref()), codes, false))
        }
        Err(mfa::RegenerateError::NotEnrolled) => Ok(see_other(&state.path(PATH))),
        Err(mfa::RegenerateError::Store(e)) => Err(e.into()),
    }
}

/// `POST /account/mfa/remove`: turns two-step verification off (the
/// authenticator and the recovery codes). Needs a current code unless the
/// session is fresh.
pub async fn remove(
    State(state): State<AuthorizeState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    form: Result<Form<SignedInForm<ChangeFields>>, FormRejection>,
) -> Result<Response, AccountError> {
    let address = latchkey_http::client_address(peer.ip(), &headers, &state.settings.trusted_proxies);
    let state = &state;
    let Some((session, user, fields)) = signed_in_form(state, &headers, form).await? else {
        return Ok(see_other(&state.path(PATH)));
    };
    // Nothing to turn off (a pending setup only): no code to ask for.
    if mfa::has_second_factor(&state.factors(), &user.id).await?
        && let Some(refused) = proven_now(state, &headers, &session, &user, &fields.code, address).await?
    {
        return Ok(refused);
    }
    mfa::remove_factors(&state.factors(), &user.id, &format!("user:{}", user.id)).await?;
    Ok(see_other(&state.path("/account?done=mfa-removed")))
}
