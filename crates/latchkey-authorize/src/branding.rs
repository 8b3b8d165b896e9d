//! Branding (docs/branding.md): the operator's logo, favicon, colours and
//! stylesheet, read once at startup and served from our own origin under
//! `/assets/`, so that the pages' CSP stays `style-src 'self'` with no
//! inline styles; and the template overrides of `ui.templates_dir`.
//!
//! Every asset's URL carries a hash of its content (`?v=…`): a request
//! with the current hash is cached for a year (`immutable`), so a file
//! changed and picked up at the next restart gets a new URL. Other
//! requests (no hash, or another replica's older one during a rolling
//! restart) are cached for five minutes and revalidate by `ETag`.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use axum::extract::{Path as UrlPath, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use latchkey_config::{Config, ConfigError};
use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::AuthorizeState;
use crate::pages::Ui;

/// Latchkey's own stylesheet.
const BUILT_IN_CSS: &str = include_str!("../../../templates/assets/latchkey.css");
/// The largest logo or favicon accepted.
const MAX_IMAGE: usize = 1024 * 1024;
/// The largest extra stylesheet accepted.
const MAX_CSS: usize = 512 * 1024;
/// Served to SVG images opened on their own: no script runs, nothing loads.
const SVG_CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; sandbox";

/// A file served under `/assets/`.
#[derive(Debug)]
pub struct Asset {
    body: axum::body::Bytes,
    content_type: &'static str,
    /// Of the content: the `v` of its URL, and its `ETag`.
    hash: String,
}

impl Asset {
    fn new(body: impl Into<axum::body::Bytes>, content_type: &'static str) -> Self {
        let body = body.into();
        let hash = hex::encode(&Sha256::digest(&body)[..8]);
        Self { body, content_type, hash }
    }

    /// Where the pages link it: `{base}/assets/{name}?v={hash}`.
    fn href(&self, base_path: &str, name: &str) -> String {
        format!("{base_path}/assets/{name}?v={}", self.hash)
    }
}

/// The branding assets, by file name under `/assets/`.
#[derive(Debug, Default)]
pub struct Assets(HashMap<String, Asset>);

/// The page branding and the assets it links, from the `[ui]` settings.
/// Files that cannot be read, are not the image type their name says, or
/// templates that do not check out stop the server here.
pub fn load(config: &Config, base_path: &str) -> Result<(Ui, Assets), ConfigError> {
    let settings = &config.ui;
    let mut assets = HashMap::new();
    let css = Asset::new(format!("{BUILT_IN_CSS}{}", colour_rules(settings)), "text/css; charset=utf-8");
    let mut ui = Ui {
        product_name: settings.product_name.trim().to_string(),
        logo_uri: settings.logo_uri.clone(),
        css_href: css.href(base_path, "latchkey.css"),
        ..Ui::default()
    };
    assets.insert("latchkey.css".to_string(), css);
    if let Some(path) = &settings.stylesheet {
        let text = read(path, "ui.stylesheet", MAX_CSS)?;
        let text = String::from_utf8(text)
            .map_err(|_| ConfigError::new("ui.stylesheet", format!("{} is not UTF-8 text", path.display())))?;
        let asset = Asset::new(text, "text/css; charset=utf-8");
        ui.custom_css_href = Some(asset.href(base_path, "custom.css"));
        assets.insert("custom.css".to_string(), asset);
    }
    for (key, path, stem) in
        [("ui.logo_file", &settings.logo_file, "logo"), ("ui.favicon_file", &settings.favicon_file, "favicon")]
    {
        let Some(path) = path else { continue };
        let bytes = read(path, key, MAX_IMAGE)?;
        let (ext, content_type) = image_type(&bytes).ok_or_else(|| {
            ConfigError::new(key, format!("{} is not a PNG, SVG, WebP, JPEG or ICO image", path.display()))
        })?;
        let named = path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase).unwrap_or_default();
        let named = if named == "jpeg" { "jpg".to_string() } else { named };
        if named != ext {
            return Err(ConfigError::new(key, format!("{} is named .{named} but holds a {ext} image", path.display())));
        }
        let name = format!("{stem}.{ext}");
        let asset = Asset::new(bytes, content_type);
        let href = Some(asset.href(base_path, &name));
        if stem == "logo" {
            ui.logo_uri = href
        } else {
            ui.favicon_href = href
        }
        assets.insert(name, asset);
    }
    if let Some(dir) = &settings.templates_dir {
        let overrides = latchkey_overrides::Overrides::load(dir, &crate::pages::overridable(&ui))
            .map_err(|e| ConfigError::new("ui.templates_dir", e.to_string()))?;
        ui.overrides = Some(Arc::new(overrides));
    }
    Ok((ui, Assets(assets)))
}

fn read(path: &Path, key: &str, max: usize) -> Result<Vec<u8>, ConfigError> {
    let bytes =
        std::fs::read(path).map_err(|e| ConfigError::new(key, format!("cannot read {}: {e}", path.display())))?;
    if bytes.len() > max {
        return Err(ConfigError::new(key, format!("{} is larger than {} KiB", path.display(), max / 1024)));
    }
    Ok(bytes)
}

/// The image type of `bytes` by their signature (not the file name): its
/// extension and content type.
fn image_type(bytes: &[u8]) -> Option<(&'static str, &'static str)> {
    if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        return Some(("png", "image/png"));
    }
    if bytes.starts_with(&[0xff, 0xd8, 0xff]) {
        return Some(("jpg", "image/jpeg"));
    }
    if bytes.len() > 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
        return Some(("webp", "image/webp"));
    }
    if bytes.starts_with(&[0, 0, 1, 0]) {
        return Some(("ico", "image/x-icon"));
    }
    let text = std::str::from_utf8(bytes).ok()?;
    text.contains("<svg").then_some(("svg", "image/svg+xml"))
}

/// The `ui.color_*` settings as CSS custom properties after Latchkey's:
/// the light ones where the browser prefers light, the `color_dark_` ones
/// where it prefers dark. The values are hex colours (checked with the config), so nothing
/// else can reach the stylesheet.
fn colour_rules(ui: &latchkey_config::Ui) -> String {
    let mut out = String::new();
    for (dark, scheme) in [(false, "light"), (true, "dark")] {
        let declarations: Vec<String> = ui
            .colors()
            .into_iter()
            .filter(|(_, _, value, d)| *d == dark && value.is_some())
            .map(|(property, _, value, _)| format!("{property}: {};", value.unwrap_or_default()))
            .collect();
        if !declarations.is_empty() {
            out.push_str(&format!(
                "\n/* ui.color_* */\n@media (prefers-color-scheme: {scheme}) {{ :root {{ {} }} }}\n",
                declarations.join(" ")
            ));
        }
    }
    out
}

#[derive(Deserialize)]
pub struct Version {
    v: Option<String>,
}

/// `GET /assets/{name}`: a branding asset.
pub async fn asset(
    State(state): State<AuthorizeState>,
    UrlPath(name): UrlPath<String>,
    Query(version): Query<Version>,
    headers: HeaderMap,
) -> Response {
    let Some(asset) = state.settings.assets.0.get(&name) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let etag = format!("\"{}\"", asset.hash);
    let current = version.v.as_deref() == Some(asset.hash.as_str());
    let cache = if current { "public, max-age=31536000, immutable" } else { "public, max-age=300" };
    let fresh = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim().trim_start_matches("W/") == etag));
    let mut res = if fresh { StatusCode::NOT_MODIFIED.into_response() } else { asset.body.clone().into_response() };
    let h = res.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(asset.content_type));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    if let Ok(v) = HeaderValue::from_str(&etag) {
        h.insert(header::ETAG, v);
    }
    if asset.content_type == "image/svg+xml" {
        h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(SVG_CSP));
    }
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn images_are_known_by_their_signature() {
        assert_eq!(image_type(b"\x89PNG\r\n\x1a\nrest"), Some(("png", "image/png")));
        assert_eq!(image_type(b"RIFF\0\0\0\0WEBPVP8 "), Some(("webp", "image/webp")));
        assert_eq!(image_type(b"<?xml version=\"1.0\"?><svg xmlns=\"http://www.w3.org/2000/svg\"/>").unwrap().0, "svg");
        assert_eq!(image_type(b"<html><script>alert(1)</script>"), None);
        assert_eq!(image_type(b"GIF89a"), None);
    }

    #[test]
    fn colours_become_custom_properties_per_scheme() {
        let ui = latchkey_config::Ui {
            color_accent: Some("#ff0066".into()),
            color_dark_background: Some("#000".into()),
            ..Default::default()
        };
        let css = colour_rules(&ui);
        assert!(css.contains("@media (prefers-color-scheme: light) { :root { --accent: #ff0066; } }"), "{css}");
        assert!(css.contains("@media (prefers-color-scheme: dark) { :root { --bg: #000; } }"), "{css}");
        assert_eq!(colour_rules(&Default::default()), "");
    }
}
