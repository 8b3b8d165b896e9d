//! The connection every command goes through: Redis's `ConnectionManager`,
//! plus one retry on a fresh connection when the old one turns out dead.
//!
//! After a Redis restart the manager's connection is dead, or is the failed
//! reconnect attempt of a request made during the outage; the manager only
//! notices on the next command, fails it, and reconnects. Without a retry the
//! first request on every replica after Redis is back gets a 503.

use redis::aio::{ConnectionLike, ConnectionManager};
use redis::{Cmd, Pipeline, RedisError, RedisFuture, Value};

/// A `ConnectionManager` whose commands are retried once, on the connection
/// the manager opens after the failure, if the first attempt failed because
/// the connection was dead or could not be made. Not retried: time-outs (a
/// Redis that does not answer should fail fast, and the command may be
/// running) and every answer Redis gave.
#[derive(Clone)]
pub(crate) struct RetryingConnection(pub(crate) ConnectionManager);

/// A dead or refused connection: the manager has started a new one. After a
/// restart the command never reached the new Redis, so running it there is
/// safe. Only if a live connection broke while the command was in flight
/// could it have run already; a single-use script re-run then answers "used"
/// for a request that was failing anyway.
fn worth_retrying(e: &RedisError) -> bool {
    e.is_io_error() && !e.is_timeout()
}

impl ConnectionLike for RetryingConnection {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        Box::pin(async move {
            match self.0.send_packed_command(cmd).await {
                Err(e) if worth_retrying(&e) => {
                    metrics::counter!("latchkey_store_retries_total", "backend" => "redis").increment(1);
                    self.0.send_packed_command(cmd).await
                }
                result => result,
            }
        })
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        Box::pin(async move {
            match self.0.send_packed_commands(pipeline, offset, count).await {
                Err(e) if worth_retrying(&e) => {
                    metrics::counter!("latchkey_store_retries_total", "backend" => "redis").increment(1);
                    self.0.send_packed_commands(pipeline, offset, count).await
                }
                result => result,
            }
        })
    }

    fn get_db(&self) -> i64 {
        self.0.get_db()
    }
}
