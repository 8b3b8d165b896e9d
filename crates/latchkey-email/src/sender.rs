//! The sender: delivers the outbox, one claimed row at a time.

use std::sync::Arc;
use std::time::Duration;

use latchkey_core::Clock;
use latchkey_store::{OutboxEmail, OutboxStore, StoreError};
use lettre::AsyncTransport;
use lettre::message::{Mailbox, MultiPart};
use tokio::sync::Notify;

use crate::SmtpTarget;

/// How often an idle sender looks for due email that another replica
/// queued (its own queue wakes it at once).
const POLL: Duration = Duration::from_secs(2);
/// The first wait after a failure; it doubles each time, up to [`MAX_WAIT`].
const FIRST_WAIT: i64 = 5;
const MAX_WAIT: i64 = 3_600;

/// Delivers the outbox over SMTP. Every replica runs one.
pub struct Sender {
    store: Arc<dyn OutboxStore>,
    target: SmtpTarget,
    clock: Arc<dyn Clock>,
    wake: Arc<Notify>,
    max_attempts: u32,
    timeout: Duration,
}

/// What became of one claimed email.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Sent,
    /// Tried again later.
    Retry,
    /// Given up: the server refused it for good, or attempts ran out.
    Dropped,
}

impl Sender {
    pub fn new(
        store: Arc<dyn OutboxStore>,
        target: SmtpTarget,
        clock: Arc<dyn Clock>,
        wake: Arc<Notify>,
        settings: &latchkey_config::Email,
    ) -> Self {
        Self {
            store,
            target,
            clock,
            wake,
            max_attempts: settings.max_attempts,
            timeout: Duration::from_secs(settings.timeout_seconds.get()),
        }
    }

    /// Runs until the task is aborted.
    pub async fn run(self) {
        tracing::info!(smtp = %self.target.display, "email sender started");
        loop {
            match self.send_next().await {
                Ok(Some(_)) => continue,
                Ok(None) => {}
                Err(e) => tracing::warn!(error = %e, "cannot read the outbox"),
            }
            tokio::select! {
                _ = self.wake.notified() => {}
                _ = tokio::time::sleep(POLL) => {}
            }
        }
    }

    /// Claims the next due email and tries to deliver it; `None` when
    /// nothing is due.
    pub async fn send_next(&self) -> Result<Option<Outcome>, StoreError> {
        let now = self.clock.now();
        let lease = latchkey_core::random::token(16);
        // Long enough for a connection and every command to time out.
        let lease_until = now + 6 * self.timeout.as_secs() as i64 + 30;
        let Some(email) = self.store.claim_email(&lease, now, lease_until).await? else {
            return Ok(None);
        };
        if email.recipient == crate::DECOY {
            self.store.delete_email(&email.id, &lease).await?;
            return Ok(Some(Outcome::Dropped));
        }
        let outcome = match self.deliver(&email).await {
            Ok(()) => {
                self.store.delete_email(&email.id, &lease).await?;
                tracing::info!(email_id = %email.id, attempts = email.attempts, "email sent");
                Outcome::Sent
            }
            Err((error, permanent)) if permanent || email.attempts >= self.max_attempts => {
                self.store.delete_email(&email.id, &lease).await?;
                tracing::error!(email_id = %email.id, attempts = email.attempts, %error, "email given up");
                Outcome::Dropped
            }
            Err((error, _)) => {
                let wait = (FIRST_WAIT << (email.attempts.saturating_sub(1)).min(20)).min(MAX_WAIT);
                self.store.reschedule_email(&email.id, &lease, self.clock.now() + wait, &error).await?;
                tracing::warn!(email_id = %email.id, attempts = email.attempts, retry_in_s = wait, %error, "email not sent; will retry");
                Outcome::Retry
            }
        };
        let label = match outcome {
            Outcome::Sent => "sent",
            Outcome::Retry => "retry",
            Outcome::Dropped => "dropped",
        };
        metrics::counter!("latchkey_emails_total", "outcome" => label).increment(1);
        Ok(Some(outcome))
    }

    /// Sends one email; on failure, why and whether it is final.
    async fn deliver(&self, email: &OutboxEmail) -> Result<(), (String, bool)> {
        let to: Mailbox = email.recipient.parse().map_err(|e| (format!("bad recipient: {e}"), true))?;
        let message = lettre::Message::builder()
            .from(self.target.from.clone())
            .to(to)
            .subject(email.subject.clone())
            .multipart(MultiPart::alternative_plain_html(email.text_body.clone(), email.html_body.clone()))
            .map_err(|e| (format!("cannot build the message: {e}"), true))?;
        // lettre bounds each command; this bounds the whole exchange.
        match tokio::time::timeout(4 * self.timeout, self.target.transport.send(message)).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => Err((e.to_string(), e.is_permanent())),
            Err(_) => Err(("timed out".into(), false)),
        }
    }
}
