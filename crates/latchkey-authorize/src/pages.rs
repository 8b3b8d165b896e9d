//! HTML pages (askama templates in `/templates`) and the headers every page
//! carries: no caching, no framing, a strict Content-Security-Policy.

use std::sync::{Arc, LazyLock};

use askama::Template;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
pub use latchkey_i18n::{Arg, Language, Text, ToArg};
use sha2::{Digest, Sha256};
use url::Url;

/// Branding shown on every page, and the page's language. The settings
/// hold one in English; each page speaks with [`Ui::speaking`]'s copy in
/// the language negotiated for its request (`latchkey_i18n::negotiate`).
#[derive(Debug, Clone)]
pub struct Ui {
    pub product_name: String,
    pub logo_uri: Option<String>,
    pub css_href: String,
    /// The language of the page (`<html lang>`, every message).
    pub lang: Language,
}

impl Ui {
    /// This branding in the language of a request outside the sign-in
    /// flow (whose pages use `AuthorizationRequest::language`): the
    /// account's `locale` claim, once the person is known, then
    /// `Accept-Language`, then English.
    pub fn for_request(&self, headers: &axum::http::HeaderMap, account_locale: Option<&str>) -> Ui {
        self.speaking(request_language(headers, account_locale))
    }

    /// This branding in `lang`.
    pub fn speaking(&self, lang: Language) -> Ui {
        Ui { lang, ..self.clone() }
    }

    /// The message `id` in the page's language (`{{ ui.t("login-title") }}`).
    pub fn t(&self, id: &str) -> String {
        self.lang.message(id)
    }

    /// The message `id` with one variable
    /// (`{{ ui.t_with("consent-heading", "client", client_name) }}`).
    pub fn t_with(&self, id: &str, name: &str, value: impl ToArg) -> String {
        self.lang.t_with(id, name, value)
    }

    /// The message `id` with two variables.
    pub fn t_with2(&self, id: &str, name: &str, value: impl ToArg, name2: &str, value2: impl ToArg) -> String {
        self.lang.t_with2(id, name, value, name2, value2)
    }

    /// A message that holds markup (its id ends in `-html`, such as
    /// "to continue to <strong>{ $client }</strong>"), with one variable,
    /// which is escaped; the catalog's own markup is kept.
    pub fn t_html_with(&self, id: &str, name: &str, value: impl ToArg) -> askama::filters::Safe<String> {
        askama::filters::Safe(self.lang.t_html_with(id, name, value))
    }

    /// Like [`Ui::t_html_with`], with two variables.
    pub fn t_html_with2(
        &self,
        id: &str,
        name: &str,
        value: impl ToArg,
        name2: &str,
        value2: impl ToArg,
    ) -> askama::filters::Safe<String> {
        askama::filters::Safe(self.lang.t_html_with2(id, name, value, name2, value2))
    }

    /// The message `id` with any variables (for template engines that
    /// pass them as a map, such as operator templates).
    pub fn t_args(&self, id: &str, args: &[(&str, Arg<'_>)]) -> String {
        self.lang.message_with(id, args)
    }

    /// What Rust code decided to say (an error, a notice), in the page's language.
    pub fn text(&self, text: &Text) -> String {
        self.lang.text(text)
    }

    /// Why the password policy refuses a password, ending a sentence.
    pub fn password_refusal(&self, refusal: &latchkey_core::password::PolicyRefusal) -> String {
        password_refusal(self.lang, refusal)
    }
}

/// The language of a request outside the sign-in flow: the account's
/// `locale`, then `Accept-Language`, then English.
pub fn request_language(headers: &axum::http::HeaderMap, account_locale: Option<&str>) -> Language {
    let accept = headers.get(header::ACCEPT_LANGUAGE).and_then(|v| v.to_str().ok());
    latchkey_i18n::negotiate(None, account_locale, accept)
}

/// A sign-in button of an upstream provider.
pub struct UpstreamButton {
    pub action: String,
    pub label: String,
}

#[derive(Template)]
#[template(path = "login.html")]
pub struct LoginPage<'a> {
    pub ui: &'a Ui,
    pub action: &'a str,
    pub client_name: &'a str,
    pub interaction: &'a str,
    pub csrf: &'a str,
    pub username: &'a str,
    pub error: Option<&'a str>,
    pub upstreams: Vec<UpstreamButton>,
    /// The username/password form is offered.
    pub password_login: bool,
    /// Some provider takes addresses of its domains (home-realm discovery):
    /// the password may be left empty.
    pub realm_discovery: bool,
    /// "Sign in with a passkey" (passwordless), where the issuer can be a
    /// WebAuthn relying party.
    pub passkey: Option<PasskeyForm>,
    /// "Forgot your password?", where email can send a reset link.
    pub forgot_password: Option<String>,
    /// "Create an account", where sign-up is open.
    pub signup: Option<String>,
}

/// A passkey button's form: where `passkey.js` asks for a challenge
/// (`options`) and where the form posts the answer (`action`).
#[derive(Debug, Clone)]
pub struct PasskeyForm {
    pub action: String,
    pub options: String,
    pub script: String,
}

/// The second sign-in page: a code from an authenticator app or a recovery
/// code, in one field named `code`.
#[derive(Template)]
#[template(path = "second_factor.html")]
pub struct SecondFactorPage<'a> {
    pub ui: &'a Ui,
    pub action: &'a str,
    pub client_name: &'a str,
    pub interaction: &'a str,
    pub csrf: &'a str,
    pub error: Option<&'a str>,
    /// A passkey button, for a person who has one.
    pub passkey: Option<PasskeyForm>,
}

/// A notice in the sign-in flow, then a button that goes on with it: the
/// recovery codes of a factor just set up, or how many are left after one
/// was used (`sign_in_continue.html`).
#[derive(Template)]
#[template(path = "sign_in_continue.html")]
pub struct ContinuePage<'a> {
    pub ui: &'a Ui,
    pub title: &'a str,
    pub notice: Option<&'a str>,
    pub codes: Vec<String>,
    /// A link to `/account`, where new recovery codes are made.
    pub account: Option<&'a str>,
    pub action: &'a str,
    pub client_name: &'a str,
    pub interaction: &'a str,
    pub csrf: &'a str,
}

#[derive(Template)]
#[template(path = "consent.html")]
pub struct ConsentPage<'a> {
    pub ui: &'a Ui,
    pub action: &'a str,
    pub client_name: &'a str,
    pub client_logo: Option<&'a str>,
    pub client_uri: Option<&'a str>,
    pub policy_uri: Option<&'a str>,
    pub tos_uri: Option<&'a str>,
    pub username: &'a str,
    pub scopes: Vec<&'static str>,
    pub interaction: &'a str,
    pub csrf: &'a str,
    /// Where the person can later withdraw the consent (`/account`).
    pub account: &'a str,
}

/// `/device`: the user code entry form.
#[derive(Template)]
#[template(path = "device.html")]
pub struct DevicePage<'a> {
    pub ui: &'a Ui,
    pub action: &'a str,
    pub csrf: &'a str,
    pub user_code: &'a str,
    pub error: Option<&'a str>,
}

/// The device's consent page (RFC 8628 §5.4: the code, and a warning).
#[derive(Template)]
#[template(path = "device_consent.html")]
pub struct DeviceConsentPage<'a> {
    pub ui: &'a Ui,
    pub action: &'a str,
    pub client_name: &'a str,
    pub client_logo: Option<&'a str>,
    pub username: &'a str,
    pub user_code: &'a str,
    pub scopes: Vec<&'static str>,
    pub interaction: &'a str,
    pub csrf: &'a str,
    pub account: &'a str,
}

/// After the decision: back to the device.
#[derive(Template)]
#[template(path = "device_done.html")]
pub struct DeviceDonePage<'a> {
    pub ui: &'a Ui,
    pub client_name: &'a str,
    pub approved: bool,
}

/// `/signup`: the form of open sign-up, or why there is none
/// (`view`: form, closed, invite_only, throttled, check_email).
#[derive(Template)]
#[template(path = "signup.html")]
pub struct SignupPage<'a> {
    pub ui: &'a Ui,
    pub view: &'a str,
    pub action: &'a str,
    pub csrf: &'a str,
    /// The sign-in in progress this sign-up continues ("" for none).
    pub interaction: &'a str,
    pub client_name: &'a str,
    pub username: &'a str,
    pub email: &'a str,
    pub error: &'a str,
    /// The allowed email domains, listed ("" for any).
    pub domains: &'a str,
    pub min_length: usize,
    /// Back to signing in ("" for none).
    pub login: &'a str,
}

/// `/invitation`: choosing a username and password for an invitation
/// (`view`: form, invalid, throttled).
#[derive(Template)]
#[template(path = "invitation.html")]
pub struct InvitationPage<'a> {
    pub ui: &'a Ui,
    pub view: &'a str,
    pub action: &'a str,
    pub csrf: &'a str,
    pub token: &'a str,
    pub email: &'a str,
    pub username: &'a str,
    pub error: &'a str,
    pub min_length: usize,
}

/// In the sign-in flow: an account of open sign-up must confirm its
/// address before the app gets a token.
#[derive(Template)]
#[template(path = "confirm_address.html")]
pub struct ConfirmAddressPage<'a> {
    pub ui: &'a Ui,
    pub client_name: &'a str,
    pub email: &'a str,
    pub notice: &'a str,
    pub action: &'a str,
    pub resend: &'a str,
    pub interaction: &'a str,
    pub csrf: &'a str,
}

#[derive(Template)]
#[template(path = "account_login.html")]
pub struct AccountLoginPage<'a> {
    pub ui: &'a Ui,
    pub action: &'a str,
    pub csrf: &'a str,
    pub username: &'a str,
    pub error: Option<&'a str>,
    /// "Sign in with a passkey" (passwordless).
    pub passkey: Option<PasskeyForm>,
    /// "Forgot your password?", where email can send a reset link.
    pub forgot_password: Option<String>,
    /// "Create an account", where sign-up is open.
    pub signup: Option<String>,
}

/// An app the person has allowed, as `/account` lists it.
pub struct AccountApp {
    pub client_id: String,
    pub name: String,
    pub scopes: Vec<&'static str>,
    pub granted: String,
    pub updated: String,
}

/// A session of the person, as `/account` lists it.
pub struct AccountSession {
    pub sid: String,
    pub current: bool,
    pub created: String,
    pub last_seen: String,
}

/// An upstream account linked to the person's account.
pub struct AccountIdentity {
    pub provider: String,
    pub issuer: String,
    pub subject: String,
    pub linked: String,
}

#[derive(Template)]
#[template(path = "account.html")]
pub struct AccountPage<'a> {
    pub ui: &'a Ui,
    pub username: &'a str,
    pub csrf: &'a str,
    pub notice: Option<&'a str>,
    pub error: Option<&'a str>,
    pub apps: Vec<AccountApp>,
    pub sessions: Vec<AccountSession>,
    pub has_password: bool,
    pub identities: Vec<AccountIdentity>,
    /// "Link" buttons, one per upstream provider.
    pub link_buttons: Vec<UpstreamButton>,
    pub unlink_action: &'a str,
    pub revoke_action: &'a str,
    pub end_session_action: &'a str,
    pub password_action: &'a str,
    /// The two-step verification section.
    pub mfa: crate::account_mfa::MfaSection,
    /// The passkeys section (`None` where the issuer cannot be a WebAuthn
    /// relying party: an IP address).
    pub passkeys: Option<crate::account_passkeys::PasskeySection>,
    /// The claims the person may change (empty: no profile section).
    pub profile_fields: Vec<ProfileField>,
    pub profile_action: &'a str,
    /// The email address section.
    pub email: AccountEmail,
}

/// One field of the profile form on `/account`.
pub struct ProfileField {
    /// The claim's name (`address.locality` for a part), the form field's name.
    pub name: &'static str,
    /// The message id of its label.
    pub label: &'static str,
    pub value: String,
    /// `type` of the input: text or url.
    pub input_type: &'static str,
    /// `autocomplete` token (HTML Living Standard), so browsers fill it in.
    pub autocomplete: &'static str,
    /// The message id of what a valid value looks like, when it is not obvious.
    pub hint: &'static str,
}

impl ProfileField {
    /// The form field of `claim` with its current value.
    pub fn of(claim: &'static str, value: Option<&str>) -> Self {
        // Labels and hints are message ids (`ui.t(f.label)` in account.html).
        let (label, input_type, autocomplete, hint) = match claim {
            "name" => ("claim-name", "text", "name", ""),
            "given_name" => ("claim-given-name", "text", "given-name", ""),
            "family_name" => ("claim-family-name", "text", "family-name", ""),
            "middle_name" => ("claim-middle-name", "text", "additional-name", ""),
            "nickname" => ("claim-nickname", "text", "nickname", ""),
            "profile" => ("claim-profile", "url", "url", "claim-hint-url"),
            "picture" => ("claim-picture", "url", "photo", "claim-hint-picture"),
            "website" => ("claim-website", "url", "url", "claim-hint-url"),
            "gender" => ("claim-gender", "text", "sex", ""),
            "birthdate" => ("claim-birthdate", "text", "bday", "claim-hint-birthdate"),
            "zoneinfo" => ("claim-zoneinfo", "text", "off", "claim-hint-zoneinfo"),
            "locale" => ("claim-locale", "text", "language", "claim-hint-locale"),
            "address.formatted" => ("claim-address-formatted", "text", "street-address", ""),
            "address.street_address" => ("claim-address-street", "text", "address-line1", ""),
            "address.locality" => ("claim-address-locality", "text", "address-level2", ""),
            "address.region" => ("claim-address-region", "text", "address-level1", ""),
            "address.postal_code" => ("claim-address-postal-code", "text", "postal-code", ""),
            "address.country" => ("claim-address-country", "text", "country-name", ""),
            _ => ("claim-other", "text", "off", ""),
        };
        Self { name: claim, label, value: value.unwrap_or_default().to_string(), input_type, autocomplete, hint }
    }

    /// The `id` of the input (and its hint): the name with `.` as `-`.
    pub fn id(&self) -> String {
        format!("claim-{}", self.name.replace('.', "-"))
    }
}

#[derive(Template)]
#[template(path = "error.html")]
pub struct ErrorPage<'a> {
    pub ui: &'a Ui,
    pub title: &'a str,
    pub message: &'a str,
}

/// The page at the issuer's root, for a person who opens the server itself.
#[derive(Template)]
#[template(path = "home.html")]
pub struct HomePage<'a> {
    pub ui: &'a Ui,
    pub account: &'a str,
    pub discovery: &'a str,
}

#[derive(Template)]
#[template(path = "not_found.html")]
pub struct NotFoundPage<'a> {
    pub ui: &'a Ui,
    pub home: &'a str,
}

#[derive(Template)]
#[template(path = "form_post.html")]
pub struct FormPostPage<'a> {
    pub ui: &'a Ui,
    pub action: &'a str,
    pub fields: Vec<(&'a str, &'a str)>,
}

/// The one inline script (form_post auto-submit), allowed by its hash.
const AUTO_SUBMIT: &str = "document.forms[0].submit()";
static AUTO_SUBMIT_HASH: LazyLock<String> =
    LazyLock::new(|| format!("'sha256-{}'", STANDARD.encode(Sha256::digest(AUTO_SUBMIT.as_bytes()))));

/// The CSP `form-action` source for a redirect URI: its origin, or its scheme
/// for private-use schemes. Browsers apply form-action to the redirect that
/// follows a form post, so the login and consent pages must allow it.
pub fn form_action_source(redirect_uri: &str) -> String {
    match Url::parse(redirect_uri) {
        Ok(u) if u.scheme() == "http" || u.scheme() == "https" => u.origin().ascii_serialization(),
        Ok(u) => format!("{}:", u.scheme()),
        Err(_) => "'none'".into(),
    }
}

/// Renders a page with the security headers. `redirect_uri` widens
/// `form-action` to that client; `script` allows the auto-submit script.
pub fn html(status: StatusCode, page: &impl Template, redirect_uri: Option<&str>, script: bool) -> Response {
    html_with(status, page, redirect_uri.as_slice(), script)
}

/// Like [`html`], with `form-action` widened to every URL of `form_targets`
/// (forms whose answer redirects there: the client, upstream providers).
pub fn html_with(status: StatusCode, page: &impl Template, form_targets: &[&str], script: bool) -> Response {
    let script_src = if script { format!("; script-src {}", *AUTO_SUBMIT_HASH) } else { String::new() };
    render(status, page, form_targets, &script_src)
}

/// Like [`html_with`], for a page that offers passkeys (`passkeys`): its
/// script comes from our own origin (`/assets/passkey.js`) and asks our
/// own origin for challenges, so `script-src` and `connect-src` are
/// `'self'`; still no inline script.
pub fn html_with_passkeys(status: StatusCode, page: &impl Template, form_targets: &[&str], passkeys: bool) -> Response {
    let script_src = if passkeys { "; script-src 'self'; connect-src 'self'" } else { "" };
    render(status, page, form_targets, script_src)
}

fn render(status: StatusCode, page: &impl Template, form_targets: &[&str], script_src: &str) -> Response {
    let body = match page.render() {
        Ok(b) => b,
        Err(e) => {
            tracing::error!(error = %e, "page rendering failed");
            return (StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response();
        }
    };
    let mut form_action = String::from("'self'");
    for target in form_targets {
        let source = form_action_source(target);
        if !form_action.split(' ').any(|s| s == source) {
            form_action.push(' ');
            form_action.push_str(&source);
        }
    }
    let csp = format!(
        "default-src 'none'; style-src 'self'; img-src 'self' https: data:; form-action {form_action}; \
         frame-ancestors 'none'; base-uri 'none'{script_src}"
    );
    let mut res = (status, body).into_response();
    let h = res.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    if let Ok(v) = HeaderValue::from_str(&csp) {
        h.insert(header::CONTENT_SECURITY_POLICY, v);
    }
    res
}

/// An error page that never redirects.
pub fn error_page(ui: &Ui, status: StatusCode, title: &str, message: &str) -> Response {
    html(status, &ErrorPage { ui, title, message }, None, false)
}

/// Whether a request comes from a browser that wants a page, by `Accept`
/// (programs ask for JSON or anything).
pub fn wants_html(headers: &axum::http::HeaderMap) -> bool {
    headers.get_all(header::ACCEPT).iter().filter_map(|v| v.to_str().ok()).any(|v| v.contains("text/html"))
}

/// The stylesheet, cached for a day.
pub async fn stylesheet() -> Response {
    static CSS: &str = include_str!("../../../templates/assets/latchkey.css");
    let mut res = CSS.into_response();
    let h = res.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/css; charset=utf-8"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=86400"));
    res
}

pub const PASSKEY_SCRIPT_PATH: &str = "/assets/passkey.js";

/// The passkey script (`templates/assets/passkey.js`), cached for a day.
pub async fn passkey_script() -> Response {
    static JS: &str = include_str!("../../../templates/assets/passkey.js");
    let mut res = JS.into_response();
    let h = res.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/javascript; charset=utf-8"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=86400"));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    res
}

/// Plain words for scopes on the consent page: the id of the message
/// (`ui.t(line)` in the templates).
pub fn describe_scope(scope: &str) -> &'static str {
    match scope {
        "openid" => "scope-openid",
        "profile" => "scope-profile",
        "email" => "scope-email",
        "phone" => "scope-phone",
        "groups" => "scope-groups",
        "address" => "scope-address",
        "offline_access" => "scope-offline-access",
        _ => "scope-api",
    }
}

/// The scope lines shown for a request, without repeating generic lines.
pub fn scope_lines(scope: &latchkey_core::Scope) -> Vec<&'static str> {
    let mut lines: Vec<&'static str> = Vec::new();
    // Identity first, then the rest in a stable order.
    let ordered = scope.iter().filter(|s| *s == "openid").chain(scope.iter().filter(|s| *s != "openid"));
    for s in ordered {
        let line = describe_scope(s);
        if !lines.contains(&line) {
            lines.push(line);
        }
    }
    lines
}

pub type SharedUi = Arc<Ui>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_in_plain_words() {
        let lines = scope_lines(&latchkey_core::Scope::parse("groups openid").unwrap());
        assert_eq!(lines, ["scope-openid", "scope-groups"]);
        let ui = |lang| Ui { product_name: "L".into(), logo_uri: None, css_href: String::new(), lang };
        let english: Vec<String> = lines.iter().map(|l| ui(Language::En).t(l)).collect();
        assert_eq!(english, ["Know who you are (your account identifier)", "See which groups you belong to"]);
        assert_eq!(ui(Language::De).t(lines[1]), "Sehen, welchen Gruppen Sie angehören");
        assert_eq!(ui(Language::Fr).t(lines[1]), "Voir les groupes auxquels vous appartenez");
    }

    #[test]
    fn form_action_sources() {
        assert_eq!(form_action_source("https://app.example:8443/cb?x=1"), "https://app.example:8443");
        assert_eq!(form_action_source("com.example.app:/cb"), "com.example.app:");
    }

    #[test]
    fn pages_escape_reflected_values() {
        let ui = Ui {
            product_name: "Latchkey".into(),
            logo_uri: None,
            css_href: "/assets/latchkey.css".into(),
            lang: Language::En,
        };
        let page = LoginPage {
            ui: &ui,
            action: "/login",
            client_name: "<b>App</b>",
            interaction: "i",
            csrf: "c",
            username: "\"><script>alert(1)</script>",
            error: None,
            upstreams: vec![UpstreamButton { action: "/upstream/x/start".into(), label: "<i>Corp</i>".into() }],
            password_login: true,
            realm_discovery: false,
            passkey: Some(PasskeyForm {
                action: "/login/passkey".into(),
                options: "/login/passkey/options".into(),
                script: PASSKEY_SCRIPT_PATH.into(),
            }),
            forgot_password: Some("/forgot-password".into()),
            signup: None,
        };
        let body = page.render().unwrap();
        assert!(!body.contains("<script>alert(1)"));
        assert!(body.contains(r#"<a href="/forgot-password">Forgot your password?</a>"#), "{body}");
        // The passkey button, and its script from our origin; no inline script.
        assert!(body.contains(r#"data-passkey="sign-in""#), "{body}");
        assert!(body.contains(r#"<script src="/assets/passkey.js" defer></script>"#), "{body}");
        assert!(!body.contains("<script>"), "{body}");
        assert!(!body.contains("<b>App</b>"));
        assert!(!body.contains("<i>Corp</i>"));
        assert!(body.contains("App"));
    }
}

/// `/account`'s email section.
pub struct AccountEmail {
    pub address: Option<String>,
    pub verified: bool,
    /// Email is configured: the address can be changed and confirmed here.
    pub enabled: bool,
    /// The change form asks for the current password (no recent sign-in).
    pub password_field: bool,
    /// No recent sign-in and no password to give: sign in again first.
    pub stale: bool,
    pub change_action: String,
    pub resend_action: String,
}

/// `/forgot-password` (`view`: form, sent, throttled, unavailable).
#[derive(Template)]
#[template(path = "forgot_password.html")]
pub struct ForgotPasswordPage<'a> {
    pub ui: &'a Ui,
    pub view: &'a str,
    pub action: &'a str,
    pub csrf: &'a str,
    pub minutes: i64,
}

/// `/reset-password` (`view`: form, invalid, done; `error`: empty,
/// mismatch, hash, or the policy's reason).
#[derive(Template)]
#[template(path = "reset_password.html")]
pub struct ResetPasswordPage<'a> {
    pub ui: &'a Ui,
    pub view: &'a str,
    pub action: &'a str,
    pub csrf: &'a str,
    pub token: &'a str,
    pub username: &'a str,
    pub error: &'a str,
    pub forgot: &'a str,
    pub account: &'a str,
}

/// `/verify-email` (`view`: form, invalid, done, unavailable).
#[derive(Template)]
#[template(path = "verify_email.html")]
pub struct VerifyEmailPage<'a> {
    pub ui: &'a Ui,
    pub view: &'a str,
    pub action: &'a str,
    pub csrf: &'a str,
    pub token: &'a str,
    pub account: &'a str,
}

/// Why the password policy refuses a password, in `lang`, ending a
/// sentence ("The password is not accepted: {this}.").
pub fn password_refusal(lang: Language, refusal: &latchkey_core::password::PolicyRefusal) -> String {
    use latchkey_core::password::{MAX_LEN, PolicyRefusal};
    match refusal {
        PolicyRefusal::TooShort(min) => lang.t_with("password-too-short", "count", *min),
        PolicyRefusal::TooLong => lang.t_with("password-too-long", "max", MAX_LEN),
        PolicyRefusal::Common => lang.t("password-common"),
    }
}
