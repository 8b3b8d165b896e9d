# Les messages de Latchkey en français (vouvoiement).

## Connexion

login-title = Se connecter
login-lead-html = pour continuer vers <strong>{ $client }</strong>
login-username = Nom d’utilisateur
login-username-or-email = Nom d’utilisateur ou adresse e-mail professionnelle
login-password = Mot de passe
login-submit = Se connecter
login-continue = Continuer
login-forgot-password = Mot de passe oublié ?
login-passkey = Se connecter avec une clé d’accès

## Validation en deux étapes

second-factor-title = Validation en deux étapes
second-factor-code = Code de votre application d’authentification
second-factor-lost-device = Appareil perdu ? Saisissez plutôt l’un de vos codes de récupération.
second-factor-submit = Valider
second-factor-passkey = Utiliser plutôt une clé d’accès

## Consentement

consent-title = Autoriser l’accès
consent-heading = { $client } souhaite accéder à votre compte
consent-signed-in-as-html = Connecté en tant que <strong>{ $username }</strong>
consent-will-be-able-html = Si vous l’autorisez, <strong>{ $client }</strong> pourra :
consent-about-app = À propos de cette application
consent-privacy-policy = Politique de confidentialité
consent-terms = Conditions d’utilisation
consent-deny = Refuser
consent-allow = Autoriser
consent-withdraw-html = Vous pouvez retirer cette autorisation à tout moment sur <a href="{ $account }">la page de votre compte</a>.

## Pages d’erreur

error-go-back = Retournez à l’application d’où vous venez et réessayez. Si le problème persiste, contactez le développeur de l’application.
