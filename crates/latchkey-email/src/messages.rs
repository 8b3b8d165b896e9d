//! Every email Latchkey sends, as askama templates under `templates/email/`:
//! a text and an HTML version of each (sent together as
//! multipart/alternative). The text template's first line is the subject,
//! so that every word a person reads lives in the templates.
//!
//! An operator's template of the same name in `ui.templates_dir`
//! (`email/password_reset.txt`, docs/branding.md) replaces either version;
//! it gets the same values, with `lang` answering `lang.t(id)` as here.

use std::collections::BTreeMap;
use std::marker::PhantomData;

use askama::Template;
pub use latchkey_i18n::Language;
use latchkey_overrides::{Catalog, Known, Overrides};
use minijinja::Value;

/// An email ready for the outbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// One version of a message: the operator's override of `name` where there
/// is one, else the built-in template. An override that fails here (it
/// rendered with sample values at startup, so a value of an unexpected
/// shape) is logged and the built-in version sent: the email is not lost.
fn version(
    overrides: Option<&Overrides>,
    name: &str,
    context: impl FnOnce() -> Value,
    builtin: &impl Template,
) -> Result<String, askama::Error> {
    if let Some(result) = overrides.and_then(|o| o.render(name, context())) {
        match result {
            Ok(rendered) => return Ok(rendered),
            Err(e) => {
                tracing::error!(template = name, error = %format!("{e:#}"), "email template override failed; sending the built-in version")
            }
        }
    }
    builtin.render()
}

/// Splits the text version into the subject (its first line) and the body.
fn assemble(text: String, html: String) -> Rendered {
    let (subject, body) = text.split_once('\n').unwrap_or((text.as_str(), ""));
    Rendered { subject: subject.trim().to_string(), text: body.trim_start().to_string(), html }
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
            /// The names of its two templates (text, HTML).
            pub const TEMPLATES: [&'static str; 2] = [$text, $html];

            /// Renders both versions, each from its override where `overrides` has one.
            pub fn render(&self, overrides: Option<&Overrides>) -> Result<Rendered, askama::Error> {
                #[derive(Template)]
                #[template(path = $text)]
                struct Text<'a, 'b> { lang: Language, product: &'b str, username: &'b str, $($field: &'b $ty,)* _life: PhantomData<&'a ()> }
                #[derive(Template)]
                #[template(path = $html)]
                struct Html<'a, 'b> { lang: Language, product: &'b str, username: &'b str, $($field: &'b $ty,)* _life: PhantomData<&'a ()> }
                let text = Text { lang: self.lang, product: self.product, username: self.username, $($field: &self.$field,)* _life: PhantomData };
                let html = Html { lang: self.lang, product: self.product, username: self.username, $($field: &self.$field,)* _life: PhantomData };
                Ok(assemble(
                    version(overrides, $text, || self.context(), &text)?,
                    version(overrides, $html, || self.context(), &html)?,
                ))
            }

            /// The values an override receives: the built-in template's.
            pub fn context(&self) -> Value {
                let mut values = BTreeMap::<&str, Value>::new();
                values.insert("lang", Catalog::value(self.lang));
                values.insert("product", Value::from(self.product));
                values.insert("username", Value::from(self.username));
                $(values.insert(stringify!($field), Value::from(minijinja::value::Serde(&self.$field)));)*
                Value::from(values)
            }

            fn known(&self) -> [Known; 2] {
                [Known { name: $text, sample: self.context() }, Known { name: $html, sample: self.context() }]
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

/// Every email template an operator can override, with sample values:
/// overrides are checked and trial-rendered against them at startup, and
/// docs/branding.md lists their variables from them.
pub fn samples() -> Vec<Known> {
    let (lang, product, username) = (Language::En, "Acme", "ann");
    let link = |path: &str| format!("https://id.example.com{path}?token=sample");
    [
        VerifyAddress { lang, product, username, address: "ann@example.com", link: link("/verify-email"), hours: 24 }
            .known(),
        AddressChanged { lang, product, username, new_address: "ann@example.org" }.known(),
        PasswordReset { lang, product, username, link: link("/reset-password"), minutes: 30 }.known(),
        PasswordChanged { lang, product, username, when: "7 December 2026, 12:00 UTC".into(), reset: true }.known(),
        Invitation { lang, product, username: "", address: "ann@example.com", link: link("/invitation"), days: 7 }
            .known(),
        AccountExists {
            lang,
            product,
            username,
            address: "ann@example.com",
            link: "https://id.example.com/forgot-password".into(),
        }
        .known(),
    ]
    .into_iter()
    .flatten()
    .collect()
}

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
        .render(None)
        .unwrap();
        assert_eq!(m.subject, "Confirm your email address for Acme <ID>");
        assert!(m.text.starts_with("Hello ann,"), "{}", m.text);
        assert!(m.text.contains("https://id.example.com/verify-email?token=abc") && m.text.contains("24 hours"));
        assert!(m.html.contains("Acme &#60;ID&#62;") || m.html.contains("Acme &lt;ID&gt;"), "{}", m.html);
        assert!(!m.html.contains("Acme <ID>"));
        let m =
            PasswordChanged { lang: Language::En, product: "Acme", username: "ann", when: "today".into(), reset: true }
                .render(None)
                .unwrap();
        assert!(m.text.contains("signed out everywhere"), "{}", m.text);
        let m = PasswordChanged {
            lang: Language::En,
            product: "Acme",
            username: "ann",
            when: "today".into(),
            reset: false,
        }
        .render(None)
        .unwrap();
        assert!(m.text.contains("other sessions have ended"), "{}", m.text);
    }

    fn overrides(files: &[(&str, &str)]) -> (tempfile::TempDir, Result<Overrides, String>) {
        let dir = tempfile::tempdir().unwrap();
        for (name, text) in files {
            let path = dir.path().join(name);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        }
        let loaded = Overrides::load(dir.path(), &samples()).map_err(|e| e.to_string());
        (dir, loaded)
    }

    fn reset(lang: Language, username: &str) -> PasswordReset<'_> {
        PasswordReset {
            lang,
            product: "Acme & Co",
            username,
            link: "https://id.example/r?token=t&x=1".into(),
            minutes: 30,
        }
    }

    #[test]
    fn an_override_replaces_either_version_and_speaks_the_catalog() {
        let (_dir, loaded) = overrides(&[
            (
                "email/password_reset.txt",
                "{{ product }}: new password for {{ username }}\n\n{{ lang.t_with(\"email-hello\", \"username\", username) }}\n{{ link }}\n{{ lang.t_with(\"email-reset-valid\", \"minutes\", minutes) }}\n",
            ),
            ("email/_layout.html", "<html lang=\"{{ lang }}\"><body>{% block content %}{% endblock %}</body></html>"),
            (
                "email/password_reset.html",
                "{% extends \"email/_layout.html\" %}{% block content %}<a href=\"{{ link }}\">{{ lang.t(\"email-reset-button\") }}</a> {{ product }}{% endblock %}",
            ),
        ]);
        let o = loaded.unwrap();
        assert_eq!(o.names().collect::<Vec<_>>(), ["email/password_reset.html", "email/password_reset.txt"]);
        let de = reset(Language::De, "ann").render(Some(&o)).unwrap();
        assert_eq!(de.subject, "Acme & Co: new password for ann");
        // Text is not escaped; the catalog speaks German, numbers stay numbers.
        assert!(
            de.text.starts_with(
                "Hallo ann,\nhttps://id.example/r?token=t&x=1\nDer Link funktioniert einmal und 30 Minuten lang."
            ),
            "{}",
            de.text
        );
        assert!(de.html.starts_with(r#"<html lang="de"><body><a href="https:&#x2f;&#x2f;id.example&#x2f;r?token=t&amp;x=1">Neues Passwort wählen</a> Acme &amp; Co"#), "{}", de.html);
        // Emails without an override stay built in.
        let changed = PasswordChanged {
            lang: Language::En,
            product: "Acme",
            username: "ann",
            when: "today".into(),
            reset: false,
        };
        assert_eq!(changed.render(Some(&o)).unwrap(), changed.render(None).unwrap());
    }

    #[test]
    fn an_override_that_fails_at_send_time_falls_back_to_the_built_in_email() {
        // Only a long username takes the broken branch, which the sample ("ann") does not.
        let (_dir, loaded) = overrides(&[(
            "email/password_reset.txt",
            "Subject\n{% if username|length > 5 %}{{ username[99].x }}{% endif %}{{ link }}",
        )]);
        let o = loaded.unwrap();
        assert_eq!(reset(Language::En, "ann").render(Some(&o)).unwrap().subject, "Subject");
        let long = reset(Language::En, "annabelle").render(Some(&o)).unwrap();
        assert_eq!(long, reset(Language::En, "annabelle").render(None).unwrap());
        assert_eq!(long.subject, "Reset your Acme & Co password");
    }

    #[test]
    fn bad_email_overrides_are_refused_at_startup() {
        let refused = |files: &[(&str, &str)]| overrides(files).1.unwrap_err();
        let e = refused(&[("email/pasword_reset.txt", "x")]);
        assert!(
            e.contains("no template named email/pasword_reset.txt") && e.contains("email/password_reset.txt"),
            "{e}"
        );
        let e = refused(&[("email/layout.html", "x")]);
        assert!(e.contains("email/layout.html cannot be overridden"), "{e}");
        let e = refused(&[("email/invitation.txt", "Hi\n{{ days }} {{ minutes }}")]);
        assert!(
            e.contains("email/invitation.txt line 2: unknown variable `minutes`; email/invitation.txt receives: address, days, lang, link, product, username"),
            "{e}"
        );
        let e = refused(&[("email/verify_address.html", "{{ lang.t() }}")]);
        assert!(e.contains("verify_address.html") && e.contains("rendering a sample"), "{e}");
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
            .render(None)
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
            .render(None)
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
            .render(None)
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
