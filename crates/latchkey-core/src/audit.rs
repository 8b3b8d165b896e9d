//! Audit events: what happened, who did it, to what. Never secrets: callers
//! put ids and outcomes in `details`, not passwords or tokens.

use serde::{Deserialize, Serialize};

/// Every kind of event Latchkey records (docs/operations.md, "Audit log",
/// describes each), so that a filter with a typo is an error, not an empty list.
pub const KINDS: &[&str] = &[
    "login.success",
    "login.step_up",
    "login.failure",
    "login.throttled",
    "login.locked",
    "consent.granted",
    "consent.revoked",
    "token_family.revoked",
    "token.exchanged",
    "client.created",
    "client.updated",
    "client.deleted",
    "client.secret_rotated",
    "user.created",
    "user.updated",
    "user.password_set",
    "user.disabled",
    "user.enabled",
    "user.deleted",
    "user.provisioned",
    "user.unlocked",
    "session.revoked",
    "identity.linked",
    "identity.unlinked",
    "password.changed",
    "password.change_failed",
    "password.reset_requested",
    "password.reset",
    "email.verification_sent",
    "email.verified",
    "email.changed",
    "signup.created",
    "signup.address_taken",
    "invitation.created",
    "invitation.accepted",
    "invitation.revoked",
    "mfa.enrollment_started",
    "mfa.enrolled",
    "mfa.passkey_registered",
    "mfa.passkey_removed",
    "mfa.passkey_used",
    "mfa.failure",
    "mfa.recovery_code_used",
    "mfa.recovery_codes_generated",
    "mfa.removed",
    "key.rotated",
    "key.retired",
    "admin_token.created",
    "admin_token.revoked",
    "console.signed_in",
    "console.refused",
    "console.signed_out",
];

/// One security-relevant event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEvent {
    /// Unix seconds.
    pub at: i64,
    /// What happened, e.g. `login.failure`, `client.deleted` (docs/operations.md lists them).
    pub kind: String,
    /// Who did it: `user:<id>`, `client:<id>`, `cli`, `anonymous`.
    pub actor: String,
    /// What it was done to (a user, client or key id), if anything.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// The source address, for events that arrive over HTTP.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip: Option<String>,
    /// Anything else worth keeping (a JSON object).
    #[serde(default)]
    pub details: serde_json::Value,
}

impl AuditEvent {
    pub fn new(at: i64, kind: &str, actor: impl Into<String>) -> Self {
        Self {
            at,
            kind: kind.to_string(),
            actor: actor.into(),
            subject: None,
            client_id: None,
            ip: None,
            details: serde_json::Value::Object(Default::default()),
        }
    }

    pub fn subject(mut self, subject: impl Into<String>) -> Self {
        self.subject = Some(subject.into());
        self
    }

    pub fn client(mut self, client_id: impl Into<String>) -> Self {
        self.client_id = Some(client_id.into());
        self
    }

    pub fn ip(mut self, ip: impl ToString) -> Self {
        self.ip = Some(ip.to_string());
        self
    }

    pub fn detail(mut self, key: &str, value: impl Into<serde_json::Value>) -> Self {
        if let Some(map) = self.details.as_object_mut() {
            map.insert(key.to_string(), value.into());
        }
        self
    }
}
