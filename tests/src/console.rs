//! Helpers for the admin console's browser tests (tests/tests/admin_console*.rs):
//! signing in through the Latchkey login, posting forms from the page (with
//! its CSRF token or a forged one), the console cookie, and axe-core.

use std::path::Path;

use serde_json::{Value, json};

use crate::webdriver::Browser;
use crate::{Server, repo_root};

/// The server environment that turns the console on, with full admins in
/// `it-admins` and read-only ones in `auditors`.
pub const CONSOLE_ENV: &[(&str, &str)] =
    &[("LATCHKEY_ADMIN_CONSOLE", "true"), ("LATCHKEY_ADMIN_CONSOLE_GROUPS", "it-admins=full,auditors=read-only")];

/// axe-core's script (`npm ci --prefix tests/node` installs it).
pub fn axe_source() -> String {
    let path = repo_root().join("tests/node/node_modules/axe-core/axe.min.js");
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (run `npm ci --prefix tests/node`)", path.display()))
}

/// Runs axe-core on the page the browser shows; fails on any violation of
/// serious or critical impact.
pub async fn check_accessibility(browser: &Browser, axe: &str, page: &str) {
    let injected = browser.execute(&format!("{axe}\n;return typeof window.axe;"), vec![]).await;
    assert_eq!(injected, "object", "axe-core did not load on {page}");
    let script = "const done = arguments[arguments.length - 1];
        axe.run(document, {resultTypes: ['violations']}).then(r => done(r.violations
            .filter(v => v.impact === 'serious' || v.impact === 'critical')
            .map(v => ({id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map(n => n.target.join(' '))}))))
          .catch(e => done({error: String(e)}));";
    let violations = browser.execute_async(script, vec![]).await;
    assert_eq!(violations, json!([]), "axe-core on {page}: serious or critical violations");
}

/// Signs in through /admin: the Latchkey login, then the console.
pub async fn sign_in(browser: &Browser, server: &Server, username: &str, password: &str) {
    browser.navigate(&server.url("/admin")).await;
    browser.wait_for_source("id=\"password\"", "the Latchkey login page").await;
    browser.type_into("#username", username).await;
    browser.type_into("#password", password).await;
    browser.click("form button[type=submit]").await;
}

/// Posts a form from the page, as the browser would (with this page's CSRF
/// token unless `csrf` is given), and waits for the answer to load.
pub async fn post_from_page(browser: &Browser, action: &str, fields: &[(&str, &str)], csrf: Option<&str>) {
    let fields: Vec<Value> = fields.iter().map(|(k, v)| json!([k, v])).collect();
    let script = "const [action, fields, csrf] = arguments;
        const token = csrf ?? document.querySelector('input[name=csrf]').value;
        const f = document.createElement('form');
        f.method = 'post'; f.action = action;
        for (const [k, v] of [['csrf', token], ...fields]) {
            const i = document.createElement('input'); i.type = 'hidden'; i.name = k; i.value = v; f.appendChild(i);
        }
        document.body.appendChild(f); window.__leaving = true; f.submit();";
    browser.execute(script, vec![json!(action), json!(fields), json!(csrf)]).await;
    // The new page has no `__leaving`.
    for _ in 0..100 {
        if browser.execute("return window.__leaving === true;", vec![]).await == false {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("the form to {action} did not load a page");
}

pub async fn shot(browser: &Browser, dir: &Path, name: &str) {
    browser.screenshot(&dir.join(format!("{name}.png"))).await;
}

/// The console cookie the browser holds, as a `Cookie` header.
pub async fn console_cookie(browser: &Browser) -> String {
    let cookies = browser.cookies().await;
    let c = cookies.iter().find(|c| c["name"] == "latchkey_console").expect("the console cookie");
    assert_eq!(c["path"], "/admin");
    assert_eq!(c["httpOnly"], true);
    format!("latchkey_console={}", c["value"].as_str().unwrap())
}
