# Les messages de Latchkey en français (vouvoiement).

## Connexion

login-title = Se connecter
login-lead-html = pour continuer vers <strong>{ $client }</strong>
login-username = Nom d’utilisateur
login-username-or-email = Nom d’utilisateur ou adresse e-mail professionnelle
login-password = Mot de passe
login-submit = Se connecter
login-continue = Continuer
login-forgot-password = Mot de passe oublié ?
login-use-provider = Connectez-vous avec l’un des fournisseurs ci-dessous, ou avec une adresse e-mail de votre organisation.
login-passkey = Se connecter avec une clé d’accès

## Validation en deux étapes

second-factor-title = Validation en deux étapes
second-factor-code = Code de votre application d’authentification
second-factor-lost-device = Appareil perdu ? Saisissez plutôt l’un de vos codes de récupération.
second-factor-submit = Valider
second-factor-passkey = Utiliser plutôt une clé d’accès

## Consentement

consent-title = Autoriser l’accès
consent-heading = { $client } souhaite accéder à votre compte
consent-signed-in-as-html = Connecté en tant que <strong>{ $username }</strong>
consent-will-be-able-html = Si vous l’autorisez, <strong>{ $client }</strong> pourra :
consent-about-app = À propos de cette application
consent-privacy-policy = Politique de confidentialité
consent-terms = Conditions d’utilisation
consent-deny = Refuser
consent-allow = Autoriser
consent-withdraw-html = Vous pouvez retirer cette autorisation à tout moment sur <a href="{ $account }">la page de votre compte</a>.

## Pages d’erreur

error-go-back = Retournez à l’application d’où vous venez et réessayez. Si le problème persiste, contactez le développeur de l’application.

## E-mails (l’objet est la première ligne du modèle texte)

email-hello = Bonjour { $username },
email-or-open-link = Ou ouvrez ce lien :
email-verify-subject = Confirmez votre adresse e-mail pour { $product }
email-verify-title = Confirmez votre adresse e-mail
email-verify-body-html = Veuillez confirmer que <strong>{ $address }</strong> est bien votre adresse e-mail.
email-verify-body = Veuillez confirmer que { $address } est bien votre adresse e-mail en ouvrant ce lien :
email-verify-button = Confirmer mon adresse
email-verify-valid = Le lien fonctionne une seule fois, pendant { $hours ->
        [one] { $hours } heure
       *[other] { $hours } heures
    }. Si vous n’êtes pas à l’origine de cette demande, vous pouvez ignorer cet e-mail.
email-address-changed-subject = Votre adresse e-mail pour { $product } a été modifiée
email-address-changed-title = Votre adresse e-mail a été modifiée
email-address-changed-body-html = L’adresse e-mail de votre compte { $product } a été remplacée par <strong>{ $address }</strong>.
email-address-changed-body = L’adresse e-mail de votre compte { $product } a été remplacée par { $address }.
email-address-changed-advice = Si vous êtes à l’origine de ce changement, vous n’avez rien à faire. Sinon, connectez-vous et changez immédiatement votre mot de passe, ou contactez votre administrateur.
email-reset-subject = Réinitialisez votre mot de passe { $product }
email-reset-title = Réinitialiser votre mot de passe
email-reset-asked = Quelqu’un (vous, nous l’espérons) a demandé à réinitialiser le mot de passe de votre compte { $product }.
email-reset-open-link = Pour en choisir un nouveau, ouvrez ce lien :
email-reset-button = Choisir un nouveau mot de passe
email-reset-valid = Le lien fonctionne une seule fois, pendant { $minutes ->
        [one] { $minutes } minute
       *[other] { $minutes } minutes
    }. Si vous n’êtes pas à l’origine de cette demande, ignorez cet e-mail : votre mot de passe reste inchangé.
email-password-changed-subject = Votre mot de passe { $product } a été modifié
email-password-changed-title = Votre mot de passe a été modifié
email-password-changed-by-reset = Le mot de passe de votre compte { $product } a été modifié le { $when } grâce à un lien de réinitialisation envoyé à cette adresse. Vous avez été déconnecté partout.
email-password-changed-signed-in = Le mot de passe de votre compte { $product } a été modifié le { $when }. Vos autres sessions ont été fermées.
email-password-changed-advice = Si vous n’êtes pas à l’origine de ce changement, réinitialisez immédiatement votre mot de passe et contactez votre administrateur.

## Pages d’erreur (messages décidés en Rust)

error-request-title = Cette demande ne peut pas aboutir
error-sign-out-title = La demande de déconnexion ne peut pas aboutir
error-unavailable-title = Temporairement indisponible
error-unavailable = La connexion est temporairement indisponible. Veuillez réessayer dans un instant.
error-too-large = La requête est trop volumineuse.
error-not-form = La requête n’est pas l’envoi d’un formulaire.
error-interaction-expired = Cette demande de connexion a expiré ou a déjà été utilisée. Retournez à l’application et recommencez.
error-form-forged = Ce formulaire n’a pas pu être vérifié. Vérifiez que les cookies sont activés, retournez à l’application et recommencez.
error-account-forged = Ce formulaire n’a pas pu être vérifié. Vérifiez que les cookies sont activés, rechargez la page et réessayez.
error-sign-out-forged = Ce formulaire n’a pas pu être vérifié. Vérifiez que les cookies sont activés et réessayez.
error-app-gone = L’application n’est plus enregistrée ici.
error-app-unknown = L’application n’est pas enregistrée ici.
error-already-completed = Cette demande de connexion a déjà abouti.
error-missing-client-id = La requête ne désigne aucune application (client_id manquant).
error-repeated-client-id = La requête désigne l’application plus d’une fois.
error-repeated-redirect-uri = La requête indique plus d’une adresse de redirection (redirect_uri).
error-missing-redirect-uri = La requête n’indique pas où revenir (redirect_uri est obligatoire pour cette application).
error-unregistered-redirect-uri = L’adresse de retour (redirect_uri) n’est pas enregistrée pour cette application.
login-incorrect = Nom d’utilisateur ou mot de passe incorrect.

## Autorisations sur la page de consentement

scope-openid = Savoir qui vous êtes (l’identifiant de votre compte)
scope-profile = Voir votre nom et votre nom d’utilisateur
scope-email = Voir votre adresse e-mail
scope-phone = Voir votre numéro de téléphone
scope-groups = Voir les groupes auxquels vous appartenez
scope-address = Voir votre adresse postale
scope-offline-access = Conserver l’accès lorsque vous ne l’utilisez pas
scope-api = Utiliser une API en votre nom

## Appareils, déconnexion, autres pages

device-title = Connecter un appareil
device-enter-code = Saisissez le code affiché sur votre appareil.
device-code = Code
device-consent-heading = Connecter { $client } sur votre appareil ?
device-code-must-be = Le code affiché sur l’appareil doit être :
device-warning = Ne continuez que si vous avez lancé cette opération vous-même, sur un appareil devant vous, et qu’il affiche ce code. Si quelqu’un vous a envoyé ce code ou ce lien, choisissez Refuser : approuver lui donnerait accès à votre compte.
device-will-be-able-html = Si vous approuvez, <strong>{ $client }</strong> sur cet appareil pourra :
device-approve = Approuver
device-connected = Appareil connecté
device-not-connected = Appareil non connecté
device-approved = { $client } a désormais accès sur votre appareil. Vous pouvez revenir à votre appareil.
device-denied = Vous avez refusé l’accès ; rien n’a été partagé. Vous pouvez revenir à votre appareil.
home-title = Accueil
home-account = Votre compte
home-discovery = Document de découverte
not-found-title = Page introuvable
not-found-lead = Il n’y a aucune page à cette adresse.
not-found-home = Accueil de { $product }
logout-title = Se déconnecter
logout-heading = Se déconnecter ?
logout-client-asks-html = <strong>{ $client }</strong> demande à vous déconnecter de { $product }.
logout-question = Voulez-vous vous déconnecter de { $product } ?
logout-ends-everywhere = La déconnexion met fin à votre session ici pour toutes les applications.
logout-stay = Rester connecté
signed-out-title = Déconnecté
signed-out-heading = Vous êtes déconnecté
signed-out-still = Vous êtes toujours connecté
signed-out-lead = Votre session est terminée. Vous pouvez fermer cette fenêtre.
signed-out-nothing = Rien n’a été modifié.
form-post-returning = Retour à l’application…
form-post-noscript = JavaScript est désactivé : appuyez sur Continuer pour revenir à l’application.

## Mot de passe oublié, réinitialisation et confirmation d’adresse

forgot-unavailable-title = La réinitialisation du mot de passe n’est pas disponible
forgot-unavailable = Ce serveur n’envoie pas d’e-mails et ne peut donc pas envoyer de lien de réinitialisation. Veuillez demander à votre administrateur de réinitialiser votre mot de passe.
forgot-sent-title = Consultez vos e-mails
forgot-sent = Si un compte correspond à ce que vous avez saisi et possède une adresse e-mail, nous lui avons envoyé un lien pour choisir un nouveau mot de passe. Le lien fonctionne une seule fois, pendant { $minutes ->
        [one] { $minutes } minute
       *[other] { $minutes } minutes
    }.
forgot-no-email = Pas d’e-mail ? Vérifiez votre dossier de courrier indésirable ou réessayez dans quelques minutes.
forgot-throttled-title = Trop de demandes
forgot-throttled = Trop de demandes de réinitialisation de mot de passe proviennent de votre réseau. Veuillez patienter un moment puis réessayer.
forgot-lead = Saisissez votre nom d’utilisateur ou votre adresse e-mail, et nous vous enverrons un lien pour choisir un nouveau mot de passe.
forgot-identifier = Nom d’utilisateur ou adresse e-mail
forgot-submit = Envoyer le lien
reset-title = Choisir un nouveau mot de passe
link-invalid-title = Ce lien ne fonctionne plus
reset-invalid = Le lien de réinitialisation du mot de passe a expiré ou a déjà été utilisé.
reset-ask-again = Demander un nouveau lien
reset-done-title = Votre mot de passe a été modifié
reset-done = Vous avez été déconnecté partout. Connectez-vous avec votre nouveau mot de passe.
go-to-account = Accéder à votre compte
reset-for = pour { $username }
password-mismatch = Les mots de passe ne correspondent pas.
password-not-changed = Votre mot de passe n’a pas pu être modifié. Veuillez réessayer.
password-not-accepted = Le nouveau mot de passe n’est pas accepté : { $reason }.
password-new = Nouveau mot de passe
password-new-again = Confirmer le nouveau mot de passe
reset-submit = Enregistrer le nouveau mot de passe
verify-invalid = Le lien a expiré, a déjà été utilisé ou concerne une adresse que votre compte n’a plus. Vous pouvez en demander un nouveau sur la page de votre compte.
verify-unavailable-title = L’e-mail n’est pas disponible
verify-unavailable = Ce serveur n’envoie pas d’e-mails ; les adresses ne peuvent donc pas être confirmées ici.
verify-done-title = Votre adresse e-mail est confirmée
verify-done = Merci. Les applications que vous autorisez à voir votre adresse e-mail la verront comme vérifiée.
verify-lead = Appuyez sur le bouton pour confirmer que cette adresse vous appartient.

## La page du compte

account-title = Votre compte
account-apps = Applications ayant accès
account-no-apps = Aucune application n’a accès à votre compte.
account-allowed = Autorisée le { $date }
account-last-changed = dernière modification le { $date }
account-remove-access = Retirer l’accès
account-sessions = Où vous êtes connecté
account-this-browser = Ce navigateur
account-other-browser = Un autre navigateur
account-signed-in-on = connecté le { $date }
account-last-active = dernière activité le { $date }
account-end-session = Fermer cette session
account-methods = Méthodes de connexion
account-linked = associé le { $date }
account-remove = Supprimer
account-link-provider = Associer votre compte { $provider }
account-authenticator = Application d’authentification
account-added = ajoutée le { $date }
account-last-used = dernière utilisation le { $date }
account-not-used = pas encore utilisée
account-codes-left = { $count ->
        [one] { $count } code de récupération restant
       *[other] { $count } codes de récupération restants
    }
account-current-code = Code actuel de votre application
account-new-codes = Nouveaux codes de récupération
account-current-code-or-recovery = Code actuel de votre application (ou un code de récupération)
account-turn-off = Désactiver
account-mfa-lead = Connectez-vous avec un code provenant d’une application sur votre téléphone, en plus de votre mot de passe.
account-mfa-set-up = Configurer une application d’authentification
account-email = Adresse e-mail
account-email-confirmed = confirmée
account-email-unconfirmed = pas encore confirmée
account-no-email = Votre compte n’a pas d’adresse e-mail.
account-email-resend = Envoyer un nouveau lien de confirmation
account-email-stale = Pour changer d’adresse, déconnectez-vous puis reconnectez-vous, et revenez ici dans les minutes qui suivent.
account-email-new = Nouvelle adresse e-mail
account-current-password = Mot de passe actuel
account-email-change = Changer d’adresse e-mail
account-email-how = Nous envoyons un lien à la nouvelle adresse pour la confirmer, et prévenons l’ancienne adresse du changement.
account-email-off = Ce serveur n’envoie pas d’e-mails ; votre adresse ne peut donc être ni modifiée ni confirmée ici. Adressez-vous à votre administrateur.
account-profile = Votre profil
account-profile-lead = Les applications que vous autorisez à voir votre profil ou votre adresse reçoivent ces informations.
account-profile-save = Enregistrer le profil
account-passkeys = Clés d’accès
account-passkeys-lead = Connectez-vous avec votre empreinte, votre visage, le verrouillage de votre écran ou une clé de sécurité au lieu d’un mot de passe, ou comme deuxième étape après celui-ci.
account-passkey-name = Nom de la nouvelle clé d’accès
account-passkey-placeholder = Ordinateur portable du travail
account-passkey-add = Ajouter une clé d’accès
account-password = Changer votre mot de passe
account-password-change = Changer le mot de passe
account-password-how = Changer votre mot de passe vous déconnecte partout ailleurs.
notice-email-changed = Votre adresse e-mail a été modifiée. Nous avons envoyé un lien pour la confirmer ; votre ancienne adresse a été prévenue.
notice-verification-sent = Nous avons envoyé un nouveau lien de confirmation à votre adresse e-mail.
notice-verification-throttled = Plusieurs e-mails ont été envoyés récemment à votre compte. Veuillez patienter avant d’en demander un autre.
notice-recovery-code-used = Vous vous êtes connecté avec un code de récupération, qui ne fonctionne plus. S’il vous en reste peu, créez-en de nouveaux ci-dessous.
notice-mfa-removed = L’application d’authentification et ses codes de récupération ont été supprimés.
notice-passkey-added = Votre clé d’accès a été ajoutée. Vous pouvez maintenant vous connecter avec.
notice-passkey-removed = La clé d’accès a été supprimée.
notice-app-revoked = L’application n’a plus accès à votre compte.
notice-linked = Vous pouvez désormais vous connecter aussi avec ce compte.
notice-unlinked = Cette méthode de connexion a été supprimée.
notice-session-ended = La session a été fermée.
notice-password-changed = Votre mot de passe a été modifié et vos autres sessions ont été fermées.
notice-profile-saved = Votre profil a été enregistré.

## Champs du profil sur la page du compte

claim-name = Nom complet
claim-given-name = Prénom
claim-family-name = Nom de famille
claim-middle-name = Deuxième prénom
claim-nickname = Surnom
claim-profile = Page de profil
claim-picture = Photo
claim-website = Site web
claim-gender = Genre
claim-birthdate = Date de naissance
claim-zoneinfo = Fuseau horaire
claim-locale = Langue
claim-address-formatted = Adresse, telle qu’écrite sur une lettre
claim-address-street = Adresse postale
claim-address-locality = Ville
claim-address-region = Région ou province
claim-address-postal-code = Code postal
claim-address-country = Pays
claim-other = Autre
claim-hint-url = Une adresse web, https://…
claim-hint-picture = L’adresse web d’une image, https://…
claim-hint-birthdate = AAAA-MM-JJ, ou 0000-MM-JJ pour garder l’année pour vous
claim-hint-zoneinfo = Par exemple Europe/Paris ou America/Montreal
claim-hint-locale = Par exemple fr-FR ou fr-CA

## Applications d’authentification et codes de récupération

account-login-lead = pour gérer votre compte
recovery-codes-title = Vos codes de récupération
recovery-codes-lead = Si vous perdez votre appareil, chacun de ces codes vous connecte une fois à la place d’un code de l’application. Conservez-les en lieu sûr : ils ne sont affichés qu’une seule fois.
recovery-codes-make-new-html = Créez de nouveaux codes de récupération sur <a href="{ $account }">la page de votre compte</a>.
recovery-codes-mfa-on = La validation en deux étapes est activée.
recovery-codes-old-gone = Vos anciens codes de récupération ne fonctionnent plus.
recovery-codes-back = Retour à votre compte
continue-to = Continuer vers { $client }
enroll-scan = Scannez ce code avec une application d’authentification (Google Authenticator, Microsoft Authenticator, 1Password, Aegis…).
enroll-qr-alt = QR code pour votre application d’authentification
enroll-on-this-phone = Sur ce téléphone ?
enroll-open-in-app = Ouvrir dans votre application d’authentification
enroll-by-hand = Ou saisissez cette clé à la main :
enroll-link = Lien :
enroll-code = Code de l’application
enroll-turn-on = Activer
enroll-cancel = Annuler
recovery-code-used-title = Connecté avec un code de récupération
recovery-code-used = { $count ->
        [0] Vous avez utilisé votre dernier code de récupération. Créez-en de nouveaux maintenant, sinon vous risquez de perdre l’accès si vous perdez votre appareil.
        [one] Vous avez utilisé un code de récupération : il en reste 1.
       *[other] Vous avez utilisé un code de récupération : il en reste { $count }.
    }
enroll-required = La validation en deux étapes est obligatoire pour continuer vers { $client }. Configurez une application d’authentification : cela prend une minute.

## Pages d’erreur : appareils, compte, fournisseurs externes

device-error-forged = Ce formulaire n’a pas pu être vérifié. Vérifiez que les cookies sont activés et saisissez à nouveau le code.
device-error-session-ended = Votre session est terminée. Saisissez à nouveau le code affiché sur votre appareil.
device-error-no-decision = Choisissez Approuver ou Refuser.
device-error-already-completed = Cette demande a déjà abouti. Vous pouvez revenir à votre appareil.
device-error-expired = Le code a expiré. Recommencez sur votre appareil pour obtenir un nouveau code.
account-error-no-app = Aucune application n’a été choisie.
account-error-session-gone = Cette session est déjà fermée.
error-session-ended = Votre session est terminée. Retournez à l’application et reconnectez-vous.
upstream-unknown = Ce fournisseur de connexion n’existe pas.
upstream-expired = Cette connexion a expiré ou a déjà abouti. Retournez à l’application et recommencez.
upstream-other-browser = Cette connexion a été commencée dans un autre navigateur. Retournez à l’application et recommencez ici.
upstream-wrong-issuer = Cette réponse ne provient pas de { $provider }. Retournez à l’application et réessayez.
upstream-incomplete = { $provider } n’a pas terminé la connexion.
upstream-unreachable = { $provider } est injoignable pour le moment. Veuillez réessayer dans un instant.
upstream-unverifiable = La réponse de { $provider } n’a pas pu être vérifiée ; vous n’avez donc pas été connecté. Retournez à l’application et réessayez.
upstream-linked-gone = Le compte associé à cette connexion n’existe plus.
upstream-disabled = Ce compte est désactivé.
upstream-login-expired = Cette demande de connexion a expiré. Retournez à l’application et recommencez.
upstream-not-linked-here = Aucun compte ici n’est associé à votre compte { $provider }. Connectez-vous avec votre mot de passe et associez-le sur la page de votre compte, ou adressez-vous à un administrateur.
upstream-email-unverified = { $provider } n’a pas confirmé votre adresse e-mail ; aucun compte ne peut donc être créé pour vous.
upstream-domain-not-allowed = Les comptes de votre organisation ne peuvent pas se connecter ici.
upstream-no-username = { $provider } n’a pas fourni de valeur utilisable pour { $claim }.
upstream-username-taken = Un compte nommé { $username } existe déjà ici. Connectez-vous avec son mot de passe, puis associez votre compte { $provider } sur la page de votre compte.
upstream-try-again = Veuillez essayer de vous reconnecter.
upstream-not-signed-in = Vous n’êtes plus connecté au compte que vous vouliez associer. Connectez-vous et réessayez.
upstream-linked-elsewhere = Ce compte { $provider } est déjà associé à un autre compte ici.
upstream-not-linked = Cette méthode de connexion n’est pas associée.
upstream-last-method = C’est le seul moyen de vous connecter à votre compte ; il ne peut donc pas être supprimé.
upstream-refused = La connexion auprès de { $provider } a été annulée ou refusée. Retournez à l’application et réessayez.
upstream-sign-in-again = { $provider } vous demande de vous reconnecter. Retournez à l’application et réessayez.
upstream-failed = { $provider } n’a pas pu vous connecter. Retournez à l’application et réessayez.

## Erreurs de la page du compte et du consentement

account-error-no-password = Ce compte n’a pas de mot de passe à changer.
account-error-wrong-password = Votre mot de passe actuel est incorrect.
account-error-no-email-server = Ce serveur n’envoie pas d’e-mails.
account-error-sign-in-again = Déconnectez-vous puis reconnectez-vous pour changer votre adresse.
account-error-same-address = C’est déjà votre adresse.
account-error-address-refused = L’adresse n’est pas acceptée : { $reason }.
claim-refused-text = 256 caractères au plus, sans saut de ligne ni caractère de contrôle
claim-refused-email = saisissez une adresse comme nom@example.com
claim-refused-email-missing = saisissez une adresse e-mail
claim-refused-url = saisissez une adresse web complète commençant par https:// ou http:// (2048 caractères au plus)
claim-refused-date = saisissez une date au format AAAA-MM-JJ, 0000-MM-JJ pour omettre l’année, ou seulement l’année
claim-refused-locale = saisissez un code de langue comme fr-FR
claim-refused-time-zone = saisissez un fuseau horaire comme Europe/Paris
claim-refused-phone = saisissez un numéro international commençant par +, par exemple +33 1 23 45 67 89
claim-refused-other = cette valeur n’est pas acceptée
consent-error-no-decision = Choisissez Autoriser ou Refuser.
consent-error-already-completed = Cette demande a déjà abouti.

## Sign-up

login-new-here = Nouveau ici ?
login-create-account = Créer un compte
notice-welcome = Bienvenue ! Votre compte est prêt.
signup-title = Créer un compte
signup-closed-title = Les inscriptions sont fermées
signup-closed = Les comptes { $product } sont créés par ses administrateurs. Veuillez leur demander un compte.
signup-invite-only-title = Inscription sur invitation
signup-invite-only = Les comptes { $product } sont créés au moyen d’une invitation. Si vous en avez une, ouvrez le lien de son e-mail ; sinon, demandez à un administrateur de vous inviter.
signup-throttled-title = Trop de tentatives
signup-throttled = Trop de tentatives d’inscription proviennent de votre réseau. Veuillez patienter un moment puis réessayer.
signup-check-email-title = Consultez vos e-mails
signup-check-email-html = Nous avons envoyé un message à <strong>{ $email }</strong>. Ouvrez le lien qu’il contient pour confirmer votre adresse, puis connectez-vous.
signup-no-email = Pas d’e-mail ? Vérifiez votre dossier de courrier indésirable.
signup-on = sur { $product }
signup-email = Adresse e-mail
signup-domains = Adresses en { $domains } uniquement.
signup-password-rules = Au moins { $count ->
        [one] { $count } caractère
       *[other] { $count } caractères
    }. Quelques mots sans rapport entre eux font un bon mot de passe ; les mots de passe très courants sont refusés.
signup-password-again = Confirmer le mot de passe
signup-submit = Créer le compte
signup-have-account = Vous avez déjà un compte ?
signup-error-domain = L’inscription n’accepte que les adresses en { $domains }.
signup-error-email = L’adresse e-mail n’est pas acceptée : { $reason }.
signup-error-password = Le mot de passe n’est pas accepté : { $reason }.
signup-error-username-length = Le nom d’utilisateur doit comporter de 1 à 64 caractères.
signup-error-username-spaces = Le nom d’utilisateur ne doit contenir ni espaces ni caractères de contrôle.
signup-error-mismatch = Les deux mots de passe ne correspondent pas.
signup-error-username-taken = Ce nom d’utilisateur est déjà pris. Veuillez en choisir un autre.
signup-error-email-taken = Un compte existe déjà avec cette adresse e-mail. Connectez-vous ou demandez de l’aide à un administrateur.
signup-error-failed = Votre compte n’a pas pu être créé. Veuillez réessayer.
password-too-short = le mot de passe doit comporter au moins { $count ->
        [one] { $count } caractère
       *[other] { $count } caractères
    }
password-too-long = le mot de passe doit faire au plus { $max } octets
password-common = ce mot de passe fait partie des plus utilisés, qui sont devinés en premier ; choisissez-en un autre (quelques mots sans rapport entre eux en font un bon)
invitation-title = Accepter votre invitation
invitation-invalid-title = Cette invitation ne fonctionne plus
invitation-invalid = L’invitation a expiré, a déjà été utilisée ou a été retirée. Veuillez en demander une nouvelle.
invitation-heading = Créez votre compte
invitation-lead-html = sur { $product }, pour <strong>{ $email }</strong>
invitation-email-note = Confirmée par votre invitation.
confirm-address-title = Confirmez votre adresse e-mail
confirm-address-lead-html = avant de continuer vers <strong>{ $client }</strong>
confirm-address-sent-html = Nous avons envoyé un lien à <strong>{ $email }</strong>. Ouvrez-le pour confirmer votre adresse, puis revenez ici et continuez.
confirm-address-continue = Je l’ai confirmée, continuer
confirm-address-resend = Renvoyer le lien
confirm-address-resent = Nous avons envoyé un nouveau lien.
confirm-address-throttled = Nous avons déjà envoyé plusieurs liens. Veuillez patienter un moment avant d’en redemander un.
email-invitation-subject = Vous êtes invité sur { $product }
email-invitation-title = Vous êtes invité
email-hello-anonymous = Bonjour,
email-invitation-body-html = Vous êtes invité à créer un compte sur { $product } pour <strong>{ $address }</strong>.
email-invitation-body = Vous êtes invité à créer un compte sur { $product } pour { $address }. Ouvrez ce lien pour choisir votre nom d’utilisateur et votre mot de passe :
email-invitation-button = Créer mon compte
email-invitation-valid = Le lien fonctionne une seule fois, pendant { $days ->
        [one] { $days } jour
       *[other] { $days } jours
    }. Si vous n’attendiez pas cette invitation, vous pouvez ignorer cet e-mail.
email-exists-subject = Vous avez déjà un compte sur { $product }
email-exists-title = Vous avez déjà un compte
email-exists-tried-html = Quelqu’un (peut-être vous) a essayé de créer un nouveau compte sur { $product } avec <strong>{ $address }</strong>.
email-exists-tried = Quelqu’un (peut-être vous) a essayé de créer un nouveau compte sur { $product } avec { $address }.
email-exists-already-html = Un compte existe déjà avec cette adresse, sous le nom d’utilisateur <strong>{ $username }</strong> ; aucun nouveau compte n’a donc été créé.
email-exists-already = Un compte existe déjà avec cette adresse, sous le nom d’utilisateur { $username } ; aucun nouveau compte n’a donc été créé.
email-exists-how = Pour vous connecter, utilisez ce nom d’utilisateur. Si vous avez oublié votre mot de passe, réinitialisez-le ici :
email-exists-button = Réinitialiser mon mot de passe
email-exists-not-you = Si ce n’était pas vous, vous pouvez ignorer cet e-mail.
