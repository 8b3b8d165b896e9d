//! The SMTP transport `email.smtp_url` names.

use std::time::Duration;

use lettre::message::Mailbox;
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, Tokio1Executor};
use percent_encoding::percent_decode_str;

/// Why the transport could not be built (the config was checked at load,
/// so these are rare: an unusable TLS setup, a bad address).
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    #[error("email.smtp_url: {0}")]
    Url(String),
    #[error("email.from: {0}")]
    From(String),
    #[error("email.smtp_url: cannot set up TLS: {0}")]
    Tls(String),
}

/// Where and how to send: the transport and the sender's address.
#[derive(Clone)]
pub struct SmtpTarget {
    pub transport: AsyncSmtpTransport<Tokio1Executor>,
    pub from: Mailbox,
    /// For logs: the URL without its password.
    pub display: String,
}

impl SmtpTarget {
    /// The transport of `[email]`; `None` when email is not configured.
    pub fn from_config(email: &latchkey_config::Email) -> Result<Option<Self>, TransportError> {
        let Some(raw) = email.smtp_url.as_deref().filter(|_| email.enabled()) else {
            return Ok(None);
        };
        let url = url::Url::parse(raw).map_err(|e| TransportError::Url(e.to_string()))?;
        let host = url.host_str().filter(|h| !h.is_empty()).ok_or_else(|| TransportError::Url("no host".into()))?;
        let host = host.trim_start_matches('[').trim_end_matches(']');
        type T = AsyncSmtpTransport<Tokio1Executor>;
        let builder = match url.scheme() {
            // Plain: for a relay on this host or a trusted network.
            "smtp" => T::builder_dangerous(host).port(url.port().unwrap_or(25)),
            "smtp+starttls" => {
                T::starttls_relay(host).map_err(|e| TransportError::Tls(e.to_string()))?.port(url.port().unwrap_or(587))
            }
            "smtps" => T::relay(host).map_err(|e| TransportError::Tls(e.to_string()))?.port(url.port().unwrap_or(465)),
            other => return Err(TransportError::Url(format!("unsupported scheme {other:?}"))),
        };
        let decode = |s: &str| percent_decode_str(s).decode_utf8_lossy().into_owned();
        let user = match url.username() {
            "" => email.smtp_username.clone(),
            u => Some(decode(u)),
        };
        let password = url.password().map(decode).or_else(|| email.smtp_password.clone());
        let mut builder = builder.timeout(Some(Duration::from_secs(email.timeout_seconds.get())));
        if let Some(user) = user {
            builder = builder.credentials(Credentials::new(user, password.unwrap_or_default()));
        }
        let from: Mailbox = email.from.trim().parse().map_err(|e: lettre::address::AddressError| {
            TransportError::From(format!("{:?} is not an address: {e}", email.from))
        })?;
        Ok(Some(Self { transport: builder.build(), from, display: latchkey_config::settings::redact(raw) }))
    }
}
