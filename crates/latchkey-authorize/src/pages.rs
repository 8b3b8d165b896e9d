//! HTML pages (askama templates in `/templates`) and the headers every page
//! carries: no caching, no framing, a strict Content-Security-Policy.

use std::sync::{Arc, LazyLock};

use askama::Template;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
pub use latchkey_i18n::{Arg, Language, Text, ToArg};
use serde::Serialize;
use serde::ser::SerializeStruct;
use sha2::{Digest, Sha256};
use url::Url;

/// Branding shown on every page (docs/branding.md), and the page's language. The settings
/// hold one in English; each page speaks with [`Ui::speaking`]'s copy in
/// the language negotiated for its request (`latchkey_i18n::negotiate`).
#[derive(Debug, Clone, Default, Serialize)]
pub struct Ui {
    pub product_name: String,
    /// `ui.logo_uri`, or where we serve `ui.logo_file`.
    pub logo_uri: Option<String>,
    /// Latchkey's stylesheet, with the `ui.color_*` settings folded in.
    pub css_href: String,
    /// The operator's stylesheet (`ui.stylesheet`), linked after ours.
    pub custom_css_href: Option<String>,
    pub favicon_href: Option<String>,
    /// Templates that replace built-in ones (`ui.templates_dir`).
    #[serde(skip)]
    pub overrides: Option<Arc<latchkey_overrides::Overrides>>,
    /// The language of the page (`<html lang>`, every message).
    #[serde(serialize_with = "language_tag")]
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

/// A page: an askama template that an operator's template of the same
/// name (`NAME`) can replace, given the page's fields as its values.
pub trait Page: Template + Serialize {
    const NAME: &'static str;
    fn ui(&self) -> &Ui;
}

/// Implements [`Page`] for page structs with a `ui` field.
macro_rules! page {
    ($($ty:ident => $name:literal),* $(,)?) => {
        $(impl $crate::pages::Page for $ty<'_> {
            const NAME: &'static str = $name;
            fn ui(&self) -> &$crate::pages::Ui {
                self.ui
            }
        })*
    };
}
pub(crate) use page;

page!(
    LoginPage => "login.html",
    SecondFactorPage => "second_factor.html",
    ContinuePage => "sign_in_continue.html",
    ConsentPage => "consent.html",
    DevicePage => "device.html",
    DeviceConsentPage => "device_consent.html",
    DeviceDonePage => "device_done.html",
    AccountLoginPage => "account_login.html",
    AccountPage => "account.html",
    ErrorPage => "error.html",
    HomePage => "home.html",
    NotFoundPage => "not_found.html",
    FormPostPage => "form_post.html",
    ForgotPasswordPage => "forgot_password.html",
    ResetPasswordPage => "reset_password.html",
    VerifyEmailPage => "verify_email.html",
    SignupPage => "signup.html",
    InvitationPage => "invitation.html",
    ConfirmAddressPage => "confirm_address.html",
);

/// A sign-in button of an upstream provider.
#[derive(Serialize)]
pub struct UpstreamButton {
    pub action: String,
    pub label: String,
}

#[derive(Template, Serialize)]
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
#[derive(Debug, Clone, Serialize)]
pub struct PasskeyForm {
    pub action: String,
    pub options: String,
    pub script: String,
}

/// The second sign-in page: a code from an authenticator app or a recovery
/// code, in one field named `code`.
#[derive(Template, Serialize)]
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
#[derive(Template, Serialize)]
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

#[derive(Template, Serialize)]
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
#[derive(Template, Serialize)]
#[template(path = "device.html")]
pub struct DevicePage<'a> {
    pub ui: &'a Ui,
    pub action: &'a str,
    pub csrf: &'a str,
    pub user_code: &'a str,
    pub error: Option<&'a str>,
}

/// The device's consent page (RFC 8628 §5.4: the code, and a warning).
#[derive(Template, Serialize)]
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
#[derive(Template, Serialize)]
#[template(path = "device_done.html")]
pub struct DeviceDonePage<'a> {
    pub ui: &'a Ui,
    pub client_name: &'a str,
    pub approved: bool,
}

/// `/signup`: the form of open sign-up, or why there is none
/// (`view`: form, closed, invite_only, throttled, check_email).
#[derive(Template, Serialize)]
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
#[derive(Template, Serialize)]
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
#[derive(Template, Serialize)]
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

#[derive(Template, Serialize)]
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
#[derive(Serialize)]
pub struct AccountApp {
    pub client_id: String,
    pub name: String,
    pub scopes: Vec<&'static str>,
    pub granted: String,
    pub updated: String,
}

/// A session of the person, as `/account` lists it.
#[derive(Serialize)]
pub struct AccountSession {
    pub sid: String,
    pub current: bool,
    pub created: String,
    pub last_seen: String,
}

/// An upstream account linked to the person's account.
#[derive(Serialize)]
pub struct AccountIdentity {
    pub provider: String,
    pub issuer: String,
    pub subject: String,
    pub linked: String,
}

#[derive(Template, Serialize)]
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

/// With `id`, which askama templates call as a method.
impl Serialize for ProfileField {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut s = serializer.serialize_struct("ProfileField", 7)?;
        s.serialize_field("name", self.name)?;
        s.serialize_field("id", &self.id())?;
        s.serialize_field("label", self.label)?;
        s.serialize_field("value", &self.value)?;
        s.serialize_field("input_type", self.input_type)?;
        s.serialize_field("autocomplete", self.autocomplete)?;
        s.serialize_field("hint", self.hint)?;
        s.end()
    }
}

#[derive(Template, Serialize)]
#[template(path = "error.html")]
pub struct ErrorPage<'a> {
    pub ui: &'a Ui,
    pub title: &'a str,
    pub message: &'a str,
}

/// The page at the issuer's root, for a person who opens the server itself.
#[derive(Template, Serialize)]
#[template(path = "home.html")]
pub struct HomePage<'a> {
    pub ui: &'a Ui,
    pub account: &'a str,
    pub discovery: &'a str,
}

#[derive(Template, Serialize)]
#[template(path = "not_found.html")]
pub struct NotFoundPage<'a> {
    pub ui: &'a Ui,
    pub home: &'a str,
}

#[derive(Template, Serialize)]
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
pub fn html(status: StatusCode, page: &impl Page, redirect_uri: Option<&str>, script: bool) -> Response {
    html_with(status, page, redirect_uri.as_slice(), script)
}

/// Like [`html`], with `form-action` widened to every URL of `form_targets`
/// (forms whose answer redirects there: the client, upstream providers).
pub fn html_with(status: StatusCode, page: &impl Page, form_targets: &[&str], script: bool) -> Response {
    let script_src = if script { format!("; script-src {}", *AUTO_SUBMIT_HASH) } else { String::new() };
    render(status, page, form_targets, &script_src)
}

/// Like [`html_with`], for a page that offers passkeys (`passkeys`): its
/// script comes from our own origin (`/assets/passkey.js`) and asks our
/// own origin for challenges, so `script-src` and `connect-src` are
/// `'self'`; still no inline script.
pub fn html_with_passkeys(status: StatusCode, page: &impl Page, form_targets: &[&str], passkeys: bool) -> Response {
    let script_src = if passkeys { "; script-src 'self'; connect-src 'self'" } else { "" };
    render(status, page, form_targets, script_src)
}

/// The page's HTML: the operator's template where one replaces it, else ours.
pub fn render_page<P: Page>(page: &P) -> Result<String, String> {
    if let Some(overrides) = &page.ui().overrides
        && let Some(rendered) = overrides.render(P::NAME, context(page))
    {
        return rendered.map_err(|e| format!("{} (template override {}): {e:#}", P::NAME, P::NAME));
    }
    page.render().map_err(|e| e.to_string())
}

/// The values an override of `page` receives: its fields, with `ui`
/// also answering `ui.t(id)` and `ui.t_with(id, name, value)` in the
/// page's language, as the built-in templates do.
pub fn context(page: &impl Page) -> minijinja::Value {
    use minijinja::Value;
    let fields = Value::from(minijinja::value::Serde(page));
    let mut map = fields_of(&fields);
    map.insert("ui".into(), ui_value(page.ui()));
    Value::from(map)
}

fn fields_of(value: &minijinja::Value) -> std::collections::BTreeMap<String, minijinja::Value> {
    let keys = value.try_iter().map(|keys| keys.collect::<Vec<_>>()).unwrap_or_default();
    keys.iter().filter_map(|k| k.as_str()).map(|k| (k.to_string(), value.get_attr(k).unwrap_or_default())).collect()
}

fn ui_value(ui: &Ui) -> minijinja::Value {
    use minijinja::Value;
    let mut map = fields_of(&Value::from(minijinja::value::Serde(ui)));
    let lang = ui.lang;
    map.insert("t".into(), Value::from_function(move |id: &str| lang.message(id)));
    map.insert(
        "t_with".into(),
        Value::from_function(move |id: &str, name: &str, value: Value| {
            lang.message_with(id, &[(name, latchkey_overrides::arg(&value))])
        }),
    );
    Value::from(map)
}

/// `Ui::lang` as its tag ("en") in an override's values.
fn language_tag<S: serde::Serializer>(lang: &Language, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(lang.tag())
}

fn render(status: StatusCode, page: &impl Page, form_targets: &[&str], script_src: &str) -> Response {
    let body = match render_page(page) {
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

fn known<P: Page>(page: P) -> latchkey_overrides::Known {
    latchkey_overrides::Known { name: P::NAME, sample: context(&page) }
}

/// Every template an operator can override (pages and emails), with
/// sample values.
pub fn overridable(ui: &Ui) -> Vec<latchkey_overrides::Known> {
    let mut all = samples(ui);
    all.extend(latchkey_email::messages::samples());
    all
}

/// Every page an operator can override, with sample values: overrides are
/// checked and trial-rendered against them at startup, and
/// docs/branding.md lists their variables from them.
pub fn samples(ui: &Ui) -> Vec<latchkey_overrides::Known> {
    let passkey = || PasskeyForm {
        action: "/login/passkey".into(),
        options: "/login/passkey/options".into(),
        script: PASSKEY_SCRIPT_PATH.into(),
    };
    let upstream = || UpstreamButton { action: "/upstream/corp/start".into(), label: "Corp SSO".into() };
    let scopes = vec![describe_scope("openid"), describe_scope("email")];
    let mut all = vec![
        known(LoginPage {
            ui,
            action: "/authorize/login",
            client_name: "Example App",
            interaction: "i",
            csrf: "c",
            username: "ann",
            error: Some("Wrong username or password."),
            upstreams: vec![upstream()],
            password_login: true,
            realm_discovery: false,
            passkey: Some(passkey()),
            forgot_password: Some("/forgot-password".into()),
            signup: Some("/signup".into()),
        }),
        known(SecondFactorPage {
            ui,
            action: "/authorize/second-factor",
            client_name: "Example App",
            interaction: "i",
            csrf: "c",
            error: Some("That code is not right."),
            passkey: Some(passkey()),
        }),
        known(ContinuePage {
            ui,
            title: "Recovery codes",
            notice: Some("Keep these codes somewhere safe."),
            codes: vec!["abcd-efgh".into()],
            account: Some("/account"),
            action: "/authorize/continue",
            client_name: "Example App",
            interaction: "i",
            csrf: "c",
        }),
        known(ConsentPage {
            ui,
            action: "/authorize/consent",
            client_name: "Example App",
            client_logo: Some("https://app.example/logo.png"),
            client_uri: Some("https://app.example"),
            policy_uri: Some("https://app.example/privacy"),
            tos_uri: Some("https://app.example/terms"),
            username: "ann",
            scopes: scopes.clone(),
            interaction: "i",
            csrf: "c",
            account: "/account",
        }),
        known(DevicePage { ui, action: "/device", csrf: "c", user_code: "WDJB-MJHT", error: Some("Unknown code.") }),
        known(DeviceConsentPage {
            ui,
            action: "/device/consent",
            client_name: "Example TV",
            client_logo: Some("https://app.example/logo.png"),
            username: "ann",
            user_code: "WDJB-MJHT",
            scopes,
            interaction: "i",
            csrf: "c",
            account: "/account",
        }),
        known(DeviceDonePage { ui, client_name: "Example TV", approved: true }),
        known(AccountLoginPage {
            ui,
            action: "/account/login",
            csrf: "c",
            username: "ann",
            error: Some("Wrong username or password."),
            passkey: Some(passkey()),
            forgot_password: Some("/forgot-password".into()),
            signup: Some("/signup".into()),
        }),
        known(AccountPage {
            ui,
            username: "ann",
            csrf: "c",
            notice: Some("Saved."),
            error: Some("That did not work."),
            apps: vec![AccountApp {
                client_id: "app".into(),
                name: "Example App".into(),
                scopes: vec![describe_scope("openid")],
                granted: "2026-01-01 10:00 UTC".into(),
                updated: "2026-01-02 10:00 UTC".into(),
            }],
            sessions: vec![AccountSession {
                sid: "s".into(),
                current: true,
                created: "2026-01-01 10:00 UTC".into(),
                last_seen: "2026-01-02 10:00 UTC".into(),
            }],
            has_password: true,
            identities: vec![AccountIdentity {
                provider: "Corp SSO".into(),
                issuer: "https://corp.example".into(),
                subject: "123".into(),
                linked: "2026-01-01 10:00 UTC".into(),
            }],
            link_buttons: vec![upstream()],
            unlink_action: "/account/unlink",
            revoke_action: "/account/revoke",
            end_session_action: "/account/sessions/end",
            password_action: "/account/password",
            mfa: crate::account_mfa::MfaSection {
                totp_added: Some("2026-01-01 10:00 UTC".into()),
                totp_last_used: Some("2026-01-02 10:00 UTC".into()),
                recovery_codes_left: 8,
                fresh: false,
                begin_action: "/account/mfa/totp".into(),
                recovery_action: "/account/mfa/recovery-codes".into(),
                remove_action: "/account/mfa/remove".into(),
            },
            passkeys: Some(crate::account_passkeys::PasskeySection {
                list: vec![crate::account_passkeys::PasskeyRow {
                    credential_id: "cred".into(),
                    name: "Laptop".into(),
                    created: "2026-01-01 10:00 UTC".into(),
                    last_used: Some("2026-01-02 10:00 UTC".into()),
                }],
                register: passkey(),
                remove_action: "/account/passkeys/remove".into(),
            }),
            profile_fields: vec![ProfileField::of("name", Some("Ann Example"))],
            profile_action: "/account/profile",
            email: AccountEmail {
                address: Some("ann@example.com".into()),
                verified: false,
                enabled: true,
                password_field: true,
                stale: false,
                change_action: "/account/email".into(),
                resend_action: "/account/email/resend".into(),
            },
        }),
        known(ErrorPage { ui, title: "Something went wrong", message: "The request was not valid." }),
        known(HomePage { ui, account: "/account", discovery: "/.well-known/openid-configuration" }),
        known(NotFoundPage { ui, home: "/" }),
        known(ForgotPasswordPage { ui, view: "form", action: "/forgot-password", csrf: "c", minutes: 30 }),
        known(ResetPasswordPage {
            ui,
            view: "form",
            action: "/reset-password",
            csrf: "c",
            token: "t",
            username: "ann",
            error: "mismatch",
            forgot: "/forgot-password",
            account: "/account",
        }),
        known(VerifyEmailPage {
            ui,
            view: "form",
            action: "/verify-email",
            csrf: "c",
            token: "t",
            account: "/account",
        }),
        known(SignupPage {
            ui,
            view: "form",
            action: "/signup",
            csrf: "c",
            interaction: "i",
            client_name: "Example App",
            username: "ann",
            email: "ann@example.com",
            error: "That username is taken.",
            domains: "example.com",
            min_length: 8,
            login: "/account",
        }),
        known(InvitationPage {
            ui,
            view: "form",
            action: "/invitation",
            csrf: "c",
            token: "t",
            email: "ann@example.com",
            username: "ann",
            error: "That username is taken.",
            min_length: 8,
        }),
        known(ConfirmAddressPage {
            ui,
            client_name: "Example App",
            email: "ann@example.com",
            notice: "We have sent a new link.",
            action: "/signup/continue",
            resend: "/signup/resend",
            interaction: "i",
            csrf: "c",
        }),
    ];
    all.extend(crate::logout::samples(ui));
    all.extend(crate::account_mfa::samples(ui));
    all
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_in_plain_words() {
        let lines = scope_lines(&latchkey_core::Scope::parse("groups openid").unwrap());
        assert_eq!(lines, ["scope-openid", "scope-groups"]);
        let ui = |lang| Ui { product_name: "L".into(), logo_uri: None, css_href: String::new(), lang, ..Ui::default() };
        let english: Vec<String> = lines.iter().map(|l| ui(Language::En).t(l)).collect();
        assert_eq!(english, ["Know who you are (your account identifier)", "See which groups you belong to"]);
        assert_eq!(ui(Language::De).t(lines[1]), "Sehen, welchen Gruppen Sie angehören");
        assert_eq!(ui(Language::Fr).t(lines[1]), "Voir les groupes auxquels vous appartenez");
    }

    /// Every reason a claim is refused is said in every language, and the
    /// limits the catalogs spell out are the validators'.
    #[test]
    fn claim_refusals_are_said_in_every_language() {
        use latchkey_core::profile::{MAX_URL_LEN, Refusal};
        for refusal in Refusal::ALL {
            let id = refusal.message_id();
            for lang in Language::ALL {
                assert_ne!(lang.message(id), id, "{id} in {lang:?}");
            }
        }
        let text = Language::En.message(Refusal::Text.message_id());
        assert!(text.contains(&latchkey_core::user::MAX_CLAIM_LEN.to_string()), "{text}");
        let url = Language::En.message(Refusal::Form(latchkey_core::profile::ClaimKind::Url).message_id());
        assert!(url.contains(&MAX_URL_LEN.to_string()), "{url}");
    }

    #[test]
    fn form_action_sources() {
        assert_eq!(form_action_source("https://app.example:8443/cb?x=1"), "https://app.example:8443");
        assert_eq!(form_action_source("com.example.app:/cb"), "com.example.app:");
    }

    /// The example overrides (config/branding/templates) check out against
    /// the samples, and every variable a page or email is said to receive
    /// (the lists docs/branding.md prints) is there to use.
    #[test]
    fn overrides_see_every_listed_variable() {
        let ui = Ui { product_name: "Acme".into(), css_href: "/assets/latchkey.css".into(), ..Ui::default() };
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../config/branding/templates");
        let examples = latchkey_overrides::Overrides::load(std::path::Path::new(dir), &overridable(&ui)).unwrap();
        assert_eq!(
            examples.names().collect::<Vec<_>>(),
            ["email/password_reset.html", "email/password_reset.txt", "login.html"]
        );
        let tmp = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(tmp.path().join("email")).unwrap();
        for known in overridable(&ui) {
            let variables = latchkey_overrides::variables(&known.sample);
            let product = if known.name.starts_with("email/") { "product" } else { "ui.product_name" };
            assert!(variables.iter().any(|v| v == product), "{}: {variables:?}", known.name);
            let body: String = variables.iter().map(|v| format!("{{{{ {v} }}}}\n")).collect();
            std::fs::write(tmp.path().join(known.name), body).unwrap();
        }
        let all = latchkey_overrides::Overrides::load(tmp.path(), &overridable(&ui));
        assert_eq!(all.unwrap().names().count(), overridable(&ui).len());
    }

    /// Each template's variables as a Markdown list.
    fn variable_list(mut known: Vec<latchkey_overrides::Known>) -> String {
        known.sort_by_key(|k| k.name);
        known
            .iter()
            .map(|k| {
                let variables = latchkey_overrides::variables(&k.sample);
                format!(
                    "- `{}`: {}\n",
                    k.name,
                    variables.iter().map(|v| format!("`{v}`")).collect::<Vec<_>>().join(", ")
                )
            })
            .collect()
    }

    /// docs/branding.md lists each overridable page's and email's variables
    /// from the samples, so that the lists cannot drift;
    /// `UPDATE_REFERENCE=1` rewrites them.
    #[test]
    fn the_branding_doc_lists_every_page_and_email_and_their_variables() {
        let ui = Ui { product_name: "Acme".into(), ..Ui::default() };
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/branding.md");
        let mut doc = std::fs::read_to_string(path).unwrap();
        for (section, list) in
            [("pages", variable_list(samples(&ui))), ("emails", variable_list(latchkey_email::messages::samples()))]
        {
            let (start, end) = (format!("<!-- {section}:start -->\n"), format!("<!-- {section}:end -->"));
            let a = doc.find(&start).unwrap_or_else(|| panic!("{start}")) + start.len();
            let b = doc.find(&end).unwrap_or_else(|| panic!("{end}"));
            if std::env::var_os("UPDATE_REFERENCE").is_some() {
                doc = format!("{}{list}{}", &doc[..a], &doc[b..]);
            } else {
                assert_eq!(
                    doc[a..b],
                    list,
                    "docs/branding.md is out of date: UPDATE_REFERENCE=1 cargo test -p latchkey-authorize"
                );
            }
        }
        if std::env::var_os("UPDATE_REFERENCE").is_some() {
            std::fs::write(path, doc).unwrap();
        }
    }

    #[test]
    fn pages_escape_reflected_values() {
        let ui = Ui {
            product_name: "Latchkey".into(),
            css_href: "/assets/latchkey.css".into(),
            lang: Language::En,
            ..Ui::default()
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
#[derive(Serialize)]
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
#[derive(Template, Serialize)]
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
#[derive(Template, Serialize)]
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
#[derive(Template, Serialize)]
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
