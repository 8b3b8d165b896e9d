//! What this server knows about its stores: whether the SQL database and
//! Redis answer, and whether writes to the database succeed. A background
//! probe keeps it current (a ping on a connection of its own every second,
//! every 100 ms while something is wrong, and at once when a request's store
//! call failed; a small write now and then, rate-limited), and requests read
//! it: `Guarded` fails fast on a backend that is down, `/readyz` reports it.
//!
//! A backend is marked down only by the probe, never by a failed request
//! alone: a busy pool that times out must not turn overload into an outage.
//! It is marked up by the probe or by any call that succeeded on it (a
//! Redis command retried on a fresh connection after a restart counts).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use latchkey_core::Clock;
use latchkey_store::StoreError;
use latchkey_store_redis::{Backends, RedisStore};
use latchkey_store_sql::SqlProbe;
use tokio::sync::{Notify, watch};

/// Probe interval while all is well, and while something is wrong.
const PROBE_EVERY: Duration = Duration::from_secs(1);
const PROBE_EVERY_WHEN_DOWN: Duration = Duration::from_millis(100);
/// The write probe: every 10 s while writes succeed; while they fail (or
/// just after a request's write failed), at most every 250 ms.
const WRITE_PROBE_EVERY: Duration = Duration::from_secs(10);
const WRITE_PROBE_AT_MOST_EVERY: Duration = Duration::from_millis(250);

/// One backend: up or down, with a channel that in-flight reads wait on.
struct Backend {
    name: &'static str,
    up: AtomicBool,
    changed: watch::Sender<bool>,
    since: std::sync::Mutex<Instant>,
    /// A read is trying the backend although it is marked down.
    trial: AtomicBool,
}

impl Backend {
    fn new(name: &'static str) -> Self {
        Self {
            name,
            up: AtomicBool::new(true),
            changed: watch::Sender::new(true),
            since: Instant::now().into(),
            trial: AtomicBool::new(false),
        }
    }

    fn is_up(&self) -> bool {
        self.up.load(Ordering::Acquire)
    }

    /// Records the state; logs and counts a change.
    fn set(&self, up: bool, error: Option<&StoreError>) {
        if self.up.swap(up, Ordering::AcqRel) == up {
            return;
        }
        self.changed.send_replace(up);
        let lasted = {
            let mut since = self.since.lock().unwrap_or_else(|p| p.into_inner());
            std::mem::replace(&mut *since, Instant::now()).elapsed()
        };
        metrics::gauge!("latchkey_store_up", "backend" => self.name).set(if up { 1.0 } else { 0.0 });
        if up {
            tracing::info!(backend = self.name, down_ms = lasted.as_millis() as u64, "{} answers again", self.name);
        } else {
            let error = error.map(ToString::to_string).unwrap_or_default();
            tracing::error!(
                backend = self.name,
                %error,
                "{} does not answer; requests that need it fail fast with 503 until it does",
                self.name
            );
        }
    }

    /// Resolves when this backend goes down.
    async fn goes_down(&self) {
        let mut rx = self.changed.subscribe();
        if rx.wait_for(|up| !up).await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

/// A write that failed for lack of space keeps the server unready this
/// long: on PostgreSQL, small writes into pages with room left still
/// succeed while inserts that need a new page fail, and readiness must not
/// flap with them.
const FULL_DISK_HOLD: Duration = Duration::from_secs(1);

/// The health of this server's stores, shared by the probe, `Guarded` and `/readyz`.
pub struct StoreHealth {
    database: Backend,
    redis: Option<Backend>,
    writes_ok: AtomicBool,
    /// When a request's write last failed for lack of space.
    disk_full_at: std::sync::Mutex<Option<Instant>>,
    /// Wakes the probe (a request's store call failed).
    wake: Notify,
}

/// The right to try a backend that is marked down (see `StoreHealth::trial`).
pub struct Trial<'a>(&'a Backend);

impl Drop for Trial<'_> {
    fn drop(&mut self) {
        self.0.trial.store(false, Ordering::Release);
    }
}

/// What `/readyz` reports for one backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Condition {
    Ok,
    Unreachable,
    /// It answers, but writes fail (a full disk, a read-only standby).
    WritesFailing,
}

impl Condition {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Unreachable => "unreachable",
            Self::WritesFailing => "writes_failing",
        }
    }
}

impl StoreHealth {
    pub fn new(with_redis: bool) -> Arc<Self> {
        metrics::gauge!("latchkey_store_up", "backend" => "database").set(1.0);
        if with_redis {
            metrics::gauge!("latchkey_store_up", "backend" => "redis").set(1.0);
        }
        Arc::new(Self {
            database: Backend::new("database"),
            redis: with_redis.then(|| Backend::new("redis")),
            writes_ok: AtomicBool::new(true),
            disk_full_at: std::sync::Mutex::new(None),
            wake: Notify::new(),
        })
    }

    fn backends(&self, needs: Backends) -> impl Iterator<Item = &Backend> {
        let db = needs.sql.then_some(&self.database);
        let redis = self.redis.as_ref().filter(|_| needs.redis);
        db.into_iter().chain(redis)
    }

    /// The name of a backend among `needs` that is down, if any.
    pub fn down_among(&self, needs: Backends) -> Option<&'static str> {
        self.backends(needs).find(|b| !b.is_up()).map(|b| b.name)
    }

    /// While a backend among `needs` is down, one read at a time may still
    /// try it (a half-open circuit breaker): the first request after the
    /// store is back then succeeds instead of waiting for the probe. Returns
    /// the trial's permit, released on drop; None if another read is trying.
    pub fn trial(&self, needs: Backends) -> Option<Trial<'_>> {
        let mut down = self.backends(needs).filter(|b| !b.is_up());
        let backend = down.next()?;
        if down.next().is_some() {
            return None; // both stores down: nothing to learn from one read
        }
        backend.trial.compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire).ok()?;
        Some(Trial(backend))
    }

    /// Resolves, with its name, when a backend among `needs` goes down.
    pub async fn goes_down(&self, needs: Backends) -> &'static str {
        let redis = self.redis.as_ref().filter(|_| needs.redis);
        tokio::select! {
            _ = self.database.goes_down(), if needs.sql => self.database.name,
            _ = async { redis.expect("guarded by the condition").goes_down().await }, if redis.is_some() => "redis",
        }
    }

    /// A store call among `needs` succeeded: those backends answer.
    pub fn call_succeeded(&self, needs: Backends) {
        for b in self.backends(needs) {
            if !b.is_up() {
                b.set(true, None);
            }
        }
    }

    /// A store call failed as unavailable: probe now. A write that failed
    /// for lack of space makes the server unready at once.
    pub fn call_failed(&self, write: bool, error: &StoreError) {
        if write && is_disk_full(&error.to_string()) {
            *self.disk_full_at.lock().unwrap_or_else(|p| p.into_inner()) = Some(Instant::now());
            self.set_writes(false, Some(error));
        }
        self.wake.notify_one();
    }

    /// Whether a request's write failed for lack of space just now.
    fn disk_recently_full(&self) -> bool {
        self.disk_full_at.lock().unwrap_or_else(|p| p.into_inner()).is_some_and(|at| at.elapsed() < FULL_DISK_HOLD)
    }

    pub fn database(&self) -> Condition {
        if !self.database.is_up() {
            Condition::Unreachable
        } else if !self.writes_ok.load(Ordering::Acquire) {
            Condition::WritesFailing
        } else {
            Condition::Ok
        }
    }

    pub fn redis(&self) -> Option<Condition> {
        self.redis.as_ref().map(|r| if r.is_up() { Condition::Ok } else { Condition::Unreachable })
    }

    /// Ready for traffic: every backend answers and writes succeed.
    pub fn ready(&self) -> bool {
        self.database() == Condition::Ok && self.redis().is_none_or(|r| r == Condition::Ok)
    }

    fn set_writes(&self, ok: bool, error: Option<&StoreError>) {
        if self.writes_ok.swap(ok, Ordering::AcqRel) == ok {
            return;
        }
        metrics::gauge!("latchkey_store_writable", "backend" => "database").set(if ok { 1.0 } else { 0.0 });
        if ok {
            tracing::info!("database writes succeed again");
        } else {
            let error = error.map(ToString::to_string).unwrap_or_default();
            let full = is_disk_full(&error);
            tracing::error!(
                %error,
                disk_full = full,
                "{}; requests that write answer 503 until writes succeed again",
                if full { "the database's disk is full" } else { "database writes are failing" }
            );
        }
    }
}

/// Whether a database error says the disk (or the database) is full:
/// SQLite's `SQLITE_FULL`, PostgreSQL's `disk_full` / ENOSPC.
fn is_disk_full(error: &str) -> bool {
    ["disk full", "No space left", "53100", "(code: 13)"].iter().any(|s| error.contains(s))
}

/// Runs the probe until the process ends. A refused connection counts as
/// down at once; a store that answers slowly counts as down only after
/// `sql`'s timeout (the pool's acquire timeout) or `redis`'s (the command
/// timeout): what a request would have waited anyway. So an overloaded
/// server is not mistaken for an outage.
pub fn spawn_probe(
    health: Arc<StoreHealth>,
    sql: SqlProbe,
    redis: Option<(RedisStore, Duration)>,
    clock: Arc<dyn Clock>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut last_write_probe: Option<Instant> = None;
        let mut woken = false;
        loop {
            let started = Instant::now();
            let ping = sql.ping().await;
            metrics::histogram!("latchkey_store_ping_seconds", "backend" => "database")
                .record(started.elapsed().as_secs_f64());
            health.database.set(ping.is_ok(), ping.as_ref().err());
            if ping.is_ok() {
                let since = last_write_probe.map(|t| t.elapsed());
                let due = match since {
                    None => true,
                    // Not before the hold is over: the probe could only say "ok" too early.
                    Some(_) if health.disk_recently_full() => false,
                    Some(s) if !health.writes_ok.load(Ordering::Acquire) || woken => s >= WRITE_PROBE_AT_MOST_EVERY,
                    Some(s) => s >= WRITE_PROBE_EVERY,
                };
                if due {
                    last_write_probe = Some(Instant::now());
                    let write = sql.write(clock.now()).await;
                    // Unreachable now is an outage, not a write failure.
                    match &write {
                        Err(StoreError::Unavailable(_)) if sql.ping().await.is_err() => {}
                        Ok(()) if health.disk_recently_full() => {}
                        _ => health.set_writes(write.is_ok(), write.as_ref().err()),
                    }
                }
            }
            if let (Some((redis, timeout)), Some(state)) = (&redis, &health.redis) {
                let started = Instant::now();
                let ping = match tokio::time::timeout(*timeout, redis.ping_redis()).await {
                    Ok(result) => result,
                    Err(_) => Err(StoreError::Unavailable(format!("no answer within {} ms", timeout.as_millis()))),
                };
                metrics::histogram!("latchkey_store_ping_seconds", "backend" => "redis")
                    .record(started.elapsed().as_secs_f64());
                state.set(ping.is_ok(), ping.as_ref().err());
            }
            let interval = if health.ready() { PROBE_EVERY } else { PROBE_EVERY_WHEN_DOWN };
            woken = tokio::select! {
                _ = tokio::time::sleep(interval) => false,
                _ = health.wake.notified() => true,
            };
            if woken {
                // A burst of failed calls wakes the probe once, not per call.
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SQL: Backends = Backends { sql: true, redis: false };
    const REDIS: Backends = Backends { sql: false, redis: true };

    #[tokio::test]
    async fn a_backend_that_goes_down_stops_the_calls_waiting_on_it_and_only_those() {
        let h = StoreHealth::new(true);
        assert_eq!(h.down_among(SQL), None);
        let waiting = {
            let h = h.clone();
            tokio::spawn(async move { h.goes_down(SQL).await })
        };
        let other = {
            let h = h.clone();
            tokio::spawn(async move { h.goes_down(REDIS).await })
        };
        tokio::task::yield_now().await;
        h.database.set(false, Some(&StoreError::Unavailable("refused".into())));
        assert_eq!(waiting.await.unwrap(), "database");
        assert_eq!(h.down_among(Backends { sql: true, redis: true }), Some("database"));
        assert_eq!(h.down_among(REDIS), None, "Redis is still up");
        assert!(!h.ready());
        assert_eq!(h.database(), Condition::Unreachable);
        // One read at a time may try it.
        let trial = h.trial(SQL).expect("a trial");
        assert!(h.trial(SQL).is_none(), "one at a time");
        drop(trial);
        assert!(h.trial(SQL).is_some());
        assert!(h.trial(REDIS).is_none(), "Redis is up: no trial needed");
        // A call that succeeded on it brings it back.
        h.call_succeeded(SQL);
        assert!(h.ready());
        assert!(!other.is_finished());
        other.abort();
    }

    #[test]
    fn failed_writes_make_the_server_unready_and_say_when_the_disk_is_full() {
        let h = StoreHealth::new(false);
        h.set_writes(false, Some(&StoreError::Unavailable("(code: 13) database or disk full".into())));
        assert_eq!(h.database(), Condition::WritesFailing);
        assert!(!h.ready());
        assert!(is_disk_full("(code: 13) database or disk full"));
        assert!(is_disk_full("could not extend file \"base/1/2\": No space left on device"));
        assert!(!is_disk_full("(code: 5) database is locked"));
        h.set_writes(true, None);
        assert!(h.ready());
    }
}
