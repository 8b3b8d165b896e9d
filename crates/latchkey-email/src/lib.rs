//! Outgoing email (docs/self-service.md). Operations queue a rendered
//! message in the stored outbox ([`Outbox::enqueue`]); every replica runs a
//! [`Sender`] that claims due rows one at a time (one conditional `UPDATE`
//! with a lease, so no two replicas send the same row), delivers them over
//! SMTP within a timeout, and on failure tries again later with doubling
//! waits. A restart loses nothing: what was not sent is still in the table,
//! and a row whose sender died is claimed again when its lease ends.

pub mod messages;
mod sender;
mod transport;

use std::sync::Arc;

use latchkey_core::Clock;
use latchkey_store::{OutboxEmail, OutboxStore, StoreError};
use tokio::sync::Notify;

pub use latchkey_overrides::Overrides;
pub use messages::Rendered;
pub use sender::{Outcome, Sender};
pub use transport::{SmtpTarget, TransportError};

/// The recipient of a decoy: an outbox row that makes the same writes as a
/// real email (so that a request's timing does not tell whether it named
/// an account) and that the sender deletes without sending.
pub const DECOY: &str = "";

/// Queues emails. Present only when email is configured.
pub struct Outbox {
    store: Arc<dyn OutboxStore>,
    clock: Arc<dyn Clock>,
    /// Wakes this process's sender at once (others find the row at their next poll).
    wake: Arc<Notify>,
}

impl Outbox {
    pub fn new(store: Arc<dyn OutboxStore>, clock: Arc<dyn Clock>) -> Self {
        Self { store, clock, wake: Arc::new(Notify::new()) }
    }

    /// What wakes the sender when something is queued.
    pub fn wake(&self) -> Arc<Notify> {
        self.wake.clone()
    }

    /// Stores `message` for `to`, due now.
    pub async fn enqueue(&self, to: &str, message: Rendered) -> Result<(), StoreError> {
        let now = self.clock.now();
        let email = OutboxEmail {
            id: latchkey_core::random::token(16),
            recipient: to.to_string(),
            subject: message.subject,
            text_body: message.text,
            html_body: message.html,
            attempts: 0,
            next_attempt_at: now,
            lease: String::new(),
            last_error: String::new(),
            created_at: now,
        };
        self.store.enqueue_email(&email).await?;
        metrics::counter!("latchkey_emails_queued_total").increment(1);
        self.wake.notify_one();
        Ok(())
    }
}
