//! Which backend each store operation needs when Redis holds the hot state,
//! so that a server can fail fast on the operations of a backend it knows
//! is down, and serve the others (with Redis down, client credentials still
//! work; with the SQL database down, a signed-in session is still
//! recognised). Read off `latchkey_store::Split`'s routing: each operation
//! is served by one half, and the cascades that cross the two are made of
//! such operations.

use latchkey_store::{Half, Split};

/// The backends one operation touches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backends {
    pub sql: bool,
    pub redis: bool,
}

/// What `op` (a store trait method's name, or `begin`, `commit`,
/// `rollback`) needs in a deployment with Redis.
pub fn backends_of(op: &str) -> Backends {
    match Split::half_of(op) {
        Half::Hot => Backends { sql: false, redis: true },
        Half::Durable => Backends { sql: true, redis: false },
        Half::Both => Backends { sql: true, redis: true },
    }
}
