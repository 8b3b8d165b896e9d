//! Branding (docs/branding.md): the product name, a logo file, a favicon,
//! colours and an extra stylesheet served from our own origin under a
//! strict CSP, content-hashed URLs and their caching, template overrides,
//! and the settings refused at startup. That they apply in a real browser
//! is tested in `tests/tests/browser.rs`.

use latchkey_server::testing::{TestApp, TestResponse};

use crate::common::*;

const EXAMPLE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../config/branding");

/// The CSP of `/account`'s sign-in page (with its passkey script), as it
/// is without any branding: branding changes nothing in it.
const PAGE_CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self' https: data:; form-action 'self'; \
                        frame-ancestors 'none'; base-uri 'none'; script-src 'self'; connect-src 'self'";

/// The `href`/`src` values in `html` that start with `prefix` (but the
/// passkey script, which the sign-in pages carry anyway).
fn links(html: &str, prefix: &str) -> Vec<String> {
    html.split('"')
        .filter(|part| part.starts_with(prefix) && !part.starts_with("/assets/passkey.js"))
        .map(|s| s.replace("&#x3f;", "?"))
        .collect()
}

fn example(file: &str) -> String {
    format!("{EXAMPLE}/{file}")
}

/// A PNG favicon in a temporary directory (1×1 pixel).
fn png(dir: &tempfile::TempDir) -> String {
    const PIXEL: &[u8] = &[
        0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52, 0x00, 0x00,
        0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1f, 0x15, 0xc4, 0x89, 0x00, 0x00, 0x00,
        0x0d, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9c, 0x63, 0xf8, 0xcf, 0xc0, 0xf0, 0x1f, 0x00, 0x05, 0x00, 0x01, 0xff,
        0x89, 0x99, 0x3d, 0x1d, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82,
    ];
    let path = dir.path().join("favicon.png");
    std::fs::write(&path, PIXEL).unwrap();
    path.to_str().unwrap().to_string()
}

async fn fetch(app: &TestApp, href: &str) -> TestResponse {
    app.get(href).send().await
}

#[tokio::test]
async fn the_brand_is_served_from_our_origin_with_hashed_urls_and_the_csp_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let favicon = png(&dir);
    let (logo, css) = (example("logo.svg"), example("brand.css"));
    let app = TestApp::with_env(&[
        ("LATCHKEY_UI_PRODUCT_NAME", "Acme <ID>"),
        ("LATCHKEY_UI_LOGO_FILE", &logo),
        ("LATCHKEY_UI_FAVICON_FILE", &favicon),
        ("LATCHKEY_UI_STYLESHEET", &css),
        ("LATCHKEY_UI_COLOR_ACCENT", "#0F766E"),
        ("LATCHKEY_UI_COLOR_ACCENT_TEXT", "#fff"),
        ("LATCHKEY_UI_COLOR_DARK_ACCENT", "#5eead4"),
    ])
    .await;
    let page = app.browser().get("/account").await;
    assert_eq!(page.status, 200, "{}", page.describe());
    assert_eq!(page.header("content-security-policy"), Some(PAGE_CSP));
    let html = page.text();
    assert!(html.contains("<span class=\"product\">Acme &#60;ID&#62;</span>"), "{html}");
    let assets = links(&html, "/assets/");
    let [ours, custom, icon, logo_src] = assets.as_slice() else { panic!("{assets:?} in {html}") };
    // Latchkey's stylesheet first, the operator's after it (its rules win).
    assert!(ours.starts_with("/assets/latchkey.css?v=") && custom.starts_with("/assets/custom.css?v="), "{assets:?}");
    assert!(icon.starts_with("/assets/favicon.png?v=") && logo_src.starts_with("/assets/logo.svg?v="), "{assets:?}");
    assert!(
        html.contains(&format!(r#"<img class="logo" src="{}" alt="">"#, logo_src.replace('?', "&#x3f;")))
            || html.contains(&format!(r#"<img class="logo" src="{logo_src}" alt="">"#))
    );

    let year = "public, max-age=31536000, immutable";
    let cases = [
        (ours, "text/css; charset=utf-8"),
        (custom, "text/css; charset=utf-8"),
        (icon, "image/png"),
        (logo_src, "image/svg+xml"),
    ];
    for (href, content_type) in cases {
        let res = fetch(&app, href).await;
        assert_eq!(res.status, 200, "{href}: {}", res.describe());
        assert_eq!(res.header("content-type"), Some(content_type), "{href}");
        assert_eq!(res.header("cache-control"), Some(year), "{href}");
        assert_eq!(res.header("x-content-type-options"), Some("nosniff"), "{href}");
        // Without the current hash (an old page, another replica): short, and revalidated.
        let path = href.split('?').next().unwrap();
        for stale in [path.to_string(), format!("{path}?v=0123456789abcdef")] {
            let res = fetch(&app, &stale).await;
            assert_eq!(res.status, 200, "{stale}");
            assert_eq!(res.header("cache-control"), Some("public, max-age=300"), "{stale}");
        }
        let etag = res.header("etag").unwrap().to_string();
        assert_eq!(etag, format!("\"{}\"", href.split("?v=").nth(1).unwrap()));
        let again = app.get(href).header("if-none-match", &etag).send().await;
        assert_eq!(again.status, 304, "{href}");
    }
    // An SVG opened on its own runs no script.
    let svg = fetch(&app, logo_src).await;
    assert_eq!(svg.header("content-security-policy"), Some("default-src 'none'; style-src 'unsafe-inline'; sandbox"));
    assert_eq!(svg.text(), std::fs::read_to_string(&logo).unwrap());
    assert_eq!(fetch(&app, custom).await.text(), std::fs::read_to_string(&css).unwrap());
    // The colours, as custom properties after Latchkey's own, per scheme.
    let stylesheet = fetch(&app, ours).await.text();
    assert!(stylesheet.starts_with(":root { --fg: #1d2430;"), "{stylesheet}");
    assert!(
        stylesheet.contains("@media (prefers-color-scheme: light) { :root { --accent: #0F766E; --accent-fg: #fff; } }"),
        "{stylesheet}"
    );
    assert!(
        stylesheet.contains("@media (prefers-color-scheme: dark) { :root { --accent: #5eead4; } }"),
        "{stylesheet}"
    );
    // Nothing else is served from there; the passkey script still is.
    for path in ["/assets/logo.png", "/assets/..%2Fetc%2Fpasswd", "/assets/brand.css"] {
        assert_eq!(fetch(&app, path).await.status, 404, "{path}");
    }
    assert_eq!(fetch(&app, "/assets/passkey.js").await.status, 200);
}

#[tokio::test]
async fn without_branding_the_pages_link_only_latchkeys_stylesheet() {
    let app = TestApp::start().await;
    let html = app.browser().get("/account").await.text();
    let assets = links(&html, "/assets/");
    assert_eq!(assets.len(), 1, "{assets:?}");
    assert_eq!(app.browser().get("/account").await.header("content-security-policy"), Some(PAGE_CSP));
    assert!(assets[0].starts_with("/assets/latchkey.css?v="), "{assets:?}");
    assert!(html.contains("<span class=\"product\">Latchkey</span>") && !html.contains("class=\"logo\""), "{html}");
    let css = fetch(&app, &assets[0]).await.text();
    assert_eq!(css, include_str!("../../../../templates/assets/latchkey.css"));
    assert_eq!(fetch(&app, "/assets/custom.css").await.status, 404);
}

#[tokio::test]
async fn an_override_replaces_the_login_page_and_signing_in_still_works() {
    let templates = example("templates");
    let app =
        TestApp::with_env(&[("LATCHKEY_UI_TEMPLATES_DIR", &templates), ("LATCHKEY_UI_PRODUCT_NAME", "Acme")]).await;
    let client = app.create_client("<b>Shop</b>", &["--redirect-uri", CB]).await;
    let user = alice(&app).await;
    let browser = app.browser();
    let p = pkce();
    let login = authorize(&browser, &code_request(&client.id, &p)).await;
    assert_eq!(login.status, 200, "{}", login.describe());
    let html = login.text();
    assert!(html.contains("<h1 id=\"heading\">Welcome back</h1>"), "{html}");
    // Escaped (minijinja also escapes `/`, as `&#x2f;`).
    assert!(
        html.contains("Sign in to <strong>&lt;b&gt;Shop&lt;&#x2f;b&gt;</strong> with your Acme account."),
        "{html}"
    );
    assert!(!html.contains("<b>Shop"), "{html}");
    assert!(html.contains("Need help? Ask the service desk."), "{html}");
    // The override speaks the catalog's messages in the page's language.
    assert!(html.contains(r#"<html lang="en">"#) && html.contains(r#"<label for="password">Password</label>"#));
    let german = authorize(&app.browser(), &code_request(&client.id, &p).set("ui_locales", "de")).await;
    let german = german.text();
    assert!(german.contains(r#"<html lang="de">"#), "{german}");
    assert!(german.contains(r#"<label for="password">Passwort</label>"#), "{german}");
    // The same headers as the built-in page: no inline anything, forms to us and the client.
    let csp = login.header("content-security-policy").unwrap();
    assert!(csp.starts_with("default-src 'none'; style-src 'self'; img-src 'self' https: data:; form-action 'self'"));
    assert!(!csp.contains("unsafe-inline"), "{csp}");
    assert_eq!(login.header("cache-control"), Some("no-store"));
    assert_eq!(login.header("x-frame-options"), Some("DENY"));
    // A wrong password: the error in the override's markup.
    let (interaction, csrf) = (login.input("interaction").unwrap(), login.input("csrf").unwrap());
    let wrong = [("interaction", interaction.as_str()), ("csrf", &csrf), ("username", "alice"), ("password", "no")];
    let again = browser.post_form("/login", &wrong).await;
    assert!(again.text().contains("<p class=\"error\" role=\"alert\">"), "{}", again.describe());
    assert!(again.text().contains("Welcome back"));
    // Signing in through the overridden form ends in a code.
    let res = browser.drive(give_password(&browser, &again, &user).await, &user).await;
    let tokens = redeem(&app, &client, &p, &res).await;
    assert!(tokens["access_token"].is_string(), "{tokens}");
    // Pages not overridden stay built in.
    let account = browser.get("/account").await.text();
    assert!(!account.contains("Welcome back") && account.contains("class=\"brand\""), "{account}");
}

/// The example templates (`config/branding/templates`) and `extra` files, in
/// a temporary directory.
fn templates_with(extra: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let from = std::path::PathBuf::from(example("templates"));
    for name in
        ["_layout.html", "login.html", "email/_layout.html", "email/password_reset.txt", "email/password_reset.html"]
            .iter()
            .copied()
            .map(|n| (n, std::fs::read_to_string(from.join(n)).unwrap()))
            .chain(extra.iter().map(|(n, t)| (*n, t.to_string())))
            .collect::<Vec<_>>()
    {
        let (name, text) = name;
        let path = dir.path().join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    dir
}

/// `POST /forgot-password` for `identifier` from a browser speaking `accept`.
async fn ask_reset(app: &TestApp, identifier: &str, accept: &str) {
    let browser = app.browser();
    let form = browser.send(app.get("/forgot-password").header("accept-language", accept)).await;
    let csrf = form.input("csrf").unwrap();
    let form = [("csrf", csrf.as_str()), ("identifier", identifier)];
    let res = browser.send(app.post("/forgot-password").header("accept-language", accept).form(&form)).await;
    assert_eq!(res.status, 200, "{}", res.describe());
}

#[tokio::test]
async fn email_overrides_are_sent_from_every_door_in_the_recipients_language() {
    let invitation =
        "{{ product }}: {{ lang.t(\"invitation-title\") }}\n\n{{ lang }} {{ address }} {{ link }} {{ days }}\n";
    let dir = templates_with(&[("email/invitation.txt", invitation)]);
    let templates = dir.path().to_str().unwrap();
    let mut env = EMAIL_ENV.to_vec();
    env.extend([
        ("LATCHKEY_UI_TEMPLATES_DIR", templates),
        ("LATCHKEY_UI_PRODUCT_NAME", "Acme"),
        ("LATCHKEY_SIGNUP_MODE", "invite"),
        ("LATCHKEY_ADMIN_ENABLED", "true"),
    ]);
    let app = TestApp::with_env(&env).await;
    alice(&app).await;
    app.create_user("anna", PASSWORD, &["--email", "anna@example.com", "--claim", "locale=de"]).await;

    // The sign-in pages' door: the example override, in the request's
    // language for alice, in her account's for anna.
    ask_reset(&app, "alice", "en").await;
    ask_reset(&app, "anna", "fr").await;
    let emails = sent(&app).await;
    assert_eq!(emails.len(), 2, "{emails:?}");
    let (en, de) = (&emails[0], &emails[1]);
    assert_eq!(en.subject, "Acme: Reset your password");
    assert!(en.text_body.starts_with("Hello alice,"), "{}", en.text_body);
    assert!(en.text_body.ends_with("Need help? Ask the service desk."), "{}", en.text_body);
    assert!(en.html_body.contains(r#"<html lang="en">"#) && en.html_body.contains("border-top:6px solid #7a3e12"));
    assert!(en.html_body.contains("Choose a new password"), "{}", en.html_body);
    assert_eq!(de.subject, "Acme: Passwort zurücksetzen");
    assert!(de.text_body.starts_with("Hallo anna,"), "{}", de.text_body);
    assert!(de.html_body.contains(r#"<html lang="de">"#) && de.html_body.contains("Neues Passwort wählen"));
    // The link in the overridden email works; the email after it is not
    // overridden and stays built in.
    let token = token_in(en, "/reset-password");
    let b = app.browser();
    let form = b.get(&format!("/reset-password?token={token}")).await;
    let csrf = b.cookie("latchkey_csrf").or_else(|| form.input("csrf")).unwrap();
    let new = "a new long password";
    let fields = [("csrf", csrf.as_str()), ("token", &token), ("new_password", new), ("confirm_password", new)];
    let res = b.post_form("/reset-password", &fields).await;
    assert_eq!(res.status, 200, "{}", res.describe());
    let changed = sent(&app).await;
    assert_eq!(changed.len(), 1, "{changed:?}");
    assert!(changed[0].subject.contains("Acme") && !changed[0].text_body.contains("service desk"), "{changed:?}");
    assert!(changed[0].html_body.contains("#f4f5f7"), "the built-in layout: {}", changed[0].html_body);

    // The CLI's door, in the language it names; the HTML version, not
    // overridden, stays built in.
    let out = app.cli_json(&["invite", "create", "--email", "hal@example.com", "--locale", "fr"]).await;
    assert!(out["link"].is_string(), "{out}");
    // The admin API's door.
    let args = ["admin", "token", "create", "--name", "ops", "--scope", "users:read", "--scope", "users:write"];
    let admin = app.cli_json(&args).await["token"].as_str().unwrap().to_string();
    let res = app
        .post("/admin/api/v1/invitations")
        .bearer(&admin)
        .json(&serde_json::json!({"email": "ida@example.com"}))
        .await;
    assert_eq!(res.status, 201, "{}", res.describe());
    let invitations = sent(&app).await;
    assert_eq!(invitations.len(), 2, "{invitations:?}");
    let (fr, en) = (&invitations[0], &invitations[1]);
    assert_eq!(fr.subject, format!("Acme: {}", latchkey_i18n::Language::Fr.message("invitation-title")));
    assert!(fr.text_body.starts_with("fr hal@example.com http://"), "{}", fr.text_body);
    assert!(fr.html_body.contains(r#"<html lang="fr">"#) && fr.html_body.contains("#f4f5f7"), "{}", fr.html_body);
    assert!(
        en.text_body.starts_with("en ida@example.com http://") && en.text_body.trim_end().ends_with(" 7"),
        "{}",
        en.text_body
    );
}

#[tokio::test]
async fn branding_that_cannot_work_stops_startup_with_the_key_and_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, text: &str| {
        let path = dir.path().join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, text).unwrap();
        path.to_str().unwrap().to_string()
    };
    let fake_png = write("logo.png", "<html><script>alert(1)</script></html>");
    let svg_as_png = write("svg.png", &std::fs::read_to_string(example("logo.svg")).unwrap());
    let gif = write("logo.gif", "GIF89a");
    let bad_syntax = write("syntax/login.html", "<h1>Hi</h1>\n{% if error %}\n{{ error }}\n");
    let bad_variable = write("variable/login.html", "<h1>Hi</h1>\n<p>{{ client }}</p>\n");
    let bad_attribute = write("attribute/consent.html", "{% if scopes %}{{ ui.brand }}{% endif %}");
    let bad_name = write("name/signin.html", "Hi");
    write("email_variable/email/password_reset.txt", "Reset\n\n{{ link }} {{ hours }}");
    let email_dir = dir.path().join("email_variable");
    let dir_of = |file: &str| std::path::Path::new(file).parent().unwrap().to_str().unwrap().to_string();
    let missing = dir.path().join("missing.css");
    let missing = missing.to_str().unwrap();
    type Case<'a> = (&'a str, String, &'a str, &'a str);
    let cases: Vec<Case> = vec![
        ("LATCHKEY_UI_COLOR_ACCENT", "red".into(), "`ui.color_accent` (LATCHKEY_UI_COLOR_ACCENT)", "not a hex colour"),
        ("LATCHKEY_UI_COLOR_ACCENT", "#12345".into(), "`ui.color_accent`", "not a hex colour"),
        ("LATCHKEY_UI_COLOR_DARK_TEXT", "#fff;}body{x:y".into(), "`ui.color_dark_text`", "not a hex colour"),
        ("LATCHKEY_UI_STYLESHEET", missing.into(), "`ui.stylesheet`", "cannot read"),
        ("LATCHKEY_UI_STYLESHEET", example("logo.svg"), "`ui.stylesheet`", "must be a .css file"),
        ("LATCHKEY_UI_LOGO_FILE", fake_png, "`ui.logo_file`", "is not a PNG, SVG, WebP, JPEG or ICO image"),
        ("LATCHKEY_UI_LOGO_FILE", svg_as_png, "`ui.logo_file`", "is named .png but holds a svg image"),
        ("LATCHKEY_UI_LOGO_FILE", gif, "`ui.logo_file`", "must be a .png, .svg, .webp, .jpg, .jpeg file"),
        ("LATCHKEY_UI_TEMPLATES_DIR", dir_of(&bad_syntax), "`ui.templates_dir`", "login.html line 3: unexpected end"),
        ("LATCHKEY_UI_TEMPLATES_DIR", dir_of(&bad_variable), "login.html line 2", "unknown variable `client`"),
        ("LATCHKEY_UI_TEMPLATES_DIR", dir_of(&bad_attribute), "consent.html line 1", "`ui` has no `brand`"),
        ("LATCHKEY_UI_TEMPLATES_DIR", dir_of(&bad_name), "signin.html", "Latchkey renders no template named"),
        (
            "LATCHKEY_UI_TEMPLATES_DIR",
            email_dir.to_str().unwrap().into(),
            "password_reset.txt line 3",
            "unknown variable `hours`",
        ),
        ("LATCHKEY_UI_TEMPLATES_DIR", format!("{missing}.d"), "`ui.templates_dir`", "cannot read"),
    ];
    for (var, value, names, why) in &cases {
        let error = match TestApp::try_with_env(&[(var, value)]).await {
            Ok(_) => panic!("{var}={value} started"),
            Err(e) => e,
        };
        assert!(error.contains(names) && error.contains(why), "{var}={value}: {error}");
    }
    // Both a logo URL and a file.
    let both = [("LATCHKEY_UI_LOGO_URI", "https://cdn.example/logo.png"), ("LATCHKEY_UI_LOGO_FILE", EXAMPLE)];
    let error = TestApp::try_with_env(&both).await.err().unwrap();
    assert!(error.contains("set ui.logo_uri or ui.logo_file, not both"), "{error}");
    // The other side: short and upper-case hex colours, a logo URL alone.
    let fine = [
        ("LATCHKEY_UI_COLOR_ACCENT", "#0A7"),
        ("LATCHKEY_UI_COLOR_DARK_BACKGROUND", "#000000"),
        ("LATCHKEY_UI_LOGO_URI", "https://cdn.example/logo.png"),
    ];
    let app = TestApp::try_with_env(&fine).await.unwrap();
    let html = app.browser().get("/account").await.text();
    assert!(html.contains(r#"<img class="logo" src="https://cdn.example/logo.png" alt="">"#), "{html}");
}
