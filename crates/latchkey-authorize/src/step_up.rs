//! What a request needs of the sign-in (docs/mfa.md, "Who must give a
//! second factor"), compared with what the person has given and could give.
//!
//! Two kinds of need. The operator's policy (`mfa.required`,
//! `mfa.required_groups`) and the client's registration (`require_mfa`,
//! `default_acr_values` when the request names no `acr_values`) are
//! *required*: a session below them is stepped up, a person without the
//! factor sets one up (a second factor) or the client gets
//! `unmet_authentication_requirements` (a passkey cannot be set up in the
//! middle of a sign-in). A request's `acr_values` are *wanted* (voluntary,
//! OpenID Connect Core §3.1.2.1): the person gives the strongest factor they
//! have up to what is asked, and the ID token's `acr` says what was done.
//! The `claims` parameter's `acr` is wanted too, or required when marked
//! essential (§5.5.1.1).

use latchkey_core::acr::Level;
use latchkey_core::{Client, User};

use crate::AuthorizeSettings;
use crate::request::{AskedAcr, AuthorizationRequest};

/// What a request needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Needs {
    /// By the operator's policy or the client's registration.
    pub required: Level,
    /// By the request's `acr_values`.
    pub wanted: Level,
}

impl Needs {
    pub fn of(settings: &AuthorizeSettings, client: &Client, req: &AuthorizationRequest, user: &User) -> Self {
        let mut required = Level::Single;
        if settings.mfa.required_for(&user.claims.groups) || client.settings.require_mfa {
            required = Level::Mfa;
        }
        // Registered defaults stand in for a request that names none (OpenID
        // Connect Registration §2).
        let asked = req.asked_acr();
        if asked.is_none()
            && let Some(level) = Level::wanted(&client.settings.default_acr_values)
        {
            required = required.max(level);
        }
        let mut wanted = Level::wanted(&req.acr_values).unwrap_or(Level::Single);
        // The claims parameter's `acr` (OIDC Core §5.5.1.1): wanted, or
        // required when essential.
        match asked {
            Some(AskedAcr { values, essential: true }) => {
                required = required.max(Level::wanted(&values).unwrap_or(Level::Single));
            }
            Some(AskedAcr { values, essential: false }) => {
                wanted = wanted.max(Level::wanted(&values).unwrap_or(Level::Single));
            }
            None => {}
        }
        Self { required, wanted }
    }
}

/// What comes next for a person who has given `have` and could give up to
/// `capability`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Next {
    /// Enough: on with the flow.
    Proceed,
    /// Ask for the missing factor (the second sign-in page).
    Ask,
    /// A second factor is required and the person has none: set one up now.
    Enroll,
    /// Required and impossible here: `unmet_authentication_requirements`.
    Unmet,
}

pub(crate) fn next(needs: Needs, capability: Level, have: Level) -> Next {
    if needs.required > capability.max(have) {
        return if needs.required == Level::Mfa { Next::Enroll } else { Next::Unmet };
    }
    let goal = needs.required.max(needs.wanted.min(capability));
    if have >= goal { Next::Proceed } else { Next::Ask }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Level::*;

    fn needs(required: Level, wanted: Level) -> Needs {
        Needs { required, wanted }
    }

    #[test]
    fn requirements_step_up_enroll_or_are_unmet_and_wishes_take_what_the_person_has() {
        // Nothing asked: a password is enough.
        assert_eq!(next(needs(Single, Single), Mfa, Single), Next::Proceed);
        // acr_values mfa: asked of a person with an app, not of one without.
        assert_eq!(next(needs(Single, Mfa), Mfa, Single), Next::Ask);
        assert_eq!(next(needs(Single, Mfa), Single, Single), Next::Proceed);
        assert_eq!(next(needs(Single, Mfa), Mfa, Mfa), Next::Proceed, "the session has it already");
        // acr_values phr from a person with an app only: the app, the best they have.
        assert_eq!(next(needs(Single, PhishingResistant), Mfa, Single), Next::Ask);
        assert_eq!(next(needs(Single, PhishingResistant), Mfa, Mfa), Next::Proceed);
        // Required: a person without a factor sets one up; with one, gives it.
        assert_eq!(next(needs(Mfa, Single), Single, Single), Next::Enroll);
        assert_eq!(next(needs(Mfa, Single), Mfa, Single), Next::Ask);
        assert_eq!(next(needs(Mfa, Single), Single, Mfa), Next::Proceed, "a trusted upstream's mfa");
        // A passkey required of a person without one cannot be met here.
        assert_eq!(next(needs(PhishingResistant, Single), Mfa, Mfa), Next::Unmet);
        assert_eq!(next(needs(PhishingResistant, Single), Single, Single), Next::Unmet);
        assert_eq!(next(needs(PhishingResistant, Single), PhishingResistant, PhishingResistant), Next::Proceed);
    }

    /// The shortcut `next_for` takes (no factor lookup when the session has
    /// what is asked) never skips a step `next` would take.
    #[test]
    fn a_session_with_what_is_asked_proceeds_whatever_the_person_could_give() {
        let all = [Single, Mfa, PhishingResistant];
        for required in all {
            for wanted in all {
                for have in all {
                    for capability in all {
                        if required.max(wanted) <= have {
                            assert_eq!(next(needs(required, wanted), capability, have), Next::Proceed);
                        }
                    }
                }
            }
        }
    }
}
