//! Authentication context classes (`acr`, OpenID Connect Core §2) and how
//! strong each is: a password < a password and a second factor (`mfa`) <
//! a phishing-resistant factor (`phr`, a passkey). Requests (`acr_values`),
//! client registrations (`default_acr_values`) and sessions are compared by
//! this order.

/// A password (or any one factor).
pub const ACR_PASSWORD: &str = "urn:latchkey:acr:password";
/// Two factors: a password and a one-time code.
pub const ACR_MFA: &str = "urn:latchkey:acr:mfa";
/// Phishing-resistant (a passkey), as the OpenID Foundation's EAP ACR
/// values name it.
pub const ACR_PHR: &str = "phr";
/// A sign-in at an upstream provider that sent no `acr` we act on.
pub const ACR_FEDERATED: &str = "urn:latchkey:acr:federated";

/// How strong a sign-in is, ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    /// One factor: a password, or an upstream sign-in not trusted for more.
    Single,
    /// Two factors.
    Mfa,
    /// Phishing-resistant.
    PhishingResistant,
}

impl Level {
    /// The `acr` a session of this level carries (a federated single-factor
    /// session keeps [`ACR_FEDERATED`]; see `of_session`).
    pub fn acr(self) -> &'static str {
        match self {
            Self::Single => ACR_PASSWORD,
            Self::Mfa => ACR_MFA,
            Self::PhishingResistant => ACR_PHR,
        }
    }

    /// The level an `acr` value names, if it is one of ours.
    pub fn of(acr: &str) -> Option<Self> {
        match acr {
            ACR_PASSWORD | ACR_FEDERATED => Some(Self::Single),
            ACR_MFA => Some(Self::Mfa),
            ACR_PHR => Some(Self::PhishingResistant),
            _ => None,
        }
    }

    /// The level of a session's `acr`: anything we did not issue counts as
    /// one factor.
    pub fn of_session(acr: &str) -> Self {
        Self::of(acr).unwrap_or(Self::Single)
    }

    /// What a list of `acr` values asks for: any of them satisfies the
    /// request, so the weakest one we know. Values we do not know are
    /// ignored (OpenID Connect Core §3.1.2.1: voluntary); `None` when none
    /// is known.
    pub fn wanted<S: AsRef<str>>(values: &[S]) -> Option<Self> {
        values.iter().filter_map(|v| Self::of(v.as_ref())).min()
    }
}

/// Every `acr` value this server knows (registrations may name these in
/// `default_acr_values`).
pub const KNOWN: [&str; 4] = [ACR_PASSWORD, ACR_MFA, ACR_PHR, ACR_FEDERATED];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_are_ordered_and_unknown_values_are_ignored() {
        assert!(Level::Single < Level::Mfa && Level::Mfa < Level::PhishingResistant);
        assert_eq!(Level::wanted(&[ACR_PHR, ACR_MFA]), Some(Level::Mfa), "any listed value satisfies");
        assert_eq!(Level::wanted(&["urn:other", ACR_PHR]), Some(Level::PhishingResistant));
        assert_eq!(Level::wanted(&["urn:other"]), None);
        assert_eq!(Level::wanted::<&str>(&[]), None);
        assert_eq!(Level::of_session("urn:upstream:gold"), Level::Single, "an upstream's own acr is one factor");
        assert_eq!(Level::of_session(ACR_FEDERATED), Level::Single);
        for acr in KNOWN {
            assert!(Level::of(acr).is_some());
        }
        assert_eq!(Level::Mfa.acr(), ACR_MFA);
    }
}
