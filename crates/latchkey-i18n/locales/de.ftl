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
login-use-provider = Melden Sie sich mit einem der Anbieter unten oder mit einer E-Mail-Adresse Ihrer Organisation an.
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

## E-Mails (der Betreff ist die erste Zeile der Textvorlage)

email-hello = Hallo { $username },
email-or-open-link = Oder öffnen Sie diesen Link:
email-verify-subject = Bestätigen Sie Ihre E-Mail-Adresse für { $product }
email-verify-title = Bestätigen Sie Ihre E-Mail-Adresse
email-verify-body-html = Bitte bestätigen Sie, dass <strong>{ $address }</strong> Ihre E-Mail-Adresse ist.
email-verify-body = Bitte bestätigen Sie, dass { $address } Ihre E-Mail-Adresse ist, indem Sie diesen Link öffnen:
email-verify-button = Meine Adresse bestätigen
email-verify-valid = Der Link funktioniert einmal und { $hours ->
        [one] eine Stunde
       *[other] { $hours } Stunden
    } lang. Wenn Sie das nicht angefordert haben, können Sie diese E-Mail ignorieren.
email-address-changed-subject = Ihre E-Mail-Adresse für { $product } wurde geändert
email-address-changed-title = Ihre E-Mail-Adresse wurde geändert
email-address-changed-body-html = Die E-Mail-Adresse Ihres { $product }-Kontos wurde von dieser Adresse zu <strong>{ $address }</strong> geändert.
email-address-changed-body = Die E-Mail-Adresse Ihres { $product }-Kontos wurde von dieser Adresse zu { $address } geändert.
email-address-changed-advice = Wenn Sie diese Änderung vorgenommen haben, ist nichts weiter zu tun. Falls nicht, melden Sie sich an und ändern Sie sofort Ihr Passwort oder wenden Sie sich an Ihren Administrator.
email-reset-subject = Setzen Sie Ihr { $product }-Passwort zurück
email-reset-title = Passwort zurücksetzen
email-reset-asked = Jemand (hoffentlich Sie) hat angefordert, das Passwort Ihres { $product }-Kontos zurückzusetzen.
email-reset-open-link = Um ein neues zu wählen, öffnen Sie diesen Link:
email-reset-button = Neues Passwort wählen
email-reset-valid = Der Link funktioniert einmal und { $minutes ->
        [one] eine Minute
       *[other] { $minutes } Minuten
    } lang. Wenn Sie das nicht angefordert haben, ignorieren Sie diese E-Mail: Ihr Passwort bleibt unverändert.
email-password-changed-subject = Ihr { $product }-Passwort wurde geändert
email-password-changed-title = Ihr Passwort wurde geändert
email-password-changed-by-reset = Das Passwort Ihres { $product }-Kontos wurde am { $when } über einen an diese Adresse gesendeten Link zurückgesetzt. Sie wurden überall abgemeldet.
email-password-changed-signed-in = Das Passwort Ihres { $product }-Kontos wurde am { $when } geändert. Ihre anderen Sitzungen wurden beendet.
email-password-changed-advice = Wenn Sie das nicht waren, setzen Sie Ihr Passwort sofort zurück und wenden Sie sich an Ihren Administrator.

## Fehlerseiten (in Rust entschiedene Meldungen)

error-request-title = Diese Anfrage kann nicht abgeschlossen werden
error-sign-out-title = Die Abmeldung kann nicht abgeschlossen werden
error-unavailable-title = Vorübergehend nicht verfügbar
error-unavailable = Die Anmeldung ist vorübergehend nicht verfügbar. Bitte versuchen Sie es gleich noch einmal.
error-too-large = Die Anfrage ist zu groß.
error-not-form = Die Anfrage ist keine Formularübermittlung.
error-interaction-expired = Diese Anmeldeanfrage ist abgelaufen oder wurde bereits verwendet. Kehren Sie zur Anwendung zurück und beginnen Sie von vorn.
error-form-forged = Dieses Formular konnte nicht überprüft werden. Stellen Sie sicher, dass Cookies aktiviert sind, kehren Sie zur Anwendung zurück und beginnen Sie von vorn.
error-account-forged = Dieses Formular konnte nicht überprüft werden. Stellen Sie sicher, dass Cookies aktiviert sind, laden Sie die Seite neu und versuchen Sie es erneut.
error-sign-out-forged = Dieses Formular konnte nicht überprüft werden. Stellen Sie sicher, dass Cookies aktiviert sind, und versuchen Sie es erneut.
error-app-gone = Die Anwendung ist hier nicht mehr registriert.
error-app-unknown = Die Anwendung ist hier nicht registriert.
error-already-completed = Diese Anmeldeanfrage wurde bereits abgeschlossen.
error-missing-client-id = Die Anfrage nennt keine Anwendung (client_id fehlt).
error-repeated-client-id = Die Anfrage nennt die Anwendung mehr als einmal.
error-repeated-redirect-uri = Die Anfrage nennt mehr als eine Weiterleitungsadresse (redirect_uri).
error-missing-redirect-uri = Die Anfrage gibt nicht an, wohin zurückgekehrt werden soll (redirect_uri ist für diese Anwendung erforderlich).
error-unregistered-redirect-uri = Die Rücksprungadresse (redirect_uri) ist für diese Anwendung nicht registriert.
login-incorrect = Benutzername oder Passwort ist falsch.

## Berechtigungen auf der Zustimmungsseite

scope-openid = Wissen, wer Sie sind (Ihre Kontokennung)
scope-profile = Ihren Namen und Benutzernamen sehen
scope-email = Ihre E-Mail-Adresse sehen
scope-phone = Ihre Telefonnummer sehen
scope-groups = Sehen, welchen Gruppen Sie angehören
scope-address = Ihre Postanschrift sehen
scope-offline-access = Zugriff behalten, auch wenn Sie die App gerade nicht nutzen
scope-api = Eine API in Ihrem Namen nutzen

## Geräte, Abmeldung, weitere Seiten

device-title = Gerät verbinden
device-enter-code = Geben Sie den Code ein, der auf Ihrem Gerät angezeigt wird.
device-code = Code
device-consent-heading = { $client } auf Ihrem Gerät verbinden?
device-code-must-be = Der Code auf dem Gerät muss lauten:
device-warning = Fahren Sie nur fort, wenn Sie dies selbst auf einem Gerät vor Ihnen gestartet haben und es diesen Code anzeigt. Wenn Ihnen jemand diesen Code oder Link geschickt hat, wählen Sie „Ablehnen“: Eine Zustimmung würde dieser Person Zugriff auf Ihr Konto geben.
device-will-be-able-html = Wenn Sie zustimmen, kann <strong>{ $client }</strong> auf diesem Gerät:
device-approve = Zustimmen
device-connected = Gerät verbunden
device-not-connected = Gerät nicht verbunden
device-approved = { $client } hat auf Ihrem Gerät jetzt Zugriff. Sie können zu Ihrem Gerät zurückkehren.
device-denied = Sie haben den Zugriff abgelehnt; es wurde nichts geteilt. Sie können zu Ihrem Gerät zurückkehren.
home-title = Startseite
home-account = Ihr Konto
home-discovery = Discovery-Dokument
not-found-title = Seite nicht gefunden
not-found-lead = Unter dieser Adresse gibt es keine Seite.
not-found-home = Startseite von { $product }
logout-title = Abmelden
logout-heading = Abmelden?
logout-client-asks-html = <strong>{ $client }</strong> möchte Sie von { $product } abmelden.
logout-question = Möchten Sie sich von { $product } abmelden?
logout-ends-everywhere = Die Abmeldung beendet Ihre Sitzung hier für alle Anwendungen.
logout-stay = Angemeldet bleiben
signed-out-title = Abgemeldet
signed-out-heading = Sie sind abgemeldet
signed-out-still = Sie sind weiterhin angemeldet
signed-out-lead = Ihre Sitzung wurde beendet. Sie können dieses Fenster schließen.
signed-out-nothing = Es wurde nichts geändert.
form-post-returning = Zurück zur Anwendung …
form-post-noscript = JavaScript ist ausgeschaltet: Klicken Sie auf „Weiter“, um zur Anwendung zurückzukehren.

## Passwort vergessen, Zurücksetzen und Bestätigen der Adresse

forgot-unavailable-title = Zurücksetzen des Passworts nicht verfügbar
forgot-unavailable = Dieser Server versendet keine E-Mails und kann daher keinen Link zum Zurücksetzen senden. Bitten Sie Ihren Administrator, Ihr Passwort zurückzusetzen.
forgot-sent-title = Sehen Sie in Ihren E-Mails nach
forgot-sent = Wenn ein Konto zu Ihrer Eingabe passt und eine E-Mail-Adresse hat, haben wir ihm einen Link zum Wählen eines neuen Passworts gesendet. Der Link funktioniert einmal und { $minutes ->
        [one] eine Minute
       *[other] { $minutes } Minuten
    } lang.
forgot-no-email = Keine E-Mail erhalten? Sehen Sie in Ihrem Spam-Ordner nach oder versuchen Sie es in einigen Minuten erneut.
forgot-throttled-title = Zu viele Anfragen
forgot-throttled = Aus Ihrem Netzwerk kamen zu viele Anfragen zum Zurücksetzen von Passwörtern. Bitte warten Sie eine Weile und versuchen Sie es dann erneut.
forgot-lead = Geben Sie Ihren Benutzernamen oder Ihre E-Mail-Adresse ein, und wir senden Ihnen einen Link, um ein neues Passwort zu wählen.
forgot-identifier = Benutzername oder E-Mail-Adresse
forgot-submit = Link senden
reset-title = Neues Passwort wählen
link-invalid-title = Dieser Link funktioniert nicht mehr
reset-invalid = Der Link zum Zurücksetzen des Passworts ist abgelaufen oder wurde bereits verwendet.
reset-ask-again = Neuen Link anfordern
reset-done-title = Ihr Passwort wurde geändert
reset-done = Sie wurden überall abgemeldet. Melden Sie sich mit Ihrem neuen Passwort an.
go-to-account = Zu Ihrem Konto
reset-for = für { $username }
password-mismatch = Die Passwörter stimmen nicht überein.
password-not-changed = Ihr Passwort konnte nicht geändert werden. Bitte versuchen Sie es erneut.
password-not-accepted = Das neue Passwort wird nicht akzeptiert: { $reason }.
password-new = Neues Passwort
password-new-again = Neues Passwort wiederholen
reset-submit = Neues Passwort festlegen
verify-invalid = Der Link ist abgelaufen, wurde bereits verwendet oder gilt für eine Adresse, die Ihr Konto nicht mehr hat. Auf Ihrer Kontoseite können Sie einen neuen anfordern.
verify-unavailable-title = E-Mail ist nicht verfügbar
verify-unavailable = Dieser Server versendet keine E-Mails, daher können Adressen hier nicht bestätigt werden.
verify-done-title = Ihre E-Mail-Adresse ist bestätigt
verify-done = Vielen Dank. Apps, denen Sie Zugriff auf Ihre E-Mail-Adresse erlauben, sehen sie als bestätigt.
verify-lead = Klicken Sie auf die Schaltfläche, um zu bestätigen, dass diese Adresse Ihnen gehört.

## Die Kontoseite

account-title = Ihr Konto
account-apps = Apps mit Zugriff
account-no-apps = Keine App hat Zugriff auf Ihr Konto.
account-allowed = Erlaubt am { $date }
account-last-changed = zuletzt geändert am { $date }
account-remove-access = Zugriff entfernen
account-sessions = Wo Sie angemeldet sind
account-this-browser = Dieser Browser
account-other-browser = Ein anderer Browser
account-signed-in-on = angemeldet am { $date }
account-last-active = zuletzt aktiv am { $date }
account-end-session = Diese Sitzung beenden
account-methods = Anmeldemethoden
account-linked = verknüpft am { $date }
account-remove = Entfernen
account-link-provider = Ihr { $provider }-Konto verknüpfen
account-authenticator = Authenticator-App
account-added = hinzugefügt am { $date }
account-last-used = zuletzt verwendet am { $date }
account-not-used = noch nicht verwendet
account-codes-left = { $count ->
        [one] { $count } Wiederherstellungscode übrig
       *[other] { $count } Wiederherstellungscodes übrig
    }
account-current-code = Aktueller Code aus Ihrer App
account-new-codes = Neue Wiederherstellungscodes
account-current-code-or-recovery = Aktueller Code aus Ihrer App (oder ein Wiederherstellungscode)
account-turn-off = Ausschalten
account-mfa-lead = Melden Sie sich zusätzlich zu Ihrem Passwort mit einem Code aus einer App auf Ihrem Telefon an.
account-mfa-set-up = Authenticator-App einrichten
account-email = E-Mail-Adresse
account-email-confirmed = bestätigt
account-email-unconfirmed = noch nicht bestätigt
account-no-email = Ihr Konto hat keine E-Mail-Adresse.
account-email-resend = Neuen Bestätigungslink senden
account-email-stale = Um Ihre Adresse zu ändern, melden Sie sich ab und wieder an und kehren Sie innerhalb weniger Minuten hierher zurück.
account-email-new = Neue E-Mail-Adresse
account-current-password = Aktuelles Passwort
account-email-change = E-Mail-Adresse ändern
account-email-how = Wir senden einen Link an die neue Adresse, um sie zu bestätigen, und informieren die alte Adresse über die Änderung.
account-email-off = Dieser Server versendet keine E-Mails, daher kann Ihre Adresse hier weder geändert noch bestätigt werden. Wenden Sie sich an Ihren Administrator.
account-profile = Ihr Profil
account-profile-lead = Apps, denen Sie Zugriff auf Ihr Profil oder Ihre Adresse erlauben, erhalten diese Angaben.
account-profile-save = Profil speichern
account-passkeys = Passkeys
account-passkeys-lead = Melden Sie sich mit Fingerabdruck, Gesicht, Bildschirmsperre oder Sicherheitsschlüssel statt mit einem Passwort an, oder als zweiten Schritt danach.
account-passkey-name = Name des neuen Passkeys
account-passkey-placeholder = Arbeitslaptop
account-passkey-add = Passkey hinzufügen
account-password = Passwort ändern
account-password-change = Passwort ändern
account-password-how = Wenn Sie Ihr Passwort ändern, werden Sie überall sonst abgemeldet.
notice-email-changed = Ihre E-Mail-Adresse wurde geändert. Wir haben einen Link zur Bestätigung gesendet; Ihre alte Adresse wurde informiert.
notice-verification-sent = Wir haben einen neuen Bestätigungslink an Ihre E-Mail-Adresse gesendet.
notice-verification-throttled = An Ihr Konto wurden kürzlich mehrere E-Mails gesendet. Bitte warten Sie eine Weile, bevor Sie eine weitere anfordern.
notice-recovery-code-used = Sie haben sich mit einem Wiederherstellungscode angemeldet, der nun nicht mehr gilt. Wenn nur noch wenige übrig sind, erstellen Sie unten neue.
notice-mfa-removed = Die Authenticator-App und ihre Wiederherstellungscodes wurden entfernt.
notice-passkey-added = Ihr Passkey wurde hinzugefügt. Sie können sich jetzt damit anmelden.
notice-passkey-removed = Der Passkey wurde entfernt.
notice-app-revoked = Die App hat keinen Zugriff mehr auf Ihr Konto.
notice-linked = Sie können sich jetzt auch mit diesem Konto anmelden.
notice-unlinked = Diese Anmeldemethode wurde entfernt.
notice-session-ended = Die Sitzung wurde beendet.
notice-password-changed = Ihr Passwort wurde geändert, und Ihre anderen Sitzungen wurden beendet.
notice-profile-saved = Ihr Profil wurde gespeichert.

## Profilfelder auf der Kontoseite

claim-name = Vollständiger Name
claim-given-name = Vorname
claim-family-name = Nachname
claim-middle-name = Zweiter Vorname
claim-nickname = Spitzname
claim-profile = Profilseite
claim-picture = Bild
claim-website = Website
claim-gender = Geschlecht
claim-birthdate = Geburtstag
claim-zoneinfo = Zeitzone
claim-locale = Sprache
claim-address-formatted = Adresse, wie auf einem Brief geschrieben
claim-address-street = Straße und Hausnummer
claim-address-locality = Ort
claim-address-region = Bundesland oder Region
claim-address-postal-code = Postleitzahl
claim-address-country = Land
claim-other = Sonstiges
claim-hint-url = Eine Webadresse, https://…
claim-hint-picture = Die Webadresse eines Bildes, https://…
claim-hint-birthdate = JJJJ-MM-TT, oder 0000-MM-TT, um das Jahr für sich zu behalten
claim-hint-zoneinfo = Zum Beispiel Europe/Berlin oder America/New_York
claim-hint-locale = Zum Beispiel de-DE oder de-AT

## Authenticator-Apps und Wiederherstellungscodes

account-login-lead = um Ihr Konto zu verwalten
recovery-codes-title = Ihre Wiederherstellungscodes
recovery-codes-lead = Wenn Sie Ihr Gerät verlieren, meldet Sie jeder dieser Codes einmal an, statt eines Codes aus der App. Bewahren Sie sie sicher auf: Sie werden nur jetzt angezeigt.
recovery-codes-make-new-html = Neue Wiederherstellungscodes erstellen Sie auf <a href="{ $account }">Ihrer Kontoseite</a>.
recovery-codes-mfa-on = Die Bestätigung in zwei Schritten ist eingeschaltet.
recovery-codes-old-gone = Ihre bisherigen Wiederherstellungscodes gelten nicht mehr.
recovery-codes-back = Zurück zu Ihrem Konto
continue-to = Weiter zu { $client }
enroll-scan = Scannen Sie diesen Code mit einer Authenticator-App (Google Authenticator, Microsoft Authenticator, 1Password, Aegis …).
enroll-qr-alt = QR-Code für Ihre Authenticator-App
enroll-on-this-phone = Auf diesem Telefon?
enroll-open-in-app = In Ihrer Authenticator-App öffnen
enroll-by-hand = Oder geben Sie diesen Schlüssel von Hand ein:
enroll-link = Link:
enroll-code = Code aus der App
enroll-turn-on = Einschalten
enroll-cancel = Abbrechen
recovery-code-used-title = Mit einem Wiederherstellungscode angemeldet
recovery-code-used = { $count ->
        [0] Sie haben Ihren letzten Wiederherstellungscode verwendet. Erstellen Sie jetzt neue, sonst könnten Sie sich aussperren, wenn Sie Ihr Gerät verlieren.
        [one] Sie haben einen Wiederherstellungscode verwendet: Einer ist noch übrig.
       *[other] Sie haben einen Wiederherstellungscode verwendet: { $count } sind noch übrig.
    }
enroll-required = Um zu { $client } fortzufahren, ist die Bestätigung in zwei Schritten erforderlich. Richten Sie eine Authenticator-App ein: Das dauert nur eine Minute.

## Fehlerseiten: Geräte, Konto, externe Anbieter

device-error-forged = Dieses Formular konnte nicht überprüft werden. Stellen Sie sicher, dass Cookies aktiviert sind, und geben Sie den Code erneut ein.
device-error-session-ended = Ihre Sitzung wurde beendet. Geben Sie den Code von Ihrem Gerät erneut ein.
device-error-no-decision = Wählen Sie „Zustimmen“ oder „Ablehnen“.
device-error-already-completed = Diese Anfrage wurde bereits abgeschlossen. Sie können zu Ihrem Gerät zurückkehren.
device-error-expired = Der Code ist abgelaufen. Beginnen Sie auf Ihrem Gerät von vorn, um einen neuen Code zu erhalten.
account-error-no-app = Es wurde keine App ausgewählt.
account-error-session-gone = Diese Sitzung ist bereits beendet.
error-session-ended = Ihre Sitzung wurde beendet. Kehren Sie zur Anwendung zurück und melden Sie sich erneut an.
upstream-unknown = Diesen Anmeldeanbieter gibt es nicht.
upstream-expired = Diese Anmeldung ist abgelaufen oder wurde bereits abgeschlossen. Kehren Sie zur Anwendung zurück und beginnen Sie von vorn.
upstream-other-browser = Diese Anmeldung wurde in einem anderen Browser begonnen. Kehren Sie zur Anwendung zurück und beginnen Sie hier von vorn.
upstream-wrong-issuer = Diese Antwort stammt nicht von { $provider }. Kehren Sie zur Anwendung zurück und versuchen Sie es erneut.
upstream-incomplete = { $provider } hat die Anmeldung nicht abgeschlossen.
upstream-unreachable = { $provider } ist gerade nicht erreichbar. Bitte versuchen Sie es gleich noch einmal.
upstream-unverifiable = Die Antwort von { $provider } konnte nicht überprüft werden, daher wurden Sie nicht angemeldet. Kehren Sie zur Anwendung zurück und versuchen Sie es erneut.
upstream-linked-gone = Das mit dieser Anmeldung verknüpfte Konto existiert nicht mehr.
upstream-disabled = Dieses Konto ist deaktiviert.
upstream-login-expired = Diese Anmeldeanfrage ist abgelaufen. Kehren Sie zur Anwendung zurück und beginnen Sie von vorn.
upstream-not-linked-here = Hier ist kein Konto mit Ihrem { $provider }-Konto verknüpft. Melden Sie sich mit Ihrem Passwort an und verknüpfen Sie es auf Ihrer Kontoseite, oder fragen Sie einen Administrator.
upstream-email-unverified = { $provider } hat Ihre E-Mail-Adresse nicht bestätigt, daher kann kein Konto für Sie angelegt werden.
upstream-domain-not-allowed = Konten Ihrer Organisation können sich hier nicht anmelden.
upstream-no-username = { $provider } hat keinen verwendbaren Wert für { $claim } geliefert.
upstream-username-taken = Hier gibt es bereits ein Konto namens { $username }. Melden Sie sich mit dessen Passwort an und verknüpfen Sie dann Ihr { $provider }-Konto auf Ihrer Kontoseite.
upstream-try-again = Bitte versuchen Sie erneut, sich anzumelden.
upstream-not-signed-in = Sie sind nicht mehr bei dem Konto angemeldet, das Sie verknüpfen wollten. Melden Sie sich an und versuchen Sie es erneut.
upstream-linked-elsewhere = Dieses { $provider }-Konto ist hier bereits mit einem anderen Konto verknüpft.
upstream-not-linked = Diese Anmeldemethode ist nicht verknüpft.
upstream-last-method = Dies ist die einzige Möglichkeit, sich bei Ihrem Konto anzumelden; sie kann daher nicht entfernt werden.
upstream-refused = Die Anmeldung bei { $provider } wurde abgebrochen oder abgelehnt. Kehren Sie zur Anwendung zurück und versuchen Sie es erneut.
upstream-sign-in-again = { $provider } verlangt, dass Sie sich erneut anmelden. Kehren Sie zur Anwendung zurück und versuchen Sie es erneut.
upstream-failed = { $provider } konnte Sie nicht anmelden. Kehren Sie zur Anwendung zurück und versuchen Sie es erneut.

## Fehler auf der Kontoseite und bei der Zustimmung

account-error-no-password = Dieses Konto hat kein Passwort, das geändert werden könnte.
account-error-wrong-password = Ihr aktuelles Passwort ist nicht korrekt.
account-error-no-email-server = Dieser Server versendet keine E-Mails.
account-error-sign-in-again = Melden Sie sich ab und wieder an, um Ihre Adresse zu ändern.
account-error-same-address = Das ist bereits Ihre Adresse.
account-error-address-refused = Die Adresse wird nicht akzeptiert: { $reason }.
claim-refused-text = höchstens 256 Zeichen, ohne Zeilenumbrüche oder Steuerzeichen
claim-refused-email = geben Sie eine Adresse wie name@example.com ein
claim-refused-email-missing = geben Sie eine E-Mail-Adresse ein
claim-refused-url = geben Sie eine vollständige Webadresse ein, die mit https:// oder http:// beginnt (höchstens 2048 Zeichen)
claim-refused-date = geben Sie ein Datum als JJJJ-MM-TT ein, als 0000-MM-TT ohne Jahr, oder nur das Jahr
claim-refused-locale = geben Sie ein Sprachkürzel wie de-DE ein
claim-refused-time-zone = geben Sie eine Zeitzone wie Europe/Berlin ein
claim-refused-phone = geben Sie eine internationale Nummer ein, die mit + beginnt, etwa +49 30 901820
claim-refused-other = dieser Wert wird nicht akzeptiert
consent-error-no-decision = Wählen Sie „Erlauben“ oder „Ablehnen“.
consent-error-already-completed = Diese Anfrage wurde bereits abgeschlossen.

## Sign-up

login-new-here = Neu hier?
login-create-account = Konto erstellen
notice-welcome = Willkommen! Ihr Konto ist bereit.
signup-title = Konto erstellen
signup-closed-title = Die Registrierung ist geschlossen
signup-closed = Konten bei { $product } werden von den Administratoren angelegt. Bitte fragen Sie dort nach einem Konto.
signup-invite-only-title = Registrierung nur mit Einladung
signup-invite-only = Konten bei { $product } werden über eine Einladung erstellt. Wenn Sie eine haben, öffnen Sie den Link in der E-Mail; andernfalls bitten Sie einen Administrator, Sie einzuladen.
signup-throttled-title = Zu viele Versuche
signup-throttled = Aus Ihrem Netzwerk kamen zu viele Registrierungsversuche. Bitte warten Sie eine Weile und versuchen Sie es dann erneut.
signup-check-email-title = Sehen Sie in Ihren E-Mails nach
signup-check-email-html = Wir haben eine Nachricht an <strong>{ $email }</strong> gesendet. Öffnen Sie den Link darin, um Ihre Adresse zu bestätigen, und melden Sie sich dann an.
signup-no-email = Keine E-Mail erhalten? Sehen Sie in Ihrem Spam-Ordner nach.
signup-on = bei { $product }
signup-email = E-Mail-Adresse
signup-domains = Nur Adressen bei { $domains }.
signup-password-rules = Mindestens { $count ->
        [one] { $count } Zeichen
       *[other] { $count } Zeichen
    }. Einige zusammenhanglose Wörter ergeben ein gutes Passwort; sehr häufige Passwörter werden abgelehnt.
signup-password-again = Passwort wiederholen
signup-submit = Konto erstellen
signup-have-account = Sie haben bereits ein Konto?
signup-error-domain = Die Registrierung nimmt nur Adressen bei { $domains } an.
signup-error-email = Die E-Mail-Adresse wird nicht akzeptiert: { $reason }.
signup-error-password = Das Passwort wird nicht akzeptiert: { $reason }.
signup-error-username-length = Der Benutzername muss 1 bis 64 Zeichen lang sein.
signup-error-username-spaces = Der Benutzername darf keine Leer- oder Steuerzeichen enthalten.
signup-error-mismatch = Die beiden Passwörter stimmen nicht überein.
signup-error-username-taken = Dieser Benutzername ist vergeben. Bitte wählen Sie einen anderen.
signup-error-email-taken = Ein Konto mit dieser E-Mail-Adresse existiert bereits. Melden Sie sich an oder bitten Sie einen Administrator um Hilfe.
signup-error-failed = Ihr Konto konnte nicht erstellt werden. Bitte versuchen Sie es erneut.
password-too-short = das Passwort muss mindestens { $count ->
        [one] { $count } Zeichen
       *[other] { $count } Zeichen
    } lang sein
password-too-long = das Passwort darf höchstens { $max } Bytes lang sein
password-common = dieses Passwort gehört zu den am häufigsten verwendeten, die zuerst erraten werden; wählen Sie ein anderes (einige zusammenhanglose Wörter ergeben ein gutes)
invitation-title = Einladung annehmen
invitation-invalid-title = Diese Einladung funktioniert nicht mehr
invitation-invalid = Die Einladung ist abgelaufen, wurde bereits verwendet oder wurde zurückgezogen. Bitte fragen Sie nach einer neuen.
invitation-heading = Erstellen Sie Ihr Konto
invitation-lead-html = bei { $product }, für <strong>{ $email }</strong>
invitation-email-note = Durch Ihre Einladung bestätigt.
confirm-address-title = Bestätigen Sie Ihre E-Mail-Adresse
confirm-address-lead-html = bevor Sie zu <strong>{ $client }</strong> weitergehen
confirm-address-sent-html = Wir haben einen Link an <strong>{ $email }</strong> gesendet. Öffnen Sie ihn, um Ihre Adresse zu bestätigen, kehren Sie dann hierher zurück und fahren Sie fort.
confirm-address-continue = Ich habe sie bestätigt, weiter
confirm-address-resend = Link erneut senden
confirm-address-resent = Wir haben einen neuen Link gesendet.
confirm-address-throttled = Wir haben bereits mehrere Links gesendet. Bitte warten Sie eine Weile, bevor Sie erneut fragen.
email-invitation-subject = Sie sind zu { $product } eingeladen
email-invitation-title = Sie sind eingeladen
email-hello-anonymous = Hallo,
email-invitation-body-html = Sie sind eingeladen, ein Konto bei { $product } für <strong>{ $address }</strong> zu erstellen.
email-invitation-body = Sie sind eingeladen, ein Konto bei { $product } für { $address } zu erstellen. Öffnen Sie diesen Link, um Ihren Benutzernamen und Ihr Passwort zu wählen:
email-invitation-button = Mein Konto erstellen
email-invitation-valid = Der Link funktioniert einmal und { $days ->
        [one] { $days } Tag
       *[other] { $days } Tage
    } lang. Wenn Sie diese Einladung nicht erwartet haben, können Sie diese E-Mail ignorieren.
email-exists-subject = Sie haben bereits ein Konto bei { $product }
email-exists-title = Sie haben bereits ein Konto
email-exists-tried-html = Jemand (vielleicht Sie) hat versucht, bei { $product } ein neues Konto mit <strong>{ $address }</strong> zu erstellen.
email-exists-tried = Jemand (vielleicht Sie) hat versucht, bei { $product } ein neues Konto mit { $address } zu erstellen.
email-exists-already-html = Ein Konto mit dieser Adresse existiert bereits unter dem Benutzernamen <strong>{ $username }</strong>, daher wurde kein neues Konto angelegt.
email-exists-already = Ein Konto mit dieser Adresse existiert bereits unter dem Benutzernamen { $username }, daher wurde kein neues Konto angelegt.
email-exists-how = Verwenden Sie zum Anmelden diesen Benutzernamen. Wenn Sie Ihr Passwort vergessen haben, setzen Sie es hier zurück:
email-exists-button = Mein Passwort zurücksetzen
email-exists-not-you = Wenn Sie das nicht waren, können Sie diese E-Mail ignorieren.
