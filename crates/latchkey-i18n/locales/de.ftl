# Latchkeys Meldungen auf Deutsch (förmliche Anrede „Sie“).

## Anmeldung

login-title = Anmelden
login-lead-html = um zu <strong>{ $client }</strong> fortzufahren
login-username = Benutzername
login-username-or-email = Benutzername oder geschäftliche E-Mail-Adresse
login-password = Passwort
login-submit = Anmelden
login-continue = Weiter
login-forgot-password = Passwort vergessen?
login-passkey = Mit einem Passkey anmelden

## Bestätigung in zwei Schritten

second-factor-title = Bestätigung in zwei Schritten
second-factor-code = Code aus Ihrer Authenticator-App
second-factor-lost-device = Gerät verloren? Geben Sie stattdessen einen Ihrer Wiederherstellungscodes ein.
second-factor-submit = Bestätigen
second-factor-passkey = Stattdessen einen Passkey verwenden

## Zustimmung

consent-title = Zugriff erlauben
consent-heading = { $client } möchte auf Ihr Konto zugreifen
consent-signed-in-as-html = Angemeldet als <strong>{ $username }</strong>
consent-will-be-able-html = Wenn Sie es erlauben, kann <strong>{ $client }</strong>:
consent-about-app = Über diese App
consent-privacy-policy = Datenschutzerklärung
consent-terms = Nutzungsbedingungen
consent-deny = Ablehnen
consent-allow = Erlauben
consent-withdraw-html = Sie können diese Erlaubnis jederzeit auf <a href="{ $account }">Ihrer Kontoseite</a> widerrufen.

## Fehlerseiten

error-go-back = Kehren Sie zur Anwendung zurück, von der Sie gekommen sind, und versuchen Sie es erneut. Wenn das immer wieder passiert, wenden Sie sich an den Entwickler der Anwendung.
