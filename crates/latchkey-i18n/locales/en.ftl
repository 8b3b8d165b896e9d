# Latchkey's messages in English: the reference catalog. Every other
# catalog has exactly these messages, with the same variables. Messages
# whose id ends in -html may hold markup; their variables are escaped.

## Sign-in

login-title = Sign in
login-lead-html = to continue to <strong>{ $client }</strong>
login-username = Username
login-username-or-email = Username or work email
login-password = Password
login-submit = Sign in
login-continue = Continue
login-forgot-password = Forgot your password?
login-use-provider = Sign in with one of the providers below, or with an email address of your organization.
login-passkey = Sign in with a passkey

## Two-step verification

second-factor-title = Two-step verification
second-factor-code = Code from your authenticator app
second-factor-lost-device = Lost your device? Enter one of your recovery codes instead.
second-factor-submit = Verify
second-factor-passkey = Use a passkey instead

## Consent

consent-title = Allow access
consent-heading = { $client } wants to access your account
consent-signed-in-as-html = Signed in as <strong>{ $username }</strong>
consent-will-be-able-html = If you allow it, <strong>{ $client }</strong> will be able to:
consent-about-app = About this app
consent-privacy-policy = Privacy policy
consent-terms = Terms of service
consent-deny = Deny
consent-allow = Allow
consent-withdraw-html = You can withdraw this permission at any time on <a href="{ $account }">your account page</a>.

## Error pages

error-go-back = Go back to the application you came from and try again. If this keeps happening, contact the application's developer.

## Emails (the subject is the text template's first line)

email-hello = Hello { $username },
email-or-open-link = Or open this link:
email-verify-subject = Confirm your email address for { $product }
email-verify-title = Confirm your email address
email-verify-body-html = Please confirm that <strong>{ $address }</strong> is your email address.
email-verify-body = Please confirm that { $address } is your email address by opening this link:
email-verify-button = Confirm my address
email-verify-valid = The link works once, for { $hours ->
        [one] { $hours } hour
       *[other] { $hours } hours
    }. If you did not ask for this, you can ignore this email.
email-address-changed-subject = Your email address for { $product } was changed
email-address-changed-title = Your email address was changed
email-address-changed-body-html = The email address of your { $product } account was changed from this one to <strong>{ $address }</strong>.
email-address-changed-body = The email address of your { $product } account was changed from this one to { $address }.
email-address-changed-advice = If you made this change, there is nothing to do. If you did not, sign in and change your password at once, or contact your administrator.
email-reset-subject = Reset your { $product } password
email-reset-title = Reset your password
email-reset-asked = Someone (we hope you) asked to reset the password of your { $product } account.
email-reset-open-link = To choose a new one, open this link:
email-reset-button = Choose a new password
email-reset-valid = The link works once, for { $minutes ->
        [one] { $minutes } minute
       *[other] { $minutes } minutes
    }. If you did not ask for this, ignore this email: your password stays as it is.
email-password-changed-subject = Your { $product } password was changed
email-password-changed-title = Your password was changed
email-password-changed-by-reset = The password of your { $product } account was changed on { $when } through a reset link sent to this address. You have been signed out everywhere.
email-password-changed-signed-in = The password of your { $product } account was changed on { $when }. Your other sessions have ended.
email-password-changed-advice = If you did not do this, reset your password at once and contact your administrator.

## Error pages (messages decided in Rust)

error-request-title = This request cannot be completed
error-sign-out-title = Sign-out request cannot be completed
error-unavailable-title = Temporarily unavailable
error-unavailable = Sign-in is temporarily unavailable. Please try again in a moment.
error-too-large = The request is too large.
error-not-form = The request is not a form submission.
error-interaction-expired = This sign-in request has expired or was already used. Go back to the application and start again.
error-form-forged = This form could not be verified. Make sure cookies are enabled, go back to the application and start again.
error-account-forged = This form could not be verified. Make sure cookies are enabled, reload the page and try again.
error-sign-out-forged = This form could not be verified. Make sure cookies are enabled and try again.
error-app-gone = The application is no longer registered here.
error-app-unknown = The application is not registered here.
error-already-completed = This sign-in request was already completed.
error-missing-client-id = The request does not name an application (client_id is missing).
error-repeated-client-id = The request names the application more than once.
error-repeated-redirect-uri = The request names more than one redirect URI.
error-missing-redirect-uri = The request does not say where to return (redirect_uri is required for this application).
error-unregistered-redirect-uri = The return address (redirect_uri) is not registered for this application.
login-incorrect = Incorrect username or password.

## Scopes on the consent page

scope-openid = Know who you are (your account identifier)
scope-profile = See your name and username
scope-email = See your email address
scope-phone = See your phone number
scope-groups = See which groups you belong to
scope-address = See your postal address
scope-offline-access = Keep access while you are not using it
scope-api = Use an API on your behalf

## Devices, sign-out, other pages

device-title = Connect a device
device-enter-code = Enter the code shown on your device.
device-code = Code
device-consent-heading = Connect { $client } on your device?
device-code-must-be = The code on the device must be:
device-warning = Continue only if you started this yourself, on a device in front of you, and it shows this code. If someone sent you this code or link, choose Deny: approving would give them access to your account.
device-will-be-able-html = If you approve, <strong>{ $client }</strong> on that device will be able to:
device-approve = Approve
device-connected = Device connected
device-not-connected = Device not connected
device-approved = { $client } on your device now has access. You can return to your device.
device-denied = You denied access; nothing was shared. You can return to your device.
home-title = Home
home-account = Your account
home-discovery = Discovery document
not-found-title = Page not found
not-found-lead = There is no page at this address.
not-found-home = { $product } home
logout-title = Sign out
logout-heading = Sign out?
logout-client-asks-html = <strong>{ $client }</strong> asks to sign you out of { $product }.
logout-question = Do you want to sign out of { $product }?
logout-ends-everywhere = Signing out ends your session here for every application.
logout-stay = Stay signed in
signed-out-title = Signed out
signed-out-heading = You are signed out
signed-out-still = You are still signed in
signed-out-lead = Your session has ended. You can close this window.
signed-out-nothing = Nothing was changed.
form-post-returning = Returning to the application…
form-post-noscript = JavaScript is off: press Continue to return to the application.

## Forgotten passwords, reset and address confirmation pages

forgot-unavailable-title = Password reset is not available
forgot-unavailable = This server does not send email, so it cannot send a reset link. Please ask your administrator to reset your password.
forgot-sent-title = Check your email
forgot-sent = If an account matches what you entered and has an email address, we have sent it a link to choose a new password. The link works once, for { $minutes ->
        [one] { $minutes } minute
       *[other] { $minutes } minutes
    }.
forgot-no-email = No email? Check your spam folder, or try again in a few minutes.
forgot-throttled-title = Too many requests
forgot-throttled = Too many password reset requests came from your network. Please wait a while and try again.
forgot-lead = Enter your username or email address, and we will send a link to choose a new password.
forgot-identifier = Username or email address
forgot-submit = Send the link
reset-title = Choose a new password
link-invalid-title = This link no longer works
reset-invalid = The password reset link has expired or was already used.
reset-ask-again = Ask for a new link
reset-done-title = Your password has been changed
reset-done = You have been signed out everywhere. Sign in with your new password.
go-to-account = Go to your account
reset-for = for { $username }
password-mismatch = The passwords do not match.
password-not-changed = Your password could not be changed. Please try again.
password-not-accepted = The new password is not accepted: { $reason }.
password-new = New password
password-new-again = New password again
reset-submit = Set the new password
verify-invalid = The link has expired, was already used, or is for an address your account no longer has. You can ask for a new one on your account page.
verify-unavailable-title = Email is not available
verify-unavailable = This server does not send email, so addresses cannot be confirmed here.
verify-done-title = Your email address is confirmed
verify-done = Thank you. Apps you allow to see your email address will see it as verified.
verify-lead = Press the button to confirm that this address is yours.

## The account page

account-title = Your account
account-apps = Apps with access
account-no-apps = No app has access to your account.
account-allowed = Allowed { $date }
account-last-changed = last changed { $date }
account-remove-access = Remove access
account-sessions = Where you are signed in
account-this-browser = This browser
account-other-browser = Another browser
account-signed-in-on = signed in { $date }
account-last-active = last active { $date }
account-end-session = End this session
account-methods = Sign-in methods
account-linked = linked { $date }
account-remove = Remove
account-link-provider = Link your { $provider } account
account-authenticator = Authenticator app
account-added = added { $date }
account-last-used = last used { $date }
account-not-used = not used yet
account-codes-left = { $count ->
        [one] { $count } recovery code left
       *[other] { $count } recovery codes left
    }
account-current-code = Current code from your app
account-new-codes = New recovery codes
account-current-code-or-recovery = Current code from your app (or a recovery code)
account-turn-off = Turn off
account-mfa-lead = Sign in with a code from an app on your phone as well as your password.
account-mfa-set-up = Set up an authenticator app
account-email = Email address
account-email-confirmed = confirmed
account-email-unconfirmed = not confirmed yet
account-no-email = Your account has no email address.
account-email-resend = Send a new confirmation link
account-email-stale = To change your address, sign out and sign in again, then come back within a few minutes.
account-email-new = New email address
account-current-password = Current password
account-email-change = Change email address
account-email-how = We send a link to the new address to confirm it, and tell the old address about the change.
account-email-off = This server does not send email, so your address cannot be changed or confirmed here. Ask your administrator.
account-profile = Your profile
account-profile-lead = Apps you allow to see your profile or address receive these.
account-profile-save = Save profile
account-passkeys = Passkeys
account-passkeys-lead = Sign in with your fingerprint, face, screen lock or security key instead of a password, or as the second step after it.
account-passkey-name = Name of the new passkey
account-passkey-placeholder = Work laptop
account-passkey-add = Add a passkey
account-password = Change your password
account-password-change = Change password
account-password-how = Changing your password signs you out everywhere else.
notice-email-changed = Your email address has been changed. We sent a link to confirm it; your old address was told.
notice-verification-sent = We sent a new confirmation link to your email address.
notice-verification-throttled = Several emails were sent to your account recently. Please wait a while before asking for another.
notice-recovery-code-used = You signed in with a recovery code, which no longer works. If few are left, make new ones below.
notice-mfa-removed = The authenticator app and its recovery codes were removed.
notice-passkey-added = Your passkey was added. You can sign in with it now.
notice-passkey-removed = The passkey was removed.
notice-app-revoked = The app no longer has access to your account.
notice-linked = You can now sign in with that account too.
notice-unlinked = That sign-in method was removed.
notice-session-ended = The session has ended.
notice-password-changed = Your password has been changed, and your other sessions have ended.
notice-profile-saved = Your profile has been saved.

## Profile fields on the account page

claim-name = Full name
claim-given-name = Given name
claim-family-name = Family name
claim-middle-name = Middle name
claim-nickname = Nickname
claim-profile = Profile page
claim-picture = Picture
claim-website = Website
claim-gender = Gender
claim-birthdate = Birthday
claim-zoneinfo = Time zone
claim-locale = Language
claim-address-formatted = Address, as written on a letter
claim-address-street = Street address
claim-address-locality = City
claim-address-region = State or region
claim-address-postal-code = Postal code
claim-address-country = Country
claim-other = Other
claim-hint-url = A web address, https://…
claim-hint-picture = A web address of an image, https://…
claim-hint-birthdate = YYYY-MM-DD, or 0000-MM-DD to keep the year to yourself
claim-hint-zoneinfo = For example Europe/Paris or America/New_York
claim-hint-locale = For example en-US or fr-CA

## Authenticator apps and recovery codes

account-login-lead = to manage your account
recovery-codes-title = Your recovery codes
recovery-codes-lead = If you lose your device, each of these codes signs you in once instead of a code from the app. Keep them somewhere safe: they are shown only now.
recovery-codes-make-new-html = Make new recovery codes on <a href="{ $account }">your account page</a>.
recovery-codes-mfa-on = Two-step verification is on.
recovery-codes-old-gone = Your previous recovery codes no longer work.
recovery-codes-back = Back to your account
continue-to = Continue to { $client }
enroll-scan = Scan this code with an authenticator app (Google Authenticator, Microsoft Authenticator, 1Password, Aegis…).
enroll-qr-alt = QR code for your authenticator app
enroll-on-this-phone = On this phone?
enroll-open-in-app = Open it in your authenticator app
enroll-by-hand = Or enter this key by hand:
enroll-link = Link:
enroll-code = Code from the app
enroll-turn-on = Turn on
enroll-cancel = Cancel
recovery-code-used-title = Signed in with a recovery code
recovery-code-used = { $count ->
        [0] You used your last recovery code. Make new ones now, or you may be locked out if you lose your device.
        [one] You used a recovery code: 1 is left.
       *[other] You used a recovery code: { $count } are left.
    }
enroll-required = Two-step verification is required to continue to { $client }. Set up an authenticator app: it takes a minute.

## Error pages of the device flow, the account page and upstream providers

device-error-forged = This form could not be verified. Make sure cookies are enabled and enter the code again.
device-error-session-ended = Your session has ended. Enter the code from your device again.
device-error-no-decision = Choose Approve or Deny.
device-error-already-completed = This request was already completed. You can return to your device.
device-error-expired = The code has expired. Start again on your device to get a new code.
account-error-no-app = No app was chosen.
account-error-session-gone = That session has already ended.
error-session-ended = Your session has ended. Go back to the application and sign in again.
upstream-unknown = There is no such sign-in provider.
upstream-expired = This sign-in has expired or was already completed. Go back to the application and start again.
upstream-other-browser = This sign-in was started in another browser. Go back to the application and start again here.
upstream-wrong-issuer = This answer does not come from { $provider }. Go back to the application and try again.
upstream-incomplete = { $provider } did not complete the sign-in.
upstream-unreachable = { $provider } cannot be reached right now. Please try again in a moment.
upstream-unverifiable = The answer from { $provider } could not be verified, so you were not signed in. Go back to the application and try again.
upstream-linked-gone = The account linked to this sign-in no longer exists.
upstream-disabled = This account is disabled.
upstream-login-expired = This sign-in request has expired. Go back to the application and start again.
upstream-not-linked-here = No account here is linked to your { $provider } account. Sign in with your password and link it on your account page, or ask an administrator.
upstream-email-unverified = { $provider } did not confirm your email address, so no account can be created for you.
upstream-domain-not-allowed = Accounts from your organization cannot sign in here.
upstream-no-username = { $provider } did not provide a usable { $claim }.
upstream-username-taken = An account named { $username } already exists here. Sign in with its password, then link your { $provider } account on your account page.
upstream-try-again = Please try signing in again.
upstream-not-signed-in = You are no longer signed in to the account you wanted to link. Sign in and try again.
upstream-linked-elsewhere = This { $provider } account is already linked to another account here.
upstream-not-linked = That sign-in method is not linked.
upstream-last-method = This is the only way to sign in to your account, so it cannot be removed.
upstream-refused = Sign-in at { $provider } was cancelled or refused. Go back to the application and try again.
upstream-sign-in-again = { $provider } needs you to sign in again. Go back to the application and try again.
upstream-failed = { $provider } could not sign you in. Go back to the application and try again.

## Account page errors, consent errors

account-error-no-password = This account has no password to change.
account-error-wrong-password = Your current password is not correct.
account-error-no-email-server = This server does not send email.
account-error-sign-in-again = Sign out and sign in again to change your address.
account-error-same-address = That is already your address.
account-error-address-refused = The address is not accepted: { $reason }.
claim-refused-text = use at most 256 characters, without line breaks or control characters
claim-refused-email = enter an address such as name@example.com
claim-refused-email-missing = enter an email address
claim-refused-url = enter a full web address that starts with https:// or http://, of at most 2048 characters
claim-refused-date = enter a date as YYYY-MM-DD, as 0000-MM-DD to leave out the year, or just the year
claim-refused-locale = enter a language tag such as en-US
claim-refused-time-zone = enter a time zone name such as Europe/Paris
claim-refused-phone = enter an international number that starts with +, such as +44 20 7946 0958
claim-refused-other = this value is not accepted
consent-error-no-decision = Choose Allow or Deny.
consent-error-already-completed = This request was already completed.

## Sign-up

login-new-here = New here?
login-create-account = Create an account
notice-welcome = Welcome! Your account is ready.
signup-title = Create an account
signup-closed-title = Sign-up is closed
signup-closed = Accounts on { $product } are created by its administrators. Please ask them for an account.
signup-invite-only-title = Sign-up is by invitation
signup-invite-only = Accounts on { $product } are created through an invitation. If you have one, open the link in its email; otherwise, ask an administrator to invite you.
signup-throttled-title = Too many attempts
signup-throttled = Too many sign-up attempts came from your network. Please wait a while and try again.
signup-check-email-title = Check your email
signup-check-email-html = We have sent a message to <strong>{ $email }</strong>. Open the link in it to confirm your address, then sign in.
signup-no-email = No email? Check your spam folder.
signup-on = on { $product }
signup-email = Email address
signup-domains = Addresses at { $domains } only.
signup-password-rules = At least { $count ->
        [one] { $count } character
       *[other] { $count } characters
    }. A few unrelated words make a good password; very common passwords are refused.
signup-password-again = Password again
signup-submit = Create the account
signup-have-account = Already have an account?
signup-error-domain = Sign-up takes addresses at { $domains } only.
signup-error-email = The email address is not accepted: { $reason }.
signup-error-password = The password is not accepted: { $reason }.
signup-error-username-length = The username must be 1 to 64 characters long.
signup-error-username-spaces = The username must not contain white space or control characters.
signup-error-mismatch = The two passwords do not match.
signup-error-username-taken = That username is taken. Please choose another.
signup-error-email-taken = An account with this email address exists. Sign in, or ask an administrator for help.
signup-error-failed = Your account could not be created. Please try again.
password-too-short = the password must be at least { $count ->
        [one] { $count } character
       *[other] { $count } characters
    } long
password-too-long = the password must be at most { $max } bytes long
password-common = this password is one of the most commonly used ones, which are guessed first; choose another (a few unrelated words make a good one)
invitation-title = Accept your invitation
invitation-invalid-title = This invitation no longer works
invitation-invalid = The invitation has expired, was already used, or was withdrawn. Please ask for a new one.
invitation-heading = Create your account
invitation-lead-html = on { $product }, for <strong>{ $email }</strong>
invitation-email-note = Confirmed by your invitation.
confirm-address-title = Confirm your email address
confirm-address-lead-html = before you continue to <strong>{ $client }</strong>
confirm-address-sent-html = We have sent a link to <strong>{ $email }</strong>. Open it to confirm your address, then come back here and continue.
confirm-address-continue = I have confirmed it, continue
confirm-address-resend = Send the link again
confirm-address-resent = We have sent a new link.
confirm-address-throttled = We have sent several links already. Please wait a while before asking again.
email-invitation-subject = You are invited to { $product }
email-invitation-title = You are invited
email-hello-anonymous = Hello,
email-invitation-body-html = You are invited to create an account on { $product } for <strong>{ $address }</strong>.
email-invitation-body = You are invited to create an account on { $product } for { $address }. Open this link to choose your username and password:
email-invitation-button = Create my account
email-invitation-valid = The link works once, for { $days ->
        [one] { $days } day
       *[other] { $days } days
    }. If you did not expect this invitation, you can ignore this email.
email-exists-subject = You already have an account on { $product }
email-exists-title = You already have an account
email-exists-tried-html = Someone (perhaps you) tried to create a new account on { $product } with <strong>{ $address }</strong>.
email-exists-tried = Someone (perhaps you) tried to create a new account on { $product } with { $address }.
email-exists-already-html = An account with this address already exists, under the username <strong>{ $username }</strong>, so no new account was made.
email-exists-already = An account with this address already exists, under the username { $username }, so no new account was made.
email-exists-how = To sign in, use that username. If you forgot your password, reset it here:
email-exists-button = Reset my password
email-exists-not-you = If this was not you, you can ignore this email.
