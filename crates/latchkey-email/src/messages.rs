//! Every email Latchkey sends, as askama templates under `templates/email/`:
//! a text and an HTML version of each (sent together as
//! multipart/alternative). The text template's first line is the subject,
//! so that every word a person reads lives in the templates.

use std::marker::PhantomData;

use askama::Template;
pub use latchkey_i18n::Language;

/// An email ready for the outbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// Renders a message from its two templates.
fn render(text: &impl Template, html: &impl Template) -> Result<Rendered, askama::Error> {
    let text = text.render()?;
    let (subject, body) = text.split_once('\n').unwrap_or((text.as_str(), ""));
    Ok(Rendered { subject: subject.trim().to_string(), text: body.trim_start().to_string(), html: html.render()? })
}

macro_rules! message {
    ($(#[$doc:meta])* $name:ident, $text:literal, $html:literal { $($field:ident: $ty:ty),* $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone)]
        pub struct $name<'a> {
            /// The recipient's language.
            pub lang: Language,
            pub product: &'a str,
            pub username: &'a str,
            $(pub $field: $ty,)*
        }

        impl $name<'_> {
            pub fn render(&self) -> Result<Rendered, askama::Error> {
                #[derive(Template)]
                #[template(path = $text)]
                struct Text<'a, 'b> { lang: Language, product: &'b str, username: &'b str, $($field: &'b $ty,)* _life: PhantomData<&'a ()> }
                #[derive(Template)]
                #[template(path = $html)]
                struct Html<'a, 'b> { lang: Language, product: &'b str, username: &'b str, $($field: &'b $ty,)* _life: PhantomData<&'a ()> }
                let text = Text { lang: self.lang, product: self.product, username: self.username, $($field: &self.$field,)* _life: PhantomData };
                let html = Html { lang: self.lang, product: self.product, username: self.username, $($field: &self.$field,)* _life: PhantomData };
                render(&text, &html)
            }
        }
    };
}

message!(
    /// A link that verifies `address` (new accounts, changed addresses, on request).
    VerifyAddress, "email/verify_address.txt", "email/verify_address.html" { address: &'a str, link: String, hours: i64 }
);
message!(
    /// To the old address, when the account's address changed.
    AddressChanged, "email/address_changed.txt", "email/address_changed.html" { new_address: &'a str }
);
message!(
    /// A password reset link.
    PasswordReset, "email/password_reset.txt", "email/password_reset.html" { link: String, minutes: i64 }
);
message!(
    /// The password was changed (`reset`: through a reset link).
    PasswordChanged, "email/password_changed.txt", "email/password_changed.html" { when: String, reset: bool }
);

message!(
    /// An invitation to create an account (`username` is unused: there is no account yet).
    Invitation, "email/invitation.txt", "email/invitation.html" { address: &'a str, link: String, days: i64 }
);
message!(
    /// Sign-up with an address that already has an account: told by email, not on the page.
    AccountExists, "email/account_exists.txt", "email/account_exists.html" { address: &'a str, link: String }
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_subject_is_the_first_line_and_html_is_escaped() {
        let m = VerifyAddress {
            lang: Language::En,
            product: "Acme <ID>",
            username: "ann",
            address: "ann@example.com",
            link: "https://id.example.com/verify-email?token=abc".into(),
            hours: 24,
        }
        .render()
        .unwrap();
        assert_eq!(m.subject, "Confirm your email address for Acme <ID>");
        assert!(m.text.starts_with("Hello ann,"), "{}", m.text);
        assert!(m.text.contains("https://id.example.com/verify-email?token=abc") && m.text.contains("24 hours"));
        assert!(m.html.contains("Acme &#60;ID&#62;") || m.html.contains("Acme &lt;ID&gt;"), "{}", m.html);
        assert!(!m.html.contains("Acme <ID>"));
        let m =
            PasswordChanged { lang: Language::En, product: "Acme", username: "ann", when: "today".into(), reset: true }
                .render()
                .unwrap();
        assert!(m.text.contains("signed out everywhere"), "{}", m.text);
        let m = PasswordChanged {
            lang: Language::En,
            product: "Acme",
            username: "ann",
            when: "today".into(),
            reset: false,
        }
        .render()
        .unwrap();
        assert!(m.text.contains("other sessions have ended"), "{}", m.text);
    }

    #[test]
    fn messages_speak_the_recipients_language() {
        let reset = |lang| {
            PasswordReset {
                lang,
                product: "Acme",
                username: "ann",
                link: "https://id.example/r?token=t".into(),
                minutes: 30,
            }
            .render()
            .unwrap()
        };
        let de = reset(Language::De);
        assert_eq!(de.subject, "Setzen Sie Ihr Acme-Passwort zurück");
        assert!(de.text.starts_with("Hallo ann,") && de.text.contains("30 Minuten"), "{}", de.text);
        assert!(de.html.contains(r#"<html lang="de">"#) && de.html.contains("Neues Passwort wählen"), "{}", de.html);
        let fr = reset(Language::Fr);
        assert_eq!(fr.subject, "Réinitialisez votre mot de passe Acme");
        assert!(fr.text.starts_with("Bonjour ann,") && fr.text.contains("30 minutes"), "{}", fr.text);
        let en = reset(Language::En);
        assert_eq!(en.subject, "Reset your Acme password");
        assert!(en.html.contains(r#"<html lang="en">"#));
    }

    #[test]
    fn sign_up_emails_speak_the_recipients_language() {
        let invitation = |lang| {
            Invitation {
                lang,
                product: "Acme",
                username: "",
                address: "ann@example.com",
                link: "https://id.example/invitation?token=t".into(),
                days: 7,
            }
            .render()
            .unwrap()
        };
        let fr = invitation(Language::Fr);
        assert_eq!(fr.subject, "Vous êtes invité sur Acme");
        assert!(fr.text.starts_with("Bonjour,") && fr.text.contains("pendant 7 jours"), "{}", fr.text);
        assert!(fr.text.contains("https://id.example/invitation?token=t"), "{}", fr.text);
        assert!(fr.html.contains(r#"<html lang="fr">"#) && fr.html.contains("Créer mon compte"), "{}", fr.html);
        assert!(fr.html.contains("<strong>ann@example.com</strong>"), "{}", fr.html);
        let en = invitation(Language::En);
        assert_eq!(en.subject, "You are invited to Acme");
        assert!(en.text.starts_with("Hello,\n\nYou are invited to create an account on Acme for ann@example.com."));
        assert!(en.text.contains("for 7 days. If you did not expect"), "{}", en.text);

        let exists = |lang| {
            AccountExists {
                lang,
                product: "Acme",
                username: "ann",
                address: "ann@example.com",
                link: "https://id.example/forgot-password".into(),
            }
            .render()
            .unwrap()
        };
        let de = exists(Language::De);
        assert_eq!(de.subject, "Sie haben bereits ein Konto bei Acme");
        assert!(de.text.starts_with("Hallo ann,") && de.text.contains("Benutzernamen ann,"), "{}", de.text);
        let en = exists(Language::En);
        assert_eq!(en.subject, "You already have an account on Acme");
        assert!(
            en.text.contains(
                "Someone (perhaps you) tried to create a new account on Acme with ann@example.com. An account with \
                 this address already exists, under the username ann, so no new account was made."
            ),
            "{}",
            en.text
        );
        assert!(en.html.contains("under the username <strong>ann</strong>"), "{}", en.html);
    }
}
