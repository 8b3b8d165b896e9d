//! `/admin/audit`: the audit log, newest first, filtered by kind, actor,
//! subject, client and time, page by page; and the same selection exported
//! as JSON lines (one event a line, as `latchkey audit list --json` prints).

use askama::Template;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::IntoResponse;
use latchkey_core::audit::{AuditEvent, KINDS};
use latchkey_store::AuditQuery;
use serde::Deserialize;

use crate::page::{Layout, Nav, PER_PAGE, Page, Pager, query_string, render, security_headers, store_failed, when};
use crate::{Admin, ConsoleState};

/// At most this many events in one export (narrow the filter for more).
pub(crate) const EXPORT_MAX: usize = 100_000;

#[derive(Debug, Default, Deserialize)]
pub(crate) struct Filter {
    #[serde(default)]
    kind: String,
    #[serde(default)]
    actor: String,
    #[serde(default)]
    subject: String,
    #[serde(default)]
    client: String,
    /// `YYYY-MM-DDTHH:MM` (an `<input type=datetime-local>`), UTC.
    #[serde(default)]
    since: String,
    #[serde(default)]
    until: String,
    /// The page starts below this event id (newest first).
    before: Option<i64>,
}

impl Filter {
    fn pairs(&self) -> Vec<(&'static str, &str)> {
        vec![
            ("kind", self.kind.as_str()),
            ("actor", self.actor.as_str()),
            ("subject", self.subject.as_str()),
            ("client", self.client.as_str()),
            ("since", self.since.as_str()),
            ("until", self.until.as_str()),
        ]
    }

    /// The store's query, or what is wrong with the filter.
    fn query(&self) -> Result<AuditQuery, String> {
        let text = |s: &str| (!s.trim().is_empty()).then(|| s.trim().to_string());
        let kind = text(&self.kind);
        if let Some(k) = &kind
            && !KINDS.contains(&k.as_str())
        {
            return Err(format!("{k:?} is not a kind of audit event."));
        }
        let time = |s: &str, what: &str| match text(s) {
            None => Ok(None),
            Some(t) => parse_minute(&t).map(Some).ok_or_else(|| format!("{what} must look like 2026-12-31T23:59.")),
        };
        Ok(AuditQuery {
            kind,
            actor: text(&self.actor),
            subject: text(&self.subject),
            client_id: text(&self.client),
            since: time(&self.since, "From")?,
            until: time(&self.until, "Until")?,
            newest_first: true,
            before: self.before,
            ..Default::default()
        })
    }
}

/// `YYYY-MM-DDTHH:MM[:SS]` in UTC to Unix seconds.
fn parse_minute(s: &str) -> Option<i64> {
    let (date, time) = s.split_once('T')?;
    let mut d = date.splitn(3, '-').map(|p| p.parse::<i64>().ok());
    let (y, m, day) = (d.next()??, d.next()??, d.next()??);
    let mut t = time.splitn(3, ':').map(|p| p.parse::<i64>().ok());
    let (hh, mm) = (t.next()??, t.next()??);
    let ss = t.next().flatten().unwrap_or(0);
    if !(1..=12).contains(&m) || !(1..=31).contains(&day) || hh > 23 || mm > 59 || ss > 59 || hh < 0 || mm < 0 {
        return None;
    }
    // Days from the civil date (H. Hinnant's algorithm).
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(days * 86_400 + hh * 3_600 + mm * 60 + ss)
}

pub(crate) struct EventRow {
    pub id: i64,
    pub at: String,
    pub kind: String,
    pub actor: String,
    pub subject: String,
    pub client: String,
    pub ip: String,
    pub details: String,
}

impl EventRow {
    fn of((id, e): (i64, AuditEvent)) -> Self {
        let details = match &e.details {
            serde_json::Value::Object(map) if map.is_empty() => String::new(),
            d => d.to_string(),
        };
        Self {
            id,
            at: when(e.at),
            kind: e.kind,
            actor: e.actor,
            subject: e.subject.unwrap_or_default(),
            client: e.client_id.unwrap_or_default(),
            ip: e.ip.unwrap_or_default(),
            details,
        }
    }
}

#[derive(Template)]
#[template(path = "console/audit.html")]
struct AuditPage<'a> {
    layout: Layout,
    filter: &'a Filter,
    kinds: &'static [&'static str],
    error: Option<String>,
    events: Vec<EventRow>,
    pager: Pager,
    export: String,
}

pub(crate) async fn show(
    State(state): State<ConsoleState>,
    admin: Admin,
    filter: Result<Query<Filter>, QueryRejection>,
) -> Page {
    let filter = filter.map(|Query(f)| f).unwrap_or_default();
    let mut page = AuditPage {
        layout: Layout::new(&state, &admin, Nav::Audit),
        filter: &filter,
        kinds: KINDS,
        error: None,
        events: Vec::new(),
        pager: Pager::default(),
        export: format!("/admin/audit/export{}", query_string(&filter.pairs())),
    };
    match filter.query() {
        Err(why) => page.error = Some(why),
        Ok(mut query) => {
            // One more than a page: whether a next page exists.
            query.limit = PER_PAGE as u32 + 1;
            let mut events = state.store.list_audit(&query).await.map_err(|e| store_failed(&state, e))?;
            let more = events.len() > PER_PAGE;
            events.truncate(PER_PAGE);
            let mut pairs = filter.pairs();
            let next = events.last().filter(|_| more).map(|(id, _)| id.to_string());
            if let Some(next) = &next {
                pairs.push(("before", next.as_str()));
                page.pager.next = Some(format!("/admin/audit{}", query_string(&pairs)));
            }
            if filter.before.is_some() {
                page.pager.prev = Some(format!("/admin/audit{}", query_string(&filter.pairs())));
            }
            page.pager.summary = match (events.first(), events.last()) {
                (Some((newest, _)), Some((oldest, _))) => format!("events {oldest}–{newest}"),
                _ => "no events".into(),
            };
            page.events = events.into_iter().map(EventRow::of).collect();
        }
    }
    let status = if page.error.is_some() { StatusCode::BAD_REQUEST } else { StatusCode::OK };
    Ok(render(&state, status, &page))
}

/// The filtered events as JSON lines, newest first, as a download.
pub(crate) async fn export(
    State(state): State<ConsoleState>,
    admin: Admin,
    filter: Result<Query<Filter>, QueryRejection>,
) -> Page {
    let filter = filter.map(|Query(f)| f).unwrap_or_default();
    let mut query = filter.query().map_err(|why| crate::page::bad_request(&state, &admin, &why))?;
    let mut out = String::new();
    let mut count = 0;
    loop {
        query.limit = 1_000;
        let batch = state.store.list_audit(&query).await.map_err(|e| store_failed(&state, e))?;
        let Some((last, _)) = batch.last() else { break };
        query.before = Some(*last);
        for (id, event) in &batch {
            let mut line = serde_json::to_value(event).unwrap_or_default();
            line["id"] = (*id).into();
            out.push_str(&line.to_string());
            out.push('\n');
            count += 1;
        }
        if batch.len() < 1_000 || count >= EXPORT_MAX {
            break;
        }
    }
    let stamp = latchkey_core::calendar::rfc3339(state.clock.now()).replace(':', "");
    let mut res = (StatusCode::OK, out).into_response();
    let h = res.headers_mut();
    security_headers(h);
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/jsonl; charset=utf-8"));
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"latchkey-audit-{stamp}.jsonl\"")) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(res)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minutes_parse_as_utc() {
        assert_eq!(parse_minute("1970-01-01T00:00"), Some(0));
        assert_eq!(parse_minute("2026-11-27T13:45"), Some(1_795_787_100));
        assert_eq!(latchkey_core::calendar::rfc3339(1_795_787_100), "2026-11-27T13:45:00Z");
        assert_eq!(parse_minute("2024-02-29T23:59:59"), Some(1_709_251_199));
        for bad in ["", "2026-13-01T00:00", "2026-01-01", "2026-01-01T24:00", "x-y-zTa:b"] {
            assert_eq!(parse_minute(bad), None, "{bad}");
        }
    }

    #[test]
    fn unknown_kinds_and_bad_times_are_refused() {
        let f = Filter { kind: "login.sucess".into(), ..Default::default() };
        assert!(f.query().unwrap_err().contains("not a kind"));
        let f = Filter { since: "yesterday".into(), ..Default::default() };
        assert!(f.query().is_err());
        let f = Filter { kind: "login.success".into(), actor: " cli ".into(), ..Default::default() };
        let q = f.query().unwrap();
        assert_eq!((q.kind.as_deref(), q.actor.as_deref(), q.newest_first), (Some("login.success"), Some("cli"), true));
    }
}
