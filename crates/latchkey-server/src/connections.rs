//! Accepts and serves HTTP/1 connections with the bounds a server facing
//! the open internet needs: a client gets `header_read_timeout` to send a
//! request's headers (counted from its first byte, or from the accept), an
//! idle keep-alive connection closes after `idle_timeout`, headers larger
//! than `max_header_bytes` get `431`, and at most `max_connections`
//! connections are open at once (more wait in the kernel's accept queue).
//!
//! The two timeouts are separate on purpose: a load balancer keeps idle
//! connections to its backends open for a minute or more (nginx's upstream
//! `keepalive_timeout`, an AWS ALB's idle timeout: 60 s), and a backend that
//! closed them sooner would race its requests into errors. So the idle
//! limit is long and the header limit short.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tower::ServiceExt as _;

/// The bounds on connections (`[http]` in the configuration).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// Time to send a request's headers, from its first byte (or from the
    /// accept, for a connection's first request).
    pub header_read_timeout: Duration,
    /// An idle keep-alive connection is closed after this.
    pub idle_timeout: Duration,
    /// Request line and headers together; more is answered with `431`.
    pub max_header_bytes: usize,
    /// Connections open at once; more wait to be accepted.
    pub max_connections: u32,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        Self {
            header_read_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(75),
            max_header_bytes: 32 * 1024,
            max_connections: 4096,
        }
    }
}

/// Serves `app` on `listener` until `shutdown` resolves; then stops
/// accepting, lets every connection finish its request in flight, and
/// returns once all are closed.
pub async fn serve(listener: TcpListener, app: Router, limits: ConnectionLimits, shutdown: impl Future<Output = ()>) {
    let permits = Arc::new(Semaphore::new(limits.max_connections as usize));
    let (stop, stopped) = watch::channel(false);
    let mut shutdown = pin!(shutdown);
    let mut at_limit = false;
    loop {
        if permits.available_permits() == 0 && !at_limit {
            tracing::warn!(
                max_connections = limits.max_connections,
                "connection limit reached (http.max_connections): new connections wait to be accepted"
            );
        }
        at_limit = permits.available_permits() == 0;
        let permit = tokio::select! {
            biased;
            _ = &mut shutdown => break,
            permit = permits.clone().acquire_owned() => permit.expect("the semaphore is never closed"),
        };
        let (stream, peer) = tokio::select! {
            biased;
            _ = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors, say: wait a moment rather than spin.
                    tracing::warn!(error = %e, "cannot accept a connection");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        let _ = stream.set_nodelay(true);
        tokio::spawn(serve_connection(stream, peer, app.clone(), limits, stopped.clone(), permit));
    }
    drop(listener);
    let _ = stop.send(true);
    // Every connection holds a permit until it closes.
    let _ = permits.acquire_many(limits.max_connections).await;
}

async fn serve_connection(
    stream: TcpStream,
    peer: SocketAddr,
    app: Router,
    limits: ConnectionLimits,
    mut stop: watch::Receiver<bool>,
    _permit: OwnedSemaphorePermit,
) {
    metrics::gauge!("latchkey_http_connections_open").increment(1.0);
    let activity = Arc::new(Activity::new());
    let io = TokioIo::new(Tracked { inner: stream, activity: activity.clone() });
    let service = {
        let activity = activity.clone();
        hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
            // What `into_make_service_with_connect_info` would add: the
            // registration limit and the audit log use the peer address.
            req.extensions_mut().insert(ConnectInfo(peer));
            let busy = Busy::new(activity.clone());
            let response = app.clone().oneshot(req.map(Body::new));
            async move {
                let response = response.await;
                drop(busy);
                response
            }
        })
    };
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder.keep_alive(true).max_header_size(limits.max_header_bytes);
    let mut conn = pin!(builder.serve_connection(io, service));
    let mut closing = false;
    loop {
        tokio::select! {
            result = conn.as_mut() => {
                if let Err(e) = result {
                    tracing::debug!(error = %e, "connection ended with an error");
                }
                break;
            }
            _ = stop.wait_for(|stop| *stop), if !closing => {
                closing = true;
                conn.as_mut().graceful_shutdown();
            }
            expired = activity.expired(limits, !closing) => match expired {
                Expired::Idle => {
                    closing = true;
                    conn.as_mut().graceful_shutdown();
                }
                Expired::Headers => {
                    metrics::counter!("latchkey_http_connections_closed_total", "reason" => "header_timeout")
                        .increment(1);
                    tracing::debug!(%peer, "request headers not received in time: connection closed");
                    break;
                }
            },
        }
    }
    metrics::gauge!("latchkey_http_connections_open").decrement(1.0);
}

/// What a connection is doing, for its two timeouts.
struct Activity {
    opened: Instant,
    state: AtomicU8,
    /// Milliseconds after `opened` when `state` began.
    since_ms: AtomicU64,
    /// Wakes the watchdog when the state changes (its deadline moves).
    changed: tokio::sync::Notify,
}

/// Waiting for the next request.
const IDLE: u8 = 0;
/// Receiving a request's headers.
const HEADERS: u8 = 1;
/// A request is being answered (bounded by the request timeout).
const BUSY: u8 = 2;

#[derive(Debug, PartialEq, Eq)]
enum Expired {
    Idle,
    Headers,
}

impl Activity {
    fn new() -> Self {
        // A new connection owes its first request's headers.
        Self {
            opened: Instant::now(),
            state: AtomicU8::new(HEADERS),
            since_ms: AtomicU64::new(0),
            changed: tokio::sync::Notify::new(),
        }
    }

    fn now_ms(&self) -> u64 {
        self.opened.elapsed().as_millis() as u64
    }

    /// Bytes arrived: on an idle connection, a request has begun.
    fn on_read(&self) {
        if self.state.load(Ordering::Acquire) == IDLE {
            self.since_ms.store(self.now_ms(), Ordering::Release);
            if self.state.compare_exchange(IDLE, HEADERS, Ordering::AcqRel, Ordering::Acquire).is_ok() {
                self.changed.notify_one();
            }
        }
    }

    fn set(&self, state: u8) {
        self.since_ms.store(self.now_ms(), Ordering::Release);
        self.state.store(state, Ordering::Release);
        self.changed.notify_one();
    }

    /// Resolves when the current state has lasted too long: headers always,
    /// idleness only when `idle` (not once the connection is closing anyway).
    async fn expired(&self, limits: ConnectionLimits, idle: bool) -> Expired {
        loop {
            let state = self.state.load(Ordering::Acquire);
            let since = Duration::from_millis(self.since_ms.load(Ordering::Acquire));
            let deadline = match state {
                HEADERS => Some((since + limits.header_read_timeout, Expired::Headers)),
                IDLE if idle => Some((since + limits.idle_timeout, Expired::Idle)),
                _ => None,
            };
            let now = self.opened.elapsed();
            // Busy: no deadline here (the request timeout bounds it).
            let wait = match deadline {
                Some((at, expired)) if at <= now => return expired,
                Some((at, _)) => at - now,
                None => Duration::from_secs(3600),
            };
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = self.changed.notified() => {}
            }
        }
    }
}

/// Marks a connection busy while a request is answered, idle after.
struct Busy(Arc<Activity>);

impl Busy {
    fn new(activity: Arc<Activity>) -> Self {
        activity.set(BUSY);
        Self(activity)
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        self.0.set(IDLE);
    }
}

/// The socket, telling `Activity` when bytes arrive.
struct Tracked {
    inner: TcpStream,
    activity: Arc<Activity>,
}

impl AsyncRead for Tracked {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.activity.on_read();
        }
        polled
    }
}

impl AsyncWrite for Tracked {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> ConnectionLimits {
        ConnectionLimits {
            header_read_timeout: Duration::from_millis(40),
            idle_timeout: Duration::from_millis(120),
            ..ConnectionLimits::default()
        }
    }

    #[tokio::test]
    async fn a_new_connection_owes_its_headers_within_the_header_timeout() {
        let a = Activity::new();
        let started = Instant::now();
        assert_eq!(a.expired(limits(), true).await, Expired::Headers);
        assert!(started.elapsed() < Duration::from_millis(110), "{:?}", started.elapsed());
    }

    #[tokio::test]
    async fn an_idle_connection_has_the_longer_idle_timeout_and_a_busy_one_none() {
        let a = Arc::new(Activity::new());
        drop(Busy::new(a.clone()));
        let started = Instant::now();
        assert_eq!(a.expired(limits(), true).await, Expired::Idle);
        assert!(started.elapsed() >= Duration::from_millis(110), "{:?}", started.elapsed());
        // Busy: no deadline at all.
        let busy = Busy::new(a.clone());
        let waited = tokio::time::timeout(Duration::from_millis(300), a.expired(limits(), true)).await;
        assert!(waited.is_err(), "a request in flight is bounded by the request timeout, not here");
        drop(busy);
        // Bytes on an idle connection start the header clock, even for a
        // watchdog already waiting for the (later) idle deadline.
        let waiting = {
            let a = a.clone();
            tokio::spawn(async move { a.expired(limits(), true).await })
        };
        tokio::time::sleep(Duration::from_millis(20)).await;
        let started = Instant::now();
        a.on_read();
        assert_eq!(waiting.await.unwrap(), Expired::Headers);
        assert!(started.elapsed() < Duration::from_millis(100), "{:?}", started.elapsed());
    }
}
