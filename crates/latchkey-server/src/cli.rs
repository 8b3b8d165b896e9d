//! The command line.

use std::path::PathBuf;

use clap::builder::PossibleValuesParser;
use clap::{Args, Parser, Subcommand};

/// Grant types a client may be registered for.
pub const GRANT_TYPES: [&str; 5] = [
    "authorization_code",
    "refresh_token",
    "client_credentials",
    latchkey_core::device::GRANT_TYPE,
    latchkey_core::client::TOKEN_EXCHANGE,
];
/// Client authentication methods `client create` takes (`none` is `--public`).
pub const CREATE_AUTH_METHODS: [&str; 4] =
    ["client_secret_basic", "client_secret_post", "private_key_jwt", "client_secret_jwt"];
/// Client authentication methods `client update` takes.
pub const UPDATE_AUTH_METHODS: [&str; 5] =
    ["client_secret_basic", "client_secret_post", "private_key_jwt", "client_secret_jwt", "none"];
/// Algorithms of client assertions (private_key_jwt, then client_secret_jwt).
pub const SIGNING_ALGS: [&str; 7] = ["RS256", "PS256", "ES256", "EdDSA", "HS256", "HS384", "HS512"];

fn grant_types() -> PossibleValuesParser {
    PossibleValuesParser::new(GRANT_TYPES)
}

#[derive(Debug, Parser)]
#[command(name = "latchkey", version, about = "Latchkey: an OAuth 2.0 / OpenID Connect authorization server")]
pub struct Cli {
    /// TOML configuration file (default: none; also LATCHKEY_CONFIG).
    #[arg(long, global = true, value_name = "PATH")]
    pub config: Option<PathBuf>,
    /// The database, overriding database_url from the file and
    /// LATCHKEY_DATABASE_URL (sqlite://PATH or postgres://USER@HOST/DB).
    #[arg(long, global = true, value_name = "URL")]
    pub database_url: Option<String>,
    /// Print JSON instead of text.
    #[arg(long, global = true)]
    pub json: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server (applies pending migrations first).
    Serve,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Manage OAuth clients (apps).
    #[command(subcommand)]
    Client(Box<ClientCommand>),
    /// Manage user accounts.
    #[command(subcommand)]
    User(UserCommand),
    /// Manage signing keys.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// See and end people's sessions.
    #[command(subcommand)]
    Session(SessionCommand),
    /// Invite people to create an account (signup.mode "invite" or "open").
    #[command(subcommand)]
    Invite(InviteCommand),
    /// Read the audit log.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Manage the admin API (its tokens).
    #[command(subcommand)]
    Admin(AdminCommand),
    /// Look inside tokens, on this machine (no website needed).
    #[command(subcommand)]
    Token(TokenCommand),
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Print a token's header and claims (times in UTC and relative), what
    /// kind of token it is, and a verdict: the signature checked against
    /// this server's keys (from its database) or another issuer's, and the
    /// issuer, audience, expiry, not-before and typ. A refresh token is
    /// looked up instead. Exits 0 only when every check passed.
    Inspect(TokenInspect),
}

#[derive(Debug, Args)]
pub struct TokenInspect {
    /// The token, or - to read it from standard input (keeps it out of the
    /// shell's history and the process list).
    #[arg(value_name = "TOKEN", allow_hyphen_values = true)]
    pub token: String,
    /// A token from another issuer: fetch its discovery document, then its
    /// JWKS, and check the token's iss against this URL.
    #[arg(long, value_name = "URL")]
    pub issuer: Option<String>,
    /// Check the signature with the JWK Set at this URL (the issuer is then
    /// checked only if --issuer is given too).
    #[arg(long, value_name = "URL")]
    pub jwks_uri: Option<String>,
    /// The audience the token must be for (its aud claim).
    #[arg(long, value_name = "AUD")]
    pub audience: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Admin API tokens: create (shown once), list, revoke.
    #[command(subcommand)]
    Token(AdminTokenCommand),
}

#[derive(Debug, Subcommand)]
pub enum AdminTokenCommand {
    /// Create a token; it is printed once, only its SHA-256 is stored.
    Create {
        /// What the token is for (shown by `list` and in the audit log).
        #[arg(long)]
        name: String,
        /// A scope (repeatable): what the token may read or change.
        #[arg(long = "scope", value_name = "SCOPE", required = true,
              value_parser = PossibleValuesParser::new(latchkey_admin::SCOPES.iter().copied()))]
        scopes: Vec<String>,
        /// The token stops working this many seconds from now (default: never).
        #[arg(long, value_name = "SECONDS", value_parser = clap::value_parser!(i64).range(1..=10 * 365 * 86_400))]
        expires_in: Option<i64>,
    },
    /// List tokens (never their values).
    List,
    /// Revoke a token by id: it stops working at once.
    Revoke {
        /// The token's id, as `list` shows it (not the token itself).
        #[arg(allow_hyphen_values = true)]
        id: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// List audit events, oldest first.
    List {
        /// Only events of this kind (docs/operations.md, "Audit log").
        #[arg(long, value_parser = PossibleValuesParser::new(latchkey_core::audit::KINDS.iter().copied()))]
        kind: Option<String>,
        /// Only events about this subject (a user, client or key id).
        #[arg(long, allow_hyphen_values = true)]
        subject: Option<String>,
        /// Only events after this id (to page, pass the last id seen).
        #[arg(long, default_value_t = 0)]
        after: i64,
        /// At most this many events (1 to 10000).
        #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..=10_000))]
        limit: u32,
    },
}

#[derive(Debug, Subcommand)]
pub enum InviteCommand {
    /// Invite someone: prints the invitation's link (once), and emails it
    /// when email is configured.
    Create {
        /// The address the invitation is for; the account gets it, verified.
        #[arg(long)]
        email: String,
        /// A group the new account joins (repeatable).
        #[arg(long = "group", value_name = "GROUP")]
        groups: Vec<String>,
        /// How long the link works: seconds, or with a unit (30m, 48h, 7d).
        /// Default: signup.invitation_ttl_seconds.
        #[arg(long, value_parser = parse_duration)]
        expires_in: Option<i64>,
        /// Do not email the link (print it only).
        #[arg(long)]
        no_email: bool,
        /// The person's language: en, de or fr. Their email, the
        /// invitation's page and the new account's locale follow it.
        /// Default: the email in English, the page in the browser's language.
        #[arg(long, value_parser = parse_locale)]
        locale: Option<latchkey_i18n::Language>,
    },
    /// List invitations not yet accepted or revoked.
    List,
    /// Revoke an invitation: its link stops working.
    Revoke {
        /// The invitation's id, as listed.
        id: String,
    },
}

/// "90", "90s", "30m", "48h", "7d" in seconds.
fn parse_duration(s: &str) -> Result<i64, String> {
    let s = s.trim();
    let (digits, unit) = match s.char_indices().last() {
        Some((i, c)) if c.is_ascii_alphabetic() => (&s[..i], c),
        _ => (s, 's'),
    };
    let n: i64 = digits.parse().map_err(|_| format!("{s:?} is not a duration such as 3600, 30m, 48h or 7d"))?;
    let factor = match unit {
        's' => 1,
        'm' => 60,
        'h' => 3_600,
        'd' => 86_400,
        _ => return Err(format!("{s:?}: use s, m, h or d")),
    };
    n.checked_mul(factor).filter(|v| *v > 0).ok_or_else(|| format!("{s:?} is not a positive duration"))
}

#[derive(Debug, Subcommand)]
pub enum SessionCommand {
    /// List a user's active sessions.
    List {
        /// Username or user id.
        #[arg(long, allow_hyphen_values = true)]
        user: String,
    },
    /// End sessions: one (--session SID) or all of a user's (--all).
    Revoke {
        /// Username or user id.
        #[arg(long, allow_hyphen_values = true)]
        user: String,
        /// The session's public id (`sid`), as listed.
        #[arg(long, allow_hyphen_values = true, conflicts_with = "all", required_unless_present = "all")]
        session: Option<String>,
        /// Every session of the user ("sign out everywhere").
        #[arg(long)]
        all: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum ClientCommand {
    /// Register a client; its secret is printed once.
    Create(ClientCreate),
    /// List clients.
    List,
    /// Show one client.
    Show {
        /// The client's id.
        #[arg(allow_hyphen_values = true)]
        client_id: String,
    },
    /// Change a client's registration (lists given replace the registered ones).
    Update(ClientUpdate),
    /// Delete a client.
    Delete {
        /// The client's id.
        #[arg(allow_hyphen_values = true)]
        client_id: String,
    },
    /// Replace a confidential client's secret; the new one is printed once.
    RotateSecret {
        /// The client's id.
        #[arg(allow_hyphen_values = true)]
        client_id: String,
    },
}

/// The public keys of a client: for `private_key_jwt` and signed request objects.
#[derive(Debug, Args)]
pub struct ClientKeyArgs {
    /// private_key_jwt and request objects: where the client publishes its public keys (JWK Set).
    #[arg(long, value_name = "URI", conflicts_with = "jwks_file")]
    pub jwks_uri: Option<String>,
    /// private_key_jwt and request objects: a file holding the client's public keys (JWK Set JSON).
    #[arg(long, value_name = "PATH")]
    pub jwks_file: Option<std::path::PathBuf>,
    /// private_key_jwt (RS256, PS256, ES256, EdDSA) or client_secret_jwt (HS256,
    /// HS384, HS512): the one algorithm its assertions may use.
    #[arg(long, value_name = "ALG", value_parser = PossibleValuesParser::new(SIGNING_ALGS))]
    pub signing_alg: Option<String>,
}

/// How a client's requests and responses are protected (PAR, JAR, JARM,
/// signing algorithms, DPoP, FAPI 2.0): the same flags on create and update.
#[derive(Debug, Args)]
pub struct ClientProtocolArgs {
    /// Its authorization requests must come through /par (RFC 9126
    /// require_pushed_authorization_requests).
    #[arg(long, value_name = "BOOL", num_args = 0..=1, default_missing_value = "true",
          alias = "require-pushed-authorization-requests")]
    pub require_par: Option<bool>,
    /// Its authorization requests must be signed request objects (RFC 9101
    /// require_signed_request_object); the keys come from --jwks-file or --jwks-uri.
    #[arg(long, value_name = "BOOL", num_args = 0..=1, default_missing_value = "true")]
    pub require_signed_request_object: Option<bool>,
    /// The algorithm of its signed authorization responses (JARM
    /// authorization_signed_response_alg; response_mode jwt). Default RS256.
    #[arg(long, value_name = "ALG")]
    pub authorization_signed_response_alg: Option<String>,
    /// The algorithm of its ID tokens and logout tokens
    /// (id_token_signed_response_alg): one of keys.algorithms. Default RS256.
    #[arg(long, value_name = "ALG")]
    pub id_token_signed_response_alg: Option<String>,
    /// UserInfo answers it with a JWT signed with this algorithm
    /// (userinfo_signed_response_alg); default: plain JSON.
    #[arg(long, value_name = "ALG")]
    pub userinfo_signed_response_alg: Option<String>,
    /// Its token requests must carry a DPoP proof, so its access tokens are
    /// always DPoP-bound (RFC 9449 dpop_bound_access_tokens).
    #[arg(long, value_name = "BOOL", num_args = 0..=1, default_missing_value = "true")]
    pub dpop_bound_access_tokens: Option<bool>,
    /// It follows the FAPI 2.0 Security Profile (pushed requests, PKCE,
    /// private_key_jwt with PS256/ES256/EdDSA, DPoP, ID tokens in PS256/ES256/EdDSA;
    /// docs/advanced-protocols.md, "FAPI 2.0"). Default: fapi2.default_for_new_clients.
    #[arg(long, value_name = "BOOL", num_args = 0..=1, default_missing_value = "true")]
    pub fapi2: Option<bool>,
}

#[derive(Debug, Args)]
pub struct ClientCreate {
    /// Name shown to people on consent screens.
    #[arg(long)]
    pub name: String,
    /// Redirect URI (repeatable); compared byte for byte at authorization time.
    #[arg(long = "redirect-uri", value_name = "URI")]
    pub redirect_uris: Vec<String>,
    /// Public client (native or browser app): no secret, auth method `none`.
    #[arg(long, conflicts_with = "auth_method")]
    pub public: bool,
    /// Grant type (repeatable; default authorization_code).
    #[arg(long = "grant-type", value_name = "GRANT", value_parser = grant_types())]
    pub grant_types: Vec<String>,
    /// Space-separated scopes the client may request (default: openid
    /// profile email phone, and offline_access with refresh_token).
    #[arg(long)]
    pub scope: Option<String>,
    /// How it authenticates at the token endpoint (default
    /// client_secret_basic); private_key_jwt needs --jwks-uri or
    /// --jwks-file, client_secret_jwt needs keys.encryption_key. A client
    /// without a secret: --public.
    #[arg(long = "auth-method", value_name = "METHOD", value_parser = PossibleValuesParser::new(CREATE_AUTH_METHODS))]
    pub auth_method: Option<String>,
    #[command(flatten)]
    pub keys: ClientKeyArgs,
    /// Where RP-initiated logout may return to (repeatable).
    #[arg(long = "post-logout-redirect-uri", value_name = "URI")]
    pub post_logout_redirect_uris: Vec<String>,
    /// Allow plain-http redirect URIs on non-loopback hosts (development only).
    #[arg(long)]
    pub allow_insecure_redirect: bool,
    /// First-party client: people are not asked for consent.
    #[arg(long)]
    pub skip_consent: bool,
    /// The app's logo, shown on the consent page (https).
    #[arg(long, value_name = "URI")]
    pub logo_uri: Option<String>,
    /// The app's home page, linked from the consent page (https).
    #[arg(long, value_name = "URI")]
    pub client_uri: Option<String>,
    /// The app's privacy policy, linked from the consent page (https).
    #[arg(long, value_name = "URI")]
    pub policy_uri: Option<String>,
    /// The app's terms of service, linked from the consent page (https).
    #[arg(long, value_name = "URI")]
    pub tos_uri: Option<String>,
    /// Resource indicator (RFC 8707) the client may request tokens for (repeatable).
    #[arg(long = "audience", value_name = "URI")]
    pub audiences: Vec<String>,
    /// Resource server allowed to introspect any token.
    #[arg(long, value_name = "BOOL", num_args = 0..=1, default_missing_value = "true")]
    pub introspection: Option<bool>,
    /// OIDC Back-Channel Logout endpoint of the client.
    #[arg(long, value_name = "URI")]
    pub backchannel_logout_uri: Option<String>,
    #[command(flatten)]
    pub protocol: ClientProtocolArgs,
    /// Contact address (repeatable).
    #[arg(long = "contact", value_name = "EMAIL")]
    pub contacts: Vec<String>,
    /// Token exchange: an audience (a client id) or resource this client
    /// may exchange tokens for (repeatable; none: any registered client or
    /// known resource).
    #[arg(long = "exchange-audience", value_name = "AUDIENCE", allow_hyphen_values = true)]
    pub exchange_audiences: Vec<String>,
    /// Token exchange: a client whose tokens this client may exchange
    /// (repeatable; none: any that issued to it or names it in aud).
    #[arg(long = "exchange-subject-client", value_name = "CLIENT_ID", allow_hyphen_values = true)]
    pub exchange_subject_clients: Vec<String>,
    /// Everyone signing in to this client gives a second factor (or sets one
    /// up right after the password).
    #[arg(long)]
    pub require_mfa: bool,
    /// An acr value required when a request names none (repeatable):
    /// urn:latchkey:acr:password, urn:latchkey:acr:mfa, phr (docs/mfa.md).
    #[arg(long = "default-acr", value_name = "ACR")]
    pub default_acr_values: Vec<String>,
}

#[derive(Debug, Args)]
pub struct ClientUpdate {
    /// The client's id.
    #[arg(allow_hyphen_values = true)]
    pub client_id: String,
    /// Name shown to people on consent screens.
    #[arg(long)]
    pub name: Option<String>,
    /// Replaces every registered redirect URI (repeatable).
    #[arg(long = "redirect-uri", value_name = "URI")]
    pub redirect_uris: Vec<String>,
    /// Replaces the grant types (repeatable).
    #[arg(long = "grant-type", value_name = "GRANT", value_parser = grant_types())]
    pub grant_types: Vec<String>,
    /// Replaces the space-separated scopes the client may request.
    #[arg(long)]
    pub scope: Option<String>,
    /// How it authenticates at the token endpoint; moving to another kind of
    /// secret prints a new secret.
    #[arg(long = "auth-method", value_name = "METHOD", value_parser = PossibleValuesParser::new(UPDATE_AUTH_METHODS))]
    pub auth_method: Option<String>,
    #[command(flatten)]
    pub keys: ClientKeyArgs,
    /// Replaces the post-logout redirect URIs (repeatable).
    #[arg(long = "post-logout-redirect-uri", value_name = "URI")]
    pub post_logout_redirect_uris: Vec<String>,
    /// Allow plain-http redirect URIs on non-loopback hosts (development only).
    #[arg(long)]
    pub allow_insecure_redirect: bool,
    /// First-party client (true): people are not asked for consent.
    #[arg(long, value_name = "BOOL")]
    pub skip_consent: Option<bool>,
    /// The app's logo, shown on the consent page (https).
    #[arg(long, value_name = "URI")]
    pub logo_uri: Option<String>,
    /// The app's home page, linked from the consent page (https).
    #[arg(long, value_name = "URI")]
    pub client_uri: Option<String>,
    /// The app's privacy policy, linked from the consent page (https).
    #[arg(long, value_name = "URI")]
    pub policy_uri: Option<String>,
    /// The app's terms of service, linked from the consent page (https).
    #[arg(long, value_name = "URI")]
    pub tos_uri: Option<String>,
    /// Resource indicator (RFC 8707) the client may request tokens for (repeatable).
    #[arg(long = "audience", value_name = "URI")]
    pub audiences: Vec<String>,
    /// Resource server allowed to introspect any token.
    #[arg(long, value_name = "BOOL", num_args = 0..=1, default_missing_value = "true")]
    pub introspection: Option<bool>,
    /// OIDC Back-Channel Logout endpoint of the client.
    #[arg(long, value_name = "URI")]
    pub backchannel_logout_uri: Option<String>,
    #[command(flatten)]
    pub protocol: ClientProtocolArgs,
    /// Replaces the contacts (repeatable).
    #[arg(long = "contact", value_name = "EMAIL")]
    pub contacts: Vec<String>,
    /// Token exchange: an audience (a client id) or resource this client
    /// may exchange tokens for (repeatable, replaces the list; none: any registered client or
    /// known resource).
    #[arg(long = "exchange-audience", value_name = "AUDIENCE", allow_hyphen_values = true)]
    pub exchange_audiences: Vec<String>,
    /// Token exchange: a client whose tokens this client may exchange
    /// (repeatable, replaces the list; none: any that issued to it or names it in aud).
    #[arg(long = "exchange-subject-client", value_name = "CLIENT_ID", allow_hyphen_values = true)]
    pub exchange_subject_clients: Vec<String>,
    /// Token exchange: empty both lists above (back to the default policy).
    #[arg(long, conflicts_with_all = ["exchange_audiences", "exchange_subject_clients"])]
    pub clear_exchange_lists: bool,
    /// Everyone signing in to this client gives a second factor (true) or
    /// not (false).
    #[arg(long, value_name = "BOOL")]
    pub require_mfa: Option<bool>,
    /// An acr value required when a request names none (repeatable,
    /// replaces the list).
    #[arg(long = "default-acr", value_name = "ACR")]
    pub default_acr_values: Vec<String>,
    /// Empty the list of default acr values.
    #[arg(long, conflicts_with = "default_acr_values")]
    pub clear_default_acr: bool,
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create a user account.
    Create(UserCreate),
    /// List users.
    List,
    /// Show one user (by username or id).
    Show {
        /// Username (any case) or user id.
        #[arg(allow_hyphen_values = true)]
        user: String,
    },
    /// Change a user's username or claims.
    Update(UserUpdate),
    /// Set a new password, read from standard input.
    SetPassword {
        /// Username (any case) or user id.
        #[arg(allow_hyphen_values = true)]
        user: String,
        /// Read the password from the first line of standard input.
        #[arg(long, required = true)]
        password_stdin: bool,
    },
    /// Stop a user from signing in.
    Disable {
        /// Username (any case) or user id.
        #[arg(allow_hyphen_values = true)]
        user: String,
    },
    /// Let a disabled user sign in again.
    Enable {
        /// Username (any case) or user id.
        #[arg(allow_hyphen_values = true)]
        user: String,
    },
    /// Delete a user.
    Delete {
        /// Username (any case) or user id.
        #[arg(allow_hyphen_values = true)]
        user: String,
    },
    /// Forget a user's failed sign-ins, which ends a sign-in lock at once.
    Unlock {
        /// Username (any case) or user id.
        #[arg(allow_hyphen_values = true)]
        user: String,
    },
    /// A user's second factors (two-step verification).
    #[command(subcommand)]
    Mfa(UserMfaCommand),
}

#[derive(Debug, Subcommand)]
pub enum UserMfaCommand {
    /// Show a user's second factors: the authenticator app, the recovery codes left, the passkeys.
    List {
        /// Username (any case) or user id.
        #[arg(allow_hyphen_values = true)]
        user: String,
    },
    /// Remove all of a user's second factors and passkeys (a lost device): the password
    /// alone signs them in again until they set up a new one.
    Reset {
        /// Username (any case) or user id.
        #[arg(allow_hyphen_values = true)]
        user: String,
    },
}

#[derive(Debug, Args)]
pub struct UserCreate {
    /// The name people sign in with (unique, any case).
    #[arg(long)]
    pub username: String,
    /// Read the password from the first line of standard input.
    #[arg(long)]
    pub password_stdin: bool,
    /// Email address (the `email` claim).
    #[arg(long)]
    pub email: Option<String>,
    /// The email address is known to be the person's (`email_verified`).
    #[arg(long)]
    pub email_verified: bool,
    /// Full name (the `name` claim).
    #[arg(long)]
    pub name: Option<String>,
    /// Given name (the `given_name` claim).
    #[arg(long)]
    pub given_name: Option<String>,
    /// Family name (the `family_name` claim).
    #[arg(long)]
    pub family_name: Option<String>,
    /// Phone number (the `phone_number` claim), international: +44 20 7946 0958.
    #[arg(long)]
    pub phone: Option<String>,
    /// The phone number is known to be the person's (`phone_number_verified`).
    #[arg(long)]
    pub phone_verified: bool,
    /// Any other standard claim (repeatable): nickname, middle_name, profile,
    /// picture, website, gender, birthdate, zoneinfo, locale, address.street_address,
    /// address.locality, address.region, address.postal_code, address.country, address.formatted.
    #[arg(long = "claim", value_name = "NAME=VALUE")]
    pub claims: Vec<String>,
    /// A group the user belongs to (repeatable): released as the `groups` claim.
    #[arg(long = "group", value_name = "GROUP")]
    pub groups: Vec<String>,
}

#[derive(Debug, Args)]
pub struct UserUpdate {
    /// Username (any case) or user id.
    #[arg(allow_hyphen_values = true)]
    pub user: String,
    /// A new username.
    #[arg(long)]
    pub username: Option<String>,
    /// Email address; a new one is unverified until --email-verified true.
    #[arg(long)]
    pub email: Option<String>,
    /// Whether the email address is known to be the person's.
    #[arg(long, value_name = "BOOL")]
    pub email_verified: Option<bool>,
    /// Full name ("" clears it).
    #[arg(long)]
    pub name: Option<String>,
    /// Given name ("" clears it).
    #[arg(long)]
    pub given_name: Option<String>,
    /// Family name ("" clears it).
    #[arg(long)]
    pub family_name: Option<String>,
    /// Phone number ("" clears it); a new one is unverified until --phone-verified true.
    #[arg(long)]
    pub phone: Option<String>,
    /// Whether the phone number is known to be the person's.
    #[arg(long, value_name = "BOOL")]
    pub phone_verified: Option<bool>,
    /// Sets any standard claim (repeatable; "NAME=" clears it): see `user create --help`.
    #[arg(long = "claim", value_name = "NAME=VALUE")]
    pub claims: Vec<String>,
    /// Replaces the user's groups with these (repeatable).
    #[arg(long = "group", value_name = "GROUP", conflicts_with_all = ["clear_groups", "add_groups", "remove_groups"])]
    pub groups: Vec<String>,
    /// Adds a group (repeatable).
    #[arg(long = "add-group", value_name = "GROUP")]
    pub add_groups: Vec<String>,
    /// Removes a group (repeatable).
    #[arg(long = "remove-group", value_name = "GROUP")]
    pub remove_groups: Vec<String>,
    /// Removes every group (before any --add-group).
    #[arg(long)]
    pub clear_groups: bool,
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// List signing keys and their states.
    List,
    /// Promote the next key to signing, retire the current one, create a new next key.
    Rotate {
        /// Rotate even if the next key was published less than keys.min_publish_seconds ago.
        #[arg(long)]
        force: bool,
    },
    /// Retire a key that does not sign; with --now, withdraw it from the JWKS at once.
    Retire {
        /// The key's id (kid), as `keys list` shows it.
        #[arg(allow_hyphen_values = true)]
        kid: String,
        /// Stop publishing the key now (after a compromise): tokens it signed stop verifying.
        #[arg(long)]
        now: bool,
    },
}

/// A language Latchkey speaks, by its tag.
fn parse_locale(tag: &str) -> Result<latchkey_i18n::Language, String> {
    latchkey_i18n::Language::ALL
        .into_iter()
        .find(|l| l.tag() == tag)
        .ok_or_else(|| "must be one of en, de, fr".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    /// Every argument of every command, with its command's path.
    fn walk(cmd: &clap::Command, path: &str, out: &mut Vec<(String, clap::Arg)>) {
        for arg in cmd.get_arguments() {
            out.push((path.to_string(), arg.clone()));
        }
        for sub in cmd.get_subcommands() {
            walk(sub, &format!("{path} {}", sub.get_name()), out);
        }
    }

    #[test]
    fn every_option_has_help_and_no_internal_notes() {
        Cli::command().debug_assert();
        let mut args = Vec::new();
        walk(&Cli::command(), "latchkey", &mut args);
        for (path, arg) in &args {
            let id = arg.get_id().as_str();
            if id == "help" || id == "version" {
                continue;
            }
            let help = arg.get_help().map(|h| h.to_string()).unwrap_or_default();
            assert!(!help.trim().is_empty(), "{path} {id} has no help text");
        }
        let mut commands = vec![Cli::command()];
        while let Some(cmd) = commands.pop() {
            let about = cmd.get_about().map(|a| a.to_string()).unwrap_or_default();
            assert!(!about.is_empty() || cmd.get_name() == "help", "{} has no description", cmd.get_name());
            assert!(!about.contains("boxed"), "{about}");
            commands.extend(cmd.get_subcommands().cloned());
        }
    }

    #[test]
    fn listed_values_are_the_ones_the_server_knows() {
        for g in GRANT_TYPES {
            assert!(latchkey_core::GrantType::parse(g).is_some(), "{g}");
        }
        for m in UPDATE_AUTH_METHODS {
            assert!(latchkey_core::AuthMethod::parse(m).is_some(), "{m}");
        }
        let algs: Vec<&str> = latchkey_core::client_keys::ASSERTION_ALGORITHMS
            .iter()
            .chain(latchkey_core::client_keys::HMAC_ALGORITHMS.iter())
            .copied()
            .collect();
        assert_eq!(algs, SIGNING_ALGS);
        let err = Cli::try_parse_from(["latchkey", "audit", "list", "--kind", "login.failur"]).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("login.failure") && text.contains("client.deleted"), "{text}");
        let err = Cli::try_parse_from(["latchkey", "client", "create", "--name", "x", "--grant-type", "implicit"])
            .unwrap_err()
            .to_string();
        assert!(err.contains("authorization_code, refresh_token, client_credentials"), "{err}");
    }

    #[test]
    fn client_ids_that_start_with_a_dash_are_values() {
        // Client ids are base64url and may start with '-'.
        let cli = Cli::try_parse_from([
            "latchkey",
            "client",
            "update",
            "-Kx",
            "--exchange-audience",
            "-Ab",
            "--exchange-subject-client",
            "-Cd",
        ])
        .unwrap();
        let Command::Client(command) = cli.command else { panic!("client") };
        let ClientCommand::Update(u) = *command else { panic!("client update") };
        assert_eq!((u.exchange_audiences, u.exchange_subject_clients), (vec!["-Ab".into()], vec!["-Cd".into()]));
    }
}
