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
