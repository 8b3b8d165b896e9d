//! `/admin/users`: accounts found by id, username, email or name, and paged;
//! creating one; a person's page: their claims (OIDC Core §5.1) and groups,
//! disabling and enabling, setting a password or sending a reset link,
//! clearing a sign-in lock, removing second factors, their sessions and the
//! apps they granted access. Every change is a `latchkey_domain` operation,
//! as `latchkey user …` and the admin API's `/users` do it.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use latchkey_core::profile::{ClaimKind, STRING_CLAIMS};
use latchkey_core::user::{validate_groups, validate_username};
use latchkey_core::{User, UserClaims};
use latchkey_domain::mfa::{self, Factors};
use latchkey_domain::self_service::{self, SendResetError, Sent};
use latchkey_domain::users::{self, NewUser, UserError};
use serde::Deserialize;

use crate::clients::{ConfirmPage, Errors, enc};
use crate::page::{Flash, Layout, Nav, Page, Pager, SearchQuery, not_found, render, search_pager, store_failed, when};
use crate::session::{Ignored, redirect_with};
use crate::sessions::SessionRow;
use crate::{Action, Admin, ConsoleState, Posted, record};

/// Users per page of the list.
const PER_PAGE: usize = 50;

/// One claim's field of the profile form.
pub(crate) struct ClaimField {
    pub name: &'static str,
    /// The element id (`f-address-locality`).
    pub id: String,
    pub label: &'static str,
    pub kind: &'static str,
    pub value: String,
    pub error: Option<String>,
}

fn label_of(name: &str) -> &'static str {
    match name {
        "name" => "Full name",
        "given_name" => "Given name",
        "family_name" => "Family name",
        "middle_name" => "Middle name",
        "nickname" => "Nickname",
        "profile" => "Profile page URL",
        "picture" => "Picture URL",
        "website" => "Website",
        "email" => "Email address",
        "gender" => "Gender",
        "birthdate" => "Birthdate (YYYY-MM-DD)",
        "zoneinfo" => "Time zone (e.g. Europe/Paris)",
        "locale" => "Locale (e.g. en-US)",
        "phone_number" => "Phone number (E.164, e.g. +4930123456)",
        "address.formatted" => "Address, formatted",
        "address.street_address" => "Street address",
        "address.locality" => "City",
        "address.region" => "Region",
        "address.postal_code" => "Postal code",
        "address.country" => "Country",
        _ => "Claim",
    }
}

fn input_kind(kind: ClaimKind) -> &'static str {
    match kind {
        ClaimKind::Email => "email",
        ClaimKind::Url => "url",
        ClaimKind::Phone => "tel",
        _ => "text",
    }
}

/// The profile form's values, as entered or as stored.
#[derive(Debug, Clone, Default)]
pub(crate) struct ProfileForm {
    pub username: String,
    pub claims: Vec<(&'static str, String)>,
    pub email_verified: bool,
    pub phone_number_verified: bool,
    pub groups: String,
    /// Only when creating.
    pub password: String,
}

impl ProfileForm {
    fn of(user: &User) -> Self {
        Self {
            username: user.username.clone(),
            claims: STRING_CLAIMS
                .iter()
                .map(|(n, _)| (*n, user.claims.get(n).unwrap_or_default().to_string()))
                .collect(),
            email_verified: user.claims.email_verified,
            phone_number_verified: user.claims.phone_number_verified,
            groups: user.claims.groups.join("\n"),
            password: String::new(),
        }
    }

    fn blank() -> Self {
        Self { claims: STRING_CLAIMS.iter().map(|(n, _)| (*n, String::new())).collect(), ..Self::default() }
    }

    fn posted(pairs: &[(String, String)]) -> Self {
        let mut f = Self::blank();
        for (k, v) in pairs {
            match k.as_str() {
                "username" => f.username = v.trim().to_string(),
                "email_verified" => f.email_verified = true,
                "phone_number_verified" => f.phone_number_verified = true,
                "groups" => f.groups = v.clone(),
                "password" => f.password = v.clone(),
                name => {
                    if let Some(slot) = f.claims.iter_mut().find(|(n, _)| *n == name) {
                        slot.1 = v.clone();
                    }
                }
            }
        }
        f
    }

    /// The claims (each by the rule of `latchkey_core::profile`, as the CLI
    /// and the admin API set them) and groups; every field's error at once.
    fn checked(&self) -> Result<UserClaims, Errors> {
        let mut errors = Errors::default();
        if let Err(e) = validate_username(&self.username) {
            errors.add("username", format!("The username {e}."));
        }
        let mut claims = UserClaims::default();
        for (name, value) in &self.claims {
            if let Err(e) = claims.set(name, value) {
                errors.add(name, format!("{} {}.", label_of(name), e.reason));
            }
        }
        // A verified flag counts only with its value (as `profile::from_json`).
        claims.email_verified = self.email_verified && claims.email.is_some();
        claims.phone_number_verified = self.phone_number_verified && claims.phone_number.is_some();
        claims.tidy();
        let groups: Vec<&str> = self.groups.lines().map(str::trim).filter(|g| !g.is_empty()).collect();
        match validate_groups(&groups) {
            Ok(groups) => claims.groups = groups,
            Err(e) => errors.add("groups", format!("Groups: {e}.")),
        }
        if errors.is_empty() { Ok(claims) } else { Err(errors) }
    }

    fn fields(&self, errors: &Errors) -> Vec<ClaimField> {
        STRING_CLAIMS
            .iter()
            .map(|(name, kind)| ClaimField {
                name,
                id: format!("f-{}", name.replace('.', "-")),
                label: label_of(name),
                kind: input_kind(*kind),
                value: self.claims.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone()).unwrap_or_default(),
                error: errors.get(name).map(str::to_string),
            })
            .collect()
    }
}

pub(crate) struct UserRow {
    pub id: String,
    pub username: String,
    pub name: String,
    pub email: String,
    pub disabled: bool,
    pub created: String,
}

#[derive(Template)]
#[template(path = "console/users.html")]
struct ListPage {
    layout: Layout,
    query: String,
    users: Vec<UserRow>,
    pager: Pager,
    may_manage: bool,
}

pub(crate) async fn list(State(state): State<ConsoleState>, admin: Admin, Query(query): Query<SearchQuery>) -> Page {
    let (q, page, first) = query.parts();
    let (found, more) = users::search(&*state.store, &q, first, PER_PAGE).await.map_err(|e| store_failed(&state, e))?;
    let pager = search_pager("/admin/users", &q, (page, first), found.len(), more);
    let rows = found
        .into_iter()
        .map(|u| UserRow {
            name: u.claims.name.clone().unwrap_or_default(),
            email: u.claims.email.clone().unwrap_or_default(),
            disabled: u.disabled,
            created: when(u.created_at),
            id: u.id,
            username: u.username,
        })
        .collect();
    let page = ListPage {
        layout: Layout::new(&state, &admin, Nav::Users),
        query: q,
        users: rows,
        pager,
        may_manage: admin.may(Action::ManageUsers),
    };
    Ok(render(&state, StatusCode::OK, &page))
}

#[derive(Template)]
#[template(path = "console/user_new.html")]
struct NewPage {
    layout: Layout,
    form: ProfileForm,
    fields: Vec<ClaimField>,
    errors: Errors,
    problem: Option<String>,
}

fn new_page(state: &ConsoleState, admin: &Admin, form: ProfileForm, errors: Errors) -> NewPage {
    NewPage {
        layout: Layout::new(state, admin, Nav::Users),
        fields: form.fields(&errors),
        problem: (!errors.is_empty()).then(|| "The account was not created: see the fields marked below.".into()),
        form,
        errors,
    }
}

pub(crate) async fn new_form(State(state): State<ConsoleState>, admin: Admin) -> Page {
    admin.require(&state, Action::ManageUsers)?;
    Ok(render(&state, StatusCode::OK, &new_page(&state, &admin, ProfileForm::blank(), Errors::default())))
}

pub(crate) async fn create(
    State(state): State<ConsoleState>,
    Posted { admin, form }: Posted<Vec<(String, String)>>,
) -> Page {
    admin.require(&state, Action::ManageUsers)?;
    let form = ProfileForm::posted(&form);
    let claims = match form.checked() {
        Ok(c) => c,
        Err(errors) => {
            return Ok(render(&state, StatusCode::UNPROCESSABLE_ENTITY, &new_page(&state, &admin, form, errors)));
        }
    };
    let password = (!form.password.is_empty()).then(|| form.password.clone());
    let new = NewUser { username: form.username.clone(), password, disabled: false, claims };
    let now = state.clock.now();
    let user = match users::create_user(&*state.store, new, now).await {
        Ok(user) => user,
        Err(e) => {
            let mut errors = Errors::default();
            match e {
                UserError::Taken(name) => errors.add("username", format!("The username {name} is taken.")),
                UserError::Policy(m) => errors.add("password", format!("The password {m}.")),
                UserError::Store(e) => return Err(store_failed(&state, e)),
                e => errors.add("password", e.to_string()),
            }
            let mut form = form;
            form.password.clear();
            return Ok(render(&state, StatusCode::UNPROCESSABLE_ENTITY, &new_page(&state, &admin, form, errors)));
        }
    };
    record(&state, admin.event(now, "user.created").subject(&user.id).detail("username", user.username.as_str())).await;
    Ok(redirect_with(&state, &user_path(&user.id), Flash::ok(format!("Created {}.", user.username))))
}

fn user_path(id: &str) -> String {
    format!("/admin/users/{}", enc(id))
}

pub(crate) struct ConsentRow {
    pub client_id: String,
    pub client_name: String,
    pub scope: String,
    pub granted: String,
}

pub(crate) struct PasskeyRow {
    pub name: String,
    pub added: String,
    pub last_used: String,
}

#[derive(Template)]
#[template(path = "console/user.html")]
struct UserPage<'a> {
    layout: Layout,
    user: &'a User,
    action: String,
    form: ProfileForm,
    fields: Vec<ClaimField>,
    errors: Errors,
    problem: Option<String>,
    may_manage: bool,
    may_support: bool,
    created: String,
    updated: String,
    /// "locked until …", or the failures counted.
    lock: Option<String>,
    failures: u64,
    totp: Option<String>,
    recovery_codes_left: u64,
    passkeys: Vec<PasskeyRow>,
    /// A reset link can be sent (email is configured).
    can_mail: bool,
    sessions: Vec<SessionRow>,
    consents: Vec<ConsentRow>,
}

async fn find(state: &ConsoleState, admin: &Admin, id: &str) -> Result<User, Response> {
    match state.store.get_user(id).await {
        Ok(Some(u)) => Ok(u),
        Ok(None) => Err(not_found(state, admin, &format!("There is no user {id}."))),
        Err(e) => Err(store_failed(state, e)),
    }
}

/// Listing and removing factors never opens a sealed secret.
fn factors(state: &ConsoleState) -> Factors<'_> {
    Factors { store: &*state.store, clock: &*state.clock, encryption_key: None, issuer_name: "" }
}

async fn user_page<'a>(
    state: &ConsoleState,
    admin: &Admin,
    user: &'a User,
    form: ProfileForm,
    errors: Errors,
) -> Result<UserPage<'a>, Response> {
    let failed = |e| store_failed(state, e);
    let now = state.clock.now();
    let lock = users::sign_in_lock(&*state.store, user, now).await.map_err(failed)?;
    let status = mfa::status(&factors(state), &user.id).await.map_err(failed)?;
    let sessions = state.store.list_user_sessions(&user.id, now).await.map_err(failed)?;
    let mut consents = Vec::new();
    for c in state.store.list_user_consents(&user.id).await.map_err(failed)? {
        let client_name = match state.store.get_client(&c.client_id).await.map_err(failed)? {
            Some(client) => client.settings.client_name,
            None => "(deleted client)".into(),
        };
        consents.push(ConsentRow {
            client_name,
            client_id: c.client_id,
            scope: c.scope.to_string(),
            granted: when(c.granted_at),
        });
    }
    Ok(UserPage {
        layout: Layout::new(state, admin, Nav::Users),
        user,
        action: user_path(&user.id),
        fields: form.fields(&errors),
        problem: (!errors.is_empty()).then(|| "The profile was not saved: see the fields marked below.".into()),
        form,
        errors,
        may_manage: admin.may(Action::ManageUsers),
        may_support: admin.may(Action::AccountSupport),
        created: when(user.created_at),
        updated: when(user.updated_at),
        lock: lock.locked_until.map(|until| format!("Locked until {}", when(until))),
        failures: lock.failures,
        totp: status.totp.as_ref().map(|t| {
            format!("added {}, last used {}", when(t.confirmed_at), t.last_used_at.map_or("never".to_string(), when))
        }),
        recovery_codes_left: status.recovery_codes_left,
        passkeys: status
            .passkeys
            .iter()
            .map(|p| PasskeyRow {
                name: p.name.clone(),
                added: when(p.created_at),
                last_used: p.last_used_at.map_or("never".to_string(), when),
            })
            .collect(),
        can_mail: state.mail().is_some(),
        sessions: sessions.into_iter().map(|s| SessionRow::of(s, &admin.sid)).collect(),
        consents,
    })
}

pub(crate) async fn show(State(state): State<ConsoleState>, admin: Admin, Path(id): Path<String>) -> Page {
    let user = find(&state, &admin, &id).await?;
    let page = user_page(&state, &admin, &user, ProfileForm::of(&user), Errors::default()).await?;
    Ok(render(&state, StatusCode::OK, &page))
}

/// Saves the username, claims and groups.
pub(crate) async fn update(
    State(state): State<ConsoleState>,
    Path(id): Path<String>,
    Posted { admin, form }: Posted<Vec<(String, String)>>,
) -> Page {
    admin.require(&state, Action::ManageUsers)?;
    let mut user = find(&state, &admin, &id).await?;
    let form = ProfileForm::posted(&form);
    let claims = match form.checked() {
        Ok(c) => c,
        Err(errors) => {
            let shown = user.clone();
            let page = user_page(&state, &admin, &shown, form, errors).await?;
            return Ok(render(&state, StatusCode::UNPROCESSABLE_ENTITY, &page));
        }
    };
    let mut changed = Vec::new();
    if user.username != form.username {
        changed.push("username");
    }
    if (UserClaims { groups: Vec::new(), ..claims.clone() })
        != (UserClaims { groups: Vec::new(), ..user.claims.clone() })
    {
        changed.push("claims");
    }
    if claims.groups != user.claims.groups {
        changed.push("groups");
    }
    if changed.is_empty() {
        return Ok(redirect_with(&state, &user_path(&id), Flash::ok("Nothing changed.")));
    }
    let shown = user.clone();
    user.username = form.username.clone();
    user.claims = claims;
    let now = state.clock.now();
    match users::save_user(&*state.store, &mut user, now).await {
        Ok(()) => {}
        Err(UserError::Taken(name)) => {
            let mut errors = Errors::default();
            errors.add("username", format!("The username {name} is taken."));
            let page = user_page(&state, &admin, &shown, form, errors).await?;
            return Ok(render(&state, StatusCode::UNPROCESSABLE_ENTITY, &page));
        }
        Err(UserError::Store(e)) => return Err(store_failed(&state, e)),
        Err(e) => return Ok(redirect_with(&state, &user_path(&id), Flash::error(format!("Not saved: {e}.")))),
    }
    record(&state, admin.event(now, "user.updated").subject(&user.id).detail("changed", changed)).await;
    Ok(redirect_with(&state, &user_path(&id), Flash::ok(format!("Saved {}.", user.username))))
}

/// Disables or enables the account (support may: it is how a desk stops a
/// compromised account at once).
async fn set_disabled(state: ConsoleState, admin: Admin, id: String, disabled: bool) -> Page {
    admin.require(&state, Action::AccountSupport)?;
    let mut user = find(&state, &admin, &id).await?;
    if disabled && user.id == admin.user_id {
        return Ok(redirect_with(&state, &user_path(&id), Flash::error("You cannot disable your own account here.")));
    }
    let now = state.clock.now();
    match users::set_disabled(&*state.store, &mut user, disabled, now).await {
        Ok(()) => {}
        Err(UserError::Store(e)) => return Err(store_failed(&state, e)),
        Err(e) => return Ok(redirect_with(&state, &user_path(&id), Flash::error(format!("Not changed: {e}.")))),
    }
    record(
        &state,
        admin
            .event(now, "user.updated")
            .subject(&user.id)
            .detail("changed", vec!["disabled"])
            .detail("disabled", disabled),
    )
    .await;
    let word = if disabled { "Disabled" } else { "Enabled" };
    Ok(redirect_with(&state, &user_path(&id), Flash::ok(format!("{word} {}.", user.username))))
}

pub(crate) async fn disable(
    State(state): State<ConsoleState>,
    Path(id): Path<String>,
    Posted { admin, form: _ }: Posted<Ignored>,
) -> Page {
    set_disabled(state, admin, id, true).await
}

pub(crate) async fn enable(
    State(state): State<ConsoleState>,
    Path(id): Path<String>,
    Posted { admin, form: _ }: Posted<Ignored>,
) -> Page {
    set_disabled(state, admin, id, false).await
}

#[derive(Debug, Deserialize)]
pub(crate) struct PasswordForm {
    password: String,
}

/// Sets a password the admin chose (and tells the person).
pub(crate) async fn set_password(
    State(state): State<ConsoleState>,
    Path(id): Path<String>,
    Posted { admin, form }: Posted<PasswordForm>,
) -> Page {
    admin.require(&state, Action::AccountSupport)?;
    let mut user = find(&state, &admin, &id).await?;
    let now = state.clock.now();
    match users::set_password(&*state.store, &mut user, form.password, now).await {
        Ok(()) => {}
        Err(UserError::Policy(m)) => {
            return Ok(redirect_with(&state, &user_path(&id), Flash::error(format!("Password not set: it {m}."))));
        }
        Err(UserError::Store(e)) => return Err(store_failed(&state, e)),
        Err(e) => return Ok(redirect_with(&state, &user_path(&id), Flash::error(format!("Password not set: {e}.")))),
    }
    record(&state, admin.event(now, "user.updated").subject(&user.id).detail("changed", vec!["password"])).await;
    if let Some(mail) = state.mail()
        && let Err(e) = self_service::notify_password_changed(&mail, &user, false).await
    {
        tracing::warn!(error = %e, "console: cannot queue the password-changed email");
    }
    Ok(redirect_with(&state, &user_path(&id), Flash::ok(format!("Set a new password for {}.", user.username))))
}

/// Sends the person a reset link (the forgot-password operation, started
/// by the admin).
pub(crate) async fn send_reset_link(
    State(state): State<ConsoleState>,
    Path(id): Path<String>,
    Posted { admin, form: _ }: Posted<Ignored>,
) -> Page {
    admin.require(&state, Action::AccountSupport)?;
    let user = find(&state, &admin, &id).await?;
    let back = user_path(&id);
    let Some(mail) = state.mail() else {
        return Ok(redirect_with(&state, &back, Flash::error("Email is not configured: set a password instead.")));
    };
    let flash = match self_service::send_reset_link(&mail, &user, &admin.actor()).await {
        Ok(Sent::Sent) => {
            Flash::ok(format!("Sent a password reset link to {}.", user.claims.email.as_deref().unwrap_or_default()))
        }
        Ok(Sent::NoAddress) => Flash::error(format!("{} has no email address: set a password instead.", user.username)),
        Ok(Sent::Throttled) => Flash::error("Too many emails to this account lately; try again later."),
        Err(SendResetError::Disabled) => Flash::error("The account is disabled; enable it first."),
        Err(SendResetError::Store(e)) => return Err(store_failed(&state, e)),
    };
    Ok(redirect_with(&state, &back, flash))
}

pub(crate) async fn unlock(
    State(state): State<ConsoleState>,
    Path(id): Path<String>,
    Posted { admin, form: _ }: Posted<Ignored>,
) -> Page {
    admin.require(&state, Action::AccountSupport)?;
    let user = find(&state, &admin, &id).await?;
    let now = state.clock.now();
    let cleared = users::unlock(&*state.store, &user, now).await.map_err(|e| store_failed(&state, e))?;
    let event = admin
        .event(now, "user.unlocked")
        .subject(&user.id)
        .detail("was_locked", cleared.locked())
        .detail("failures_cleared", cleared.failures);
    record(&state, event).await;
    let text = match (cleared.locked(), cleared.failures) {
        (true, n) => format!("Unlocked {} ({n} failed sign-ins forgotten).", user.username),
        (false, 0) => format!("{} was not locked.", user.username),
        (false, n) => format!("{} was not locked; {n} failed sign-ins forgotten.", user.username),
    };
    Ok(redirect_with(&state, &user_path(&id), Flash::ok(text)))
}

/// Removes every second factor (for someone who lost their devices).
pub(crate) async fn reset_factors(
    State(state): State<ConsoleState>,
    Path(id): Path<String>,
    Posted { admin, form: _ }: Posted<Ignored>,
) -> Page {
    admin.require(&state, Action::AccountSupport)?;
    let user = find(&state, &admin, &id).await?;
    let removed = mfa::reset(&factors(&state), &user.id, &admin.actor()).await.map_err(|e| store_failed(&state, e))?;
    let text = if removed.anything() {
        format!(
            "Removed the second factors of {} (authenticator app: {}, recovery codes: {}, passkeys: {}).",
            user.username,
            if removed.totp { "yes" } else { "none" },
            removed.recovery_codes,
            removed.passkeys
        )
    } else {
        format!("{} had no second factor.", user.username)
    };
    Ok(redirect_with(&state, &user_path(&id), Flash::ok(text)))
}

#[derive(Debug, Deserialize)]
pub(crate) struct EndForm {
    /// One session; absent to end all.
    sid: Option<String>,
}

/// Ends one or all of the person's sessions, as signing out does.
pub(crate) async fn end_sessions(
    State(state): State<ConsoleState>,
    Path(id): Path<String>,
    Posted { admin, form }: Posted<EndForm>,
) -> Page {
    admin.require(&state, Action::AccountSupport)?;
    let failed = |e| store_failed(&state, e);
    let user = find(&state, &admin, &id).await?;
    let now = state.clock.now();
    let sessions = state.store.list_user_sessions(&user.id, now).await.map_err(failed)?;
    let mut ended = 0;
    for session in sessions.into_iter().filter(|s| form.sid.as_ref().is_none_or(|sid| *sid == s.auth.sid)) {
        let done =
            latchkey_domain::end_session(&*state.store, &state.notifier, state.end_revokes, &session.id_hash, now)
                .await
                .map_err(failed)?;
        if done.is_some() {
            ended += 1;
            let event = admin.event(now, "session.revoked").subject(&user.id).detail("sid", session.auth.sid.as_str());
            record(&state, event).await;
        }
    }
    let flash = match ended {
        0 => Flash::error("That session has already ended."),
        1 => Flash::ok("Ended 1 session."),
        n => Flash::ok(format!("Ended {n} sessions.")),
    };
    Ok(redirect_with(&state, &user_path(&id), flash))
}

#[derive(Debug, Deserialize)]
pub(crate) struct RevokeForm {
    client_id: String,
}

/// Cuts an app off: the consent, and what the app holds for the person.
pub(crate) async fn revoke_consent(
    State(state): State<ConsoleState>,
    Path(id): Path<String>,
    Posted { admin, form }: Posted<RevokeForm>,
) -> Page {
    admin.require(&state, Action::AccountSupport)?;
    let user = find(&state, &admin, &id).await?;
    let now = state.clock.now();
    let revoked = latchkey_domain::consents::revoke_consent(&*state.store, &user.id, &form.client_id, now)
        .await
        .map_err(|e| store_failed(&state, e))?;
    if !revoked.found_anything() {
        return Ok(redirect_with(&state, &user_path(&id), Flash::error("That app had no access anymore.")));
    }
    let event = admin
        .event(now, "consent.revoked")
        .subject(&user.id)
        .client(&form.client_id)
        .detail("families_revoked", revoked.families);
    record(&state, event).await;
    Ok(redirect_with(&state, &user_path(&id), Flash::ok(format!("Revoked the access of {}.", form.client_id))))
}

pub(crate) async fn confirm_delete(State(state): State<ConsoleState>, admin: Admin, Path(id): Path<String>) -> Page {
    admin.require(&state, Action::ManageUsers)?;
    let user = find(&state, &admin, &id).await?;
    let path = user_path(&id);
    let page = ConfirmPage {
        layout: Layout::new(&state, &admin, Nav::Users),
        title: format!("Delete {}?", user.username),
        message: format!(
            "Deleting {} removes the account and its links to upstream accounts for good. Disabling it instead \
             keeps it, and can be undone.",
            user.username
        ),
        action: format!("{path}/delete"),
        button: format!("Delete {}", user.username),
        back: path,
    };
    Ok(render(&state, StatusCode::OK, &page))
}

pub(crate) async fn delete(
    State(state): State<ConsoleState>,
    Path(id): Path<String>,
    Posted { admin, form: _ }: Posted<Ignored>,
) -> Page {
    admin.require(&state, Action::ManageUsers)?;
    if id == admin.user_id {
        return Ok(redirect_with(&state, &user_path(&id), Flash::error("You cannot delete your own account here.")));
    }
    match users::delete_user(&*state.store, &id).await {
        Ok(true) => {
            record(&state, admin.event(state.clock.now(), "user.deleted").subject(&id)).await;
            Ok(redirect_with(&state, "/admin/users", Flash::ok(format!("Deleted user {id}."))))
        }
        Ok(false) => Ok(redirect_with(&state, "/admin/users", Flash::error(format!("There is no user {id}.")))),
        Err(UserError::Store(e)) => Err(store_failed(&state, e)),
        Err(e) => Ok(redirect_with(&state, &user_path(&id), Flash::error(format!("Not deleted: {e}.")))),
    }
}
