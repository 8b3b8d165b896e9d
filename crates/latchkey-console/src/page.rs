//! Rendering console pages: the layout every page extends
//! (`templates/console/base.html`), the security headers (a strict CSP: no
//! script at all, styles and forms from our own origin only), flash
//! messages, paging, and the refusal pages.

use askama::Template;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};

use crate::session::{Admin, clear_flash};
use crate::{Action, BASE, CSS_PATH, ConsoleState};

/// What a handler returns: a page, or a refusal page (`?` on
/// [`Admin::require`] and friends).
pub type Page = Result<Response, Response>;

pub(crate) const FLASH_COOKIE: &str = "latchkey_console_flash";

/// The navigation's entries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Nav {
    Dashboard,
    Clients,
    Users,
    Sessions,
    Keys,
    Audit,
    /// A page outside the navigation (an error).
    None,
}

/// One link of the navigation.
pub struct NavLink {
    pub href: &'static str,
    pub label: &'static str,
    pub current: bool,
}

impl Nav {
    fn links(self) -> Vec<NavLink> {
        [
            (Nav::Dashboard, "/admin", "Dashboard"),
            (Nav::Clients, "/admin/clients", "Clients"),
            (Nav::Users, "/admin/users", "Users"),
            (Nav::Sessions, "/admin/sessions", "Sessions"),
            (Nav::Keys, "/admin/keys", "Keys"),
            (Nav::Audit, "/admin/audit", "Audit log"),
        ]
        .into_iter()
        .map(|(nav, href, label)| NavLink { href, label, current: nav == self })
        .collect()
    }
}

/// A one-time message shown on the next page (after a POST that redirects).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Flash {
    /// Success (`false`) or a refusal / failure (`true`).
    pub error: bool,
    pub text: String,
}

impl Flash {
    pub fn ok(text: impl Into<String>) -> Self {
        Self { error: false, text: text.into() }
    }

    pub fn error(text: impl Into<String>) -> Self {
        Self { error: true, text: text.into() }
    }

    pub(crate) fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(self).expect("serialisable"))
    }

    pub(crate) fn read(headers: &HeaderMap) -> Option<Self> {
        let raw = latchkey_http::cookies::get(headers, FLASH_COOKIE)?;
        let bytes = URL_SAFE_NO_PAD.decode(raw).ok()?;
        let flash: Flash = serde_json::from_slice(&bytes).ok()?;
        // Plain text of a sensible size (it is escaped when shown anyway).
        (flash.text.len() <= 500).then_some(flash)
    }
}

/// What `templates/console/base.html` shows around every page: branding,
/// navigation, who is signed in (and the sign-out form), the flash.
pub struct Layout {
    pub product_name: String,
    pub logo_uri: Option<String>,
    pub css_href: String,
    pub console_css_href: &'static str,
    pub nav: Vec<NavLink>,
    /// `None` on pages for someone not (or no longer) signed in.
    pub admin: Option<AdminBadge>,
    /// The CSRF token every form of the page carries as the hidden field
    /// `csrf` (empty for someone not signed in).
    pub csrf: String,
    pub flash: Option<Flash>,
}

/// The signed-in admin as the header shows them.
pub struct AdminBadge {
    pub username: String,
    pub role: &'static str,
    /// Whether the admin may do anything but look (forms are shown).
    pub may_change: bool,
}

impl Layout {
    /// The layout of a page in section `nav` for `admin`.
    pub fn new(state: &ConsoleState, admin: &Admin, nav: Nav) -> Self {
        let mut layout = Self::anonymous(state);
        layout.nav = nav.links();
        layout.admin = Some(AdminBadge {
            username: admin.username.clone(),
            role: admin.role.as_str(),
            may_change: admin.may(Action::AccountSupport),
        });
        layout.csrf = admin.csrf.clone();
        layout.flash = admin.flash.clone();
        layout
    }

    /// The layout for someone who is not signed in: no navigation.
    pub fn anonymous(state: &ConsoleState) -> Self {
        let s = &state.settings;
        Self {
            product_name: s.product_name.clone(),
            logo_uri: s.logo_uri.clone(),
            css_href: s.css_href.clone(),
            console_css_href: CSS_PATH,
            nav: Vec::new(),
            admin: None,
            csrf: String::new(),
            flash: None,
        }
    }
}

/// Renders a console page with its security headers; clears the flash the
/// page showed.
pub fn render(state: &ConsoleState, status: StatusCode, page: &impl Template) -> Response {
    let body = match page.render() {
        Ok(b) => b,
        Err(e) => {
            tracing::error!(error = %e, "console: page rendering failed");
            return (StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response();
        }
    };
    let mut res = (status, body).into_response();
    let h = res.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
    security_headers(h);
    h.append(header::SET_COOKIE, clear_flash(&state.settings));
    res
}

/// No caching, no framing, no script, no referrer; styles, images and form
/// targets from our own origin only (the sign-in redirect is a plain link).
pub(crate) fn security_headers(h: &mut HeaderMap) {
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'self'; img-src 'self' https: data:; form-action 'self'; \
             frame-ancestors 'none'; base-uri 'none'",
        ),
    );
}

#[derive(Template)]
#[template(path = "console/message.html")]
struct MessagePage<'a> {
    layout: Layout,
    title: &'a str,
    message: &'a str,
    /// A link onwards: (href, label).
    link: Option<(&'a str, &'a str)>,
}

/// The 403 page: what was refused and why. `admin` is `None` for someone
/// without a console role.
pub fn forbidden(state: &ConsoleState, admin: Option<&Admin>, message: &str) -> Response {
    let layout = match admin {
        Some(admin) => Layout::new(state, admin, Nav::None),
        None => Layout::anonymous(state),
    };
    let page = MessagePage { layout, title: "Not allowed", message, link: Some((BASE, "Back to the console")) };
    render(state, StatusCode::FORBIDDEN, &page)
}

/// A 400 page for a form that could not be read.
pub fn bad_request(state: &ConsoleState, admin: &Admin, message: &str) -> Response {
    let page = MessagePage {
        layout: Layout::new(state, admin, Nav::None),
        title: "Cannot do that",
        message,
        link: Some((BASE, "Back to the console")),
    };
    render(state, StatusCode::BAD_REQUEST, &page)
}

/// A 404 page inside the console.
pub fn not_found(state: &ConsoleState, admin: &Admin, message: &str) -> Response {
    let page = MessagePage {
        layout: Layout::new(state, admin, Nav::None),
        title: "Not found",
        message,
        link: Some((BASE, "Back to the console")),
    };
    render(state, StatusCode::NOT_FOUND, &page)
}

/// The store is away: try again shortly.
pub fn unavailable(state: &ConsoleState) -> Response {
    let page = MessagePage {
        layout: Layout::anonymous(state),
        title: "Temporarily unavailable",
        message: "The console cannot reach its database right now. Try again in a moment.",
        link: None,
    };
    render(state, StatusCode::SERVICE_UNAVAILABLE, &page)
}

/// A store error as the unavailable page (the handler's `?`).
pub fn store_failed(state: &ConsoleState, error: latchkey_store::StoreError) -> Response {
    tracing::warn!(error = %error, "console: store call failed");
    unavailable(state)
}

pub(crate) fn sign_in_failed(state: &ConsoleState, message: &str) -> Response {
    let page = MessagePage {
        layout: Layout::anonymous(state),
        title: "Sign-in failed",
        message,
        link: Some(("/admin/sign-in", "Sign in again")),
    };
    render(state, StatusCode::BAD_REQUEST, &page)
}

pub(crate) fn signed_out_page(state: &ConsoleState) -> Response {
    let page = MessagePage {
        layout: Layout::anonymous(state),
        title: "Signed out",
        message: "You are signed out of the admin console and of Latchkey in this browser.",
        link: Some(("/admin/sign-in", "Sign in again")),
    };
    render(state, StatusCode::OK, &page)
}

/// Links to the previous and next page of a listing.
#[derive(Debug, Clone, Default)]
pub struct Pager {
    pub prev: Option<String>,
    pub next: Option<String>,
    /// E.g. "51–100 of 230".
    pub summary: String,
}

/// Items per page of the console's listings.
pub const PER_PAGE: usize = 50;

/// The query of a searched listing: `?q=…&page=…`.
#[derive(Debug, serde::Deserialize)]
pub(crate) struct SearchQuery {
    pub q: Option<String>,
    pub page: Option<usize>,
}

impl SearchQuery {
    /// The search, the page (from 1), and the index of its first item.
    pub fn parts(&self) -> (String, usize, usize) {
        let page = self.page.unwrap_or(1).max(1);
        (self.q.clone().unwrap_or_default(), page, (page - 1) * PER_PAGE)
    }
}

/// The pager of page `page` of a search that found `shown` items from
/// index `first`, with `more` after them; links to `path?q=…&page=…`.
pub fn search_pager(path: &str, q: &str, (page, first): (usize, usize), shown: usize, more: bool) -> Pager {
    let href = |p: usize| format!("{path}{}", query_string(&[("q", q), ("page", &p.to_string())]));
    Pager {
        prev: (page > 1).then(|| href(page - 1)),
        next: more.then(|| href(page + 1)),
        summary: match shown {
            0 => "none".into(),
            n => format!("{}–{}", first + 1, first + n),
        },
    }
}

/// Page `page` (from 1) of `items`, with links built by `href(page)`.
pub fn paginate<T>(items: Vec<T>, page: usize, href: impl Fn(usize) -> String) -> (Vec<T>, Pager) {
    let total = items.len();
    let pages = total.div_ceil(PER_PAGE).max(1);
    let page = page.clamp(1, pages);
    let start = (page - 1) * PER_PAGE;
    let shown: Vec<T> = items.into_iter().skip(start).take(PER_PAGE).collect();
    let summary =
        if total == 0 { "none".to_string() } else { format!("{}–{} of {total}", start + 1, start + shown.len()) };
    let pager =
        Pager { prev: (page > 1).then(|| href(page - 1)), next: (page < pages).then(|| href(page + 1)), summary };
    (shown, pager)
}

/// A query string (`?a=1&b=2`) of the pairs whose value is not empty.
pub fn query_string(pairs: &[(&str, &str)]) -> String {
    let mut q = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs.iter().filter(|(_, v)| !v.is_empty()) {
        q.append_pair(k, v);
    }
    let q = q.finish();
    if q.is_empty() { q } else { format!("?{q}") }
}

/// A time for people (`2026-11-27 13:45 UTC`).
pub fn when(secs: i64) -> String {
    latchkey_core::calendar::readable(secs)
}

/// A duration for people: "3 days", "5 hours", "12 minutes".
pub fn age(secs: i64) -> String {
    let secs = secs.max(0);
    match secs {
        s if s >= 2 * 86_400 => format!("{} days", s / 86_400),
        s if s >= 2 * 3_600 => format!("{} hours", s / 3_600),
        s if s >= 120 => format!("{} minutes", s / 60),
        s => format!("{s} seconds"),
    }
}

/// The console's stylesheet, cached for a day.
pub async fn stylesheet() -> Response {
    static CSS: &str = include_str!("../../../templates/assets/console.css");
    let mut res = CSS.into_response();
    let h = res.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/css; charset=utf-8"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=86400"));
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paging() {
        let (shown, pager) = paginate((1..=120).collect(), 2, |p| format!("?page={p}"));
        assert_eq!((shown.first(), shown.len()), (Some(&51), 50));
        assert_eq!((pager.prev.as_deref(), pager.next.as_deref()), (Some("?page=1"), Some("?page=3")));
        assert_eq!(pager.summary, "51–100 of 120");
        let (shown, pager) = paginate(Vec::<u8>::new(), 7, |p| format!("?page={p}"));
        assert!(shown.is_empty() && pager.prev.is_none() && pager.next.is_none());
        let (_, pager) = paginate((1..=120).collect::<Vec<_>>(), 99, |p| format!("?page={p}"));
        assert_eq!((pager.next, pager.summary.as_str()), (None, "101–120 of 120"));
    }

    #[test]
    fn flashes_round_trip() {
        let f = Flash::error("Refused: <b>too soon</b>");
        let mut h = HeaderMap::new();
        h.insert(header::COOKIE, HeaderValue::from_str(&format!("{FLASH_COOKIE}={}", f.encode())).unwrap());
        assert_eq!(Flash::read(&h), Some(f));
    }

    #[test]
    fn query_strings_skip_empty_values() {
        assert_eq!(query_string(&[("kind", "login.success"), ("actor", "")]), "?kind=login.success");
        assert_eq!(query_string(&[("a", "")]), "");
    }
}
