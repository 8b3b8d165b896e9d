//! Sign-up (docs/self-service.md, "Sign-up and invitations"): people
//! creating their own accounts, on `/signup` when `signup.mode = "open"`,
//! or through an operator's invitation (`latchkey invite create`, the admin
//! API) in "invite" and "open" mode.
//!
//! An invitation's link carries a random token of which only the SHA-256 is
//! stored; accepting spends it (`SignupStore::take_invitation`, one winner)
//! before it expires. Following it proves the address, so the account's
//! address is verified. Accounts of open sign-up, when
//! `signup.require_verified_email` is on, are marked and get no token until
//! their address is verified through the emailed link.

use std::net::IpAddr;

use latchkey_config::{Signup, SignupMode};
use latchkey_core::audit::AuditEvent;
use latchkey_core::lockout::address_key;
use latchkey_core::secret::hash_token;
use latchkey_core::{Clock, User, UserClaims, password, random, user};
use latchkey_email::Outbox;
use latchkey_email::messages::{AccountExists, Invitation as InvitationEmail};
use latchkey_i18n::{Language, Text};
use latchkey_store::{Invitation, Store, StoreError, record_audit};

use crate::self_service::{self, Mail};
use crate::users::{self, NewUser, UserError};

/// Where an invitation's link leads, under the issuer.
pub const INVITATION_PATH: &str = "/invitation";

/// What a person typed on the sign-up or invitation page.
#[derive(Debug, Clone, Default)]
pub struct NewAccount {
    pub username: String,
    /// Ignored for an invitation (the address is the invitation's).
    pub email: String,
    pub password: String,
    pub confirm: String,
}

/// Why an account was not created. Pages say it in the reader's language
/// (the catalog messages these carry); `Display` is English.
#[derive(Debug, thiserror::Error)]
pub enum SignupError {
    /// Sign-up is not open here (`signup.mode`).
    #[error("sign-up is closed")]
    Closed,
    /// Too many attempts from this address: retry after this many seconds.
    #[error("too many attempts")]
    Throttled(u64),
    /// A field is not accepted: (field, what the page says).
    #[error("{}", Language::En.text(.1))]
    Invalid(&'static str, Text),
    /// The address is not at one of `signup.allowed_email_domains` (listed).
    #[error("sign-up takes addresses at {0} only")]
    EmailDomain(String),
    /// The password is not within the policy.
    #[error("the password is not accepted: {0}")]
    Password(password::PolicyRefusal),
    #[error("the username is taken")]
    UsernameTaken,
    /// The address has an account, and no email can tell its owner.
    #[error("an account with this address exists")]
    EmailTaken,
    /// Unknown, used, expired or revoked invitation.
    #[error("the invitation is not valid")]
    Invitation,
    #[error("cannot hash the password: {0}")]
    Hash(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<UserError> for SignupError {
    fn from(e: UserError) -> Self {
        match e {
            UserError::Taken(_) => Self::UsernameTaken,
            UserError::Policy(refusal) => Self::Password(refusal),
            UserError::Hash(e) => Self::Hash(e),
            UserError::Store(e) => Self::Store(e),
            UserError::NotFound(name) => Self::Store(StoreError::Backend(format!("user {name:?} vanished"))),
        }
    }
}

/// What open sign-up did.
#[derive(Debug)]
pub enum SignedUp {
    /// The account exists; sign the person in. `verify`: a confirmation
    /// link was sent and no token is issued before it is used.
    Created { user: Box<User>, verify: bool },
    /// The address (as normalised) already has an account: its owner was
    /// told by email, and the page must answer as for a new account that
    /// awaits its confirmation link.
    CheckEmail { address: String },
}

/// What the operations need.
pub struct Signups<'a> {
    pub store: &'a dyn Store,
    pub clock: &'a dyn Clock,
    pub settings: &'a Signup,
    /// `None` without email configured.
    pub mail: Option<Mail<'a>>,
    pub issuer: &'a str,
}

impl Signups<'_> {
    /// Counts a sign-up attempt from `ip`; the retry delay beyond the limit.
    async fn throttled(&self, ip: IpAddr) -> Result<Option<u64>, StoreError> {
        let window = self.settings.rate_window_seconds.get().clamp(1, u64::from(u32::MAX)) as u32;
        let now = self.clock.now();
        let hits = self.store.hit(&format!("signup:{}", address_key(ip)), window, now).await?;
        if hits <= self.settings.max_per_address {
            return Ok(None);
        }
        let retry = i64::from(window) - now.rem_euclid(i64::from(window));
        Ok(Some(retry.max(1) as u64))
    }

    async fn audit(&self, event: AuditEvent) {
        record_audit(self.store, event).await;
    }
}

/// Checks what every new account's form must satisfy: the username, the
/// two passwords alike and within the policy.
fn check_form(form: &NewAccount) -> Result<(), SignupError> {
    let username = form.username.trim();
    if user::validate_username(username).is_err() {
        // `validate_username`'s rules, in the order it checks them.
        let n = username.chars().count();
        let why = if n == 0 || n > 64 { "signup-error-username-length" } else { "signup-error-username-spaces" };
        return Err(SignupError::Invalid("username", Text::new(why)));
    }
    if form.password != form.confirm {
        return Err(SignupError::Invalid("confirm_password", Text::new("signup-error-mismatch")));
    }
    password::check_policy(&form.password).map_err(SignupError::Password)
}

/// An address refused by the claim's rules (their reason is English).
fn email_refused(e: latchkey_core::profile::ClaimError) -> Text {
    Text::with_message("signup-error-email", "reason", e.refusal.message_id())
}

/// The one account with this address, if any (addresses are not indexed; a
/// scan is fine for what sign-up serves, and it runs once per sign-up).
async fn account_with_address(store: &dyn Store, address: &str) -> Result<Option<User>, StoreError> {
    Ok(store
        .list_users()
        .await?
        .into_iter()
        .find(|u| u.claims.email.as_deref().is_some_and(|e| e.eq_ignore_ascii_case(address))))
}

/// Whether open sign-up takes `address` (`signup.allowed_email_domains`).
pub fn domain_allowed(settings: &Signup, address: &str) -> bool {
    let allowed = settings.allowed_email_domains();
    if allowed.is_empty() {
        return true;
    }
    let domain = address.rsplit_once('@').map(|(_, d)| d.to_ascii_lowercase()).unwrap_or_default();
    allowed.contains(&domain)
}

/// Open sign-up: limited per source address (every attempt counts), the
/// address checked against the allowed domains, the password against the
/// policy. A taken username is said (it must be: the person picks
/// another); a taken address is not, where email can tell its owner.
pub async fn sign_up(s: &Signups<'_>, form: NewAccount, ip: IpAddr) -> Result<SignedUp, SignupError> {
    if s.settings.mode != SignupMode::Open {
        return Err(SignupError::Closed);
    }
    if let Some(retry) = s.throttled(ip).await? {
        return Err(SignupError::Throttled(retry));
    }
    let address = form.email.trim().to_string();
    let mut claims = UserClaims::default();
    claims.set("email", &address).map_err(|e| SignupError::Invalid("email", email_refused(e)))?;
    if !domain_allowed(s.settings, &address) {
        return Err(SignupError::EmailDomain(s.settings.allowed_email_domains().join(", ")));
    }
    check_form(&form)?;
    let username = form.username.trim().to_string();
    if s.store.find_user_by_username(&username).await?.is_some() {
        return Err(SignupError::UsernameTaken);
    }
    if let Some(owner) = account_with_address(s.store, &address).await? {
        let Some(mail) = &s.mail else { return Err(SignupError::EmailTaken) };
        // The work a new account costs (its password hashed), so that the
        // answer takes as long either way.
        users::hash_password(form.password).await?;
        let link = format!("{}{}", s.issuer.trim_end_matches('/'), "/forgot-password");
        let message = AccountExists {
            lang: mail.language_for(&owner),
            product: mail.product,
            username: &owner.username,
            address: &address,
            link,
        };
        queue(mail.outbox, &address, message.render(mail.overrides)).await?;
        let event = AuditEvent::new(s.clock.now(), "signup.address_taken", "anonymous")
            .ip(ip)
            .subject(&owner.id)
            .detail("email", address.as_str());
        s.audit(event).await;
        let address = claims.email.unwrap_or(address);
        return Ok(SignedUp::CheckEmail { address });
    }
    let verify = s.settings.require_verified_email && s.mail.is_some();
    let new = NewUser { username, password: Some(form.password), disabled: false, claims };
    let now = s.clock.now();
    let user = users::create_user(s.store, new, now).await?;
    if verify {
        s.store.mark_unverified_signup(&user.id, now).await?;
    }
    let event = AuditEvent::new(now, "signup.created", format!("user:{}", user.id))
        .subject(&user.id)
        .ip(ip)
        .detail("username", user.username.as_str())
        .detail("email", address.as_str());
    s.audit(event).await;
    if let Some(mail) = &s.mail {
        self_service::send_verification(mail, &user).await?;
    }
    Ok(SignedUp::Created { user: Box::new(user), verify })
}

async fn queue(
    outbox: &Outbox,
    to: &str,
    message: Result<latchkey_email::messages::Rendered, askama::Error>,
) -> Result<(), StoreError> {
    match message {
        Ok(message) => outbox.enqueue(to, message).await,
        Err(e) => Err(StoreError::Backend(format!("cannot render an email: {e}"))),
    }
}

/// Whether `user` may not have a token yet: an account of open sign-up
/// whose address is not verified, while `signup.require_verified_email`.
pub async fn awaits_verification(store: &dyn Store, settings: &Signup, user: &User) -> Result<bool, StoreError> {
    if !settings.require_verified_email || user.claims.email_verified {
        return Ok(false);
    }
    store.is_unverified_signup(&user.id).await
}

/// Why an invitation was not made.
#[derive(Debug, thiserror::Error)]
pub enum InviteError {
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A new invitation: the record, its link (shown once), and whether it was
/// emailed.
#[derive(Debug)]
pub struct Invited {
    pub invitation: Invitation,
    pub link: String,
    pub emailed: bool,
}

/// What an invitation is made of.
#[derive(Debug, Clone, Default)]
pub struct NewInvitation {
    pub email: String,
    pub groups: Vec<String>,
    /// Seconds; `signup.invitation_ttl_seconds` when `None`.
    pub expires_in: Option<i64>,
    /// Email the link (when email is configured).
    pub send: bool,
    /// Who makes it, for the record and the audit log ("cli", "admin:…").
    pub created_by: String,
    /// The language the operator chose for the person: the email's, the
    /// page's and the new account's `locale`. `None`: the email is English
    /// and the page speaks the browser's language.
    pub locale: Option<Language>,
}

/// An invitation as the CLI and the admin API list it (never its token or
/// its hash).
pub fn invitation_summary(i: &Invitation, now: i64) -> serde_json::Value {
    serde_json::json!({
        "id": i.id,
        "email": i.email,
        "groups": i.groups,
        "created_by": i.created_by,
        "created_at": i.created_at,
        "expires_at": i.expires_at,
        "expired": i.expires_at <= now,
        "locale": (!i.locale.is_empty()).then_some(i.locale.as_str()),
    })
}

/// The language the operator chose for an invitation, if any.
pub fn invitation_language(invitation: &Invitation) -> Option<Language> {
    Language::from_tag(&invitation.locale)
}

/// The longest an invitation may live: 90 days.
pub const MAX_INVITATION_TTL: i64 = 7_776_000;

/// Makes an invitation (whatever `signup.mode`: it takes effect when the
/// mode is "invite" or "open"), and emails its link if asked and possible.
pub async fn create_invitation(s: &Signups<'_>, new: NewInvitation) -> Result<Invited, InviteError> {
    let address = new.email.trim().to_string();
    user::validate_email(&address).map_err(InviteError::Invalid)?;
    if address.chars().count() > user::MAX_CLAIM_LEN {
        return Err(InviteError::Invalid("the address is too long".into()));
    }
    let groups = user::validate_groups(&new.groups).map_err(InviteError::Invalid)?;
    let ttl = new.expires_in.unwrap_or(s.settings.invitation_ttl_seconds.secs());
    if !(60..=MAX_INVITATION_TTL).contains(&ttl) {
        return Err(InviteError::Invalid(format!("the expiry must be 60 to {MAX_INVITATION_TTL} seconds")));
    }
    let token = random::token(32);
    let now = s.clock.now();
    let invitation = Invitation {
        id: format!("inv_{}", random::token(12)),
        token_hash: hash_token(&token),
        email: address.clone(),
        groups,
        created_by: new.created_by.clone(),
        created_at: now,
        expires_at: now + ttl,
        locale: new.locale.map(|l| l.tag().to_string()).unwrap_or_default(),
    };
    s.store.insert_invitation(&invitation).await?;
    let link = format!("{}{INVITATION_PATH}?token={token}", s.issuer.trim_end_matches('/'));
    let mut emailed = false;
    if let (true, Some(mail)) = (new.send, &s.mail) {
        let days = (ttl + 86_399) / 86_400;
        let message = InvitationEmail {
            lang: new.locale.unwrap_or(Language::En),
            product: mail.product,
            username: "",
            address: &address,
            link: link.clone(),
            days,
        };
        queue(mail.outbox, &address, message.render(mail.overrides)).await?;
        emailed = true;
    }
    let event = AuditEvent::new(now, "invitation.created", new.created_by)
        .detail("invitation", invitation.id.as_str())
        .detail("email", address.as_str())
        .detail("groups", invitation.groups.clone())
        .detail("emailed", emailed);
    s.audit(event).await;
    Ok(Invited { invitation, link, emailed })
}

/// Revokes invitation `id`; false if there is none (accepted, revoked).
pub async fn revoke_invitation(s: &Signups<'_>, id: &str, actor: &str) -> Result<bool, StoreError> {
    let revoked = s.store.delete_invitation(id).await?;
    if revoked {
        s.audit(AuditEvent::new(s.clock.now(), "invitation.revoked", actor).detail("invitation", id)).await;
    }
    Ok(revoked)
}

/// The invitation a link stands for, if it is still good.
pub async fn invitation_for(s: &Signups<'_>, token: &str) -> Result<Option<Invitation>, StoreError> {
    if s.settings.mode == SignupMode::Closed || token.is_empty() || token.len() > 64 {
        return Ok(None);
    }
    s.store.get_invitation(&hash_token(token), s.clock.now()).await
}

/// Accepts an invitation: the account is made with the invitation's
/// address (verified: the link proved it) and groups, and the invitation is
/// spent. Limited per source address like open sign-up.
pub async fn accept_invitation(
    s: &Signups<'_>,
    token: &str,
    form: NewAccount,
    ip: IpAddr,
) -> Result<User, SignupError> {
    if s.settings.mode == SignupMode::Closed {
        return Err(SignupError::Closed);
    }
    if let Some(retry) = s.throttled(ip).await? {
        return Err(SignupError::Throttled(retry));
    }
    if invitation_for(s, token).await?.is_none() {
        return Err(SignupError::Invitation);
    }
    check_form(&form)?;
    let username = form.username.trim().to_string();
    if s.store.find_user_by_username(&username).await?.is_some() {
        return Err(SignupError::UsernameTaken);
    }
    // Hash before spending the invitation: a failure leaves it usable.
    let password_hash = users::hash_password(form.password).await?;
    let now = s.clock.now();
    let invitation = s.store.take_invitation(&hash_token(token), now).await?.ok_or(SignupError::Invitation)?;
    let mut claims = UserClaims::default();
    claims.set("email", &invitation.email).map_err(|e| SignupError::Invalid("email", email_refused(e)))?;
    claims.email_verified = true;
    claims.groups = invitation.groups.clone();
    if let Some(lang) = invitation_language(&invitation) {
        claims.locale = Some(lang.tag().to_string());
    }
    let user = User {
        id: random::subject(),
        username,
        password_hash: Some(password_hash),
        disabled: false,
        claims,
        created_at: now,
        updated_at: now,
    };
    if let Err(e) = s.store.insert_user(&user).await {
        // Someone took the username meanwhile: the invitation still works.
        s.store.insert_invitation(&invitation).await?;
        return Err(match e {
            StoreError::Conflict(_) => SignupError::UsernameTaken,
            e => e.into(),
        });
    }
    let event = AuditEvent::new(now, "invitation.accepted", format!("user:{}", user.id))
        .subject(&user.id)
        .ip(ip)
        .detail("invitation", invitation.id.as_str())
        .detail("username", user.username.as_str())
        .detail("email", invitation.email.as_str())
        .detail("groups", invitation.groups.clone());
    s.audit(event).await;
    Ok(user)
}
