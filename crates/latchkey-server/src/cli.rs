//! The command line.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

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
    /// Manage OAuth clients (boxed: its options are many).
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
    /// Read the audit log.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Manage the admin API (its tokens).
    #[command(subcommand)]
    Admin(AdminCommand),
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
        /// A scope (repeatable): clients:read, clients:write, users:read,
        /// users:write, consents:read, consents:write, sessions:read,
        /// sessions:write, keys:read, keys:write, audit:read.
        #[arg(long = "scope", value_name = "SCOPE", required = true)]
        scopes: Vec<String>,
        /// The token stops working this many seconds from now (default: never).
        #[arg(long, value_name = "SECONDS", value_parser = clap::value_parser!(i64).range(1..=10 * 365 * 86_400))]
        expires_in: Option<i64>,
    },
    /// List tokens (never their values).
    List,
    /// Revoke a token by id: it stops working at once.
    Revoke {
        #[arg(allow_hyphen_values = true)]
        id: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// List audit events, oldest first.
    List {
        /// Only events of this kind (e.g. login.failure, client.deleted).
        #[arg(long)]
        kind: Option<String>,
        /// Only events about this subject (a user, client or key id).
        #[arg(long, allow_hyphen_values = true)]
        subject: Option<String>,
        /// Only events after this id (to page, pass the last id seen).
        #[arg(long, default_value_t = 0)]
        after: i64,
        #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..=10_000))]
        limit: u32,
    },
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
        #[arg(allow_hyphen_values = true)]
        client_id: String,
    },
    /// Change a client's registration (lists given replace the registered ones).
    Update(ClientUpdate),
    /// Delete a client.
    Delete {
        #[arg(allow_hyphen_values = true)]
        client_id: String,
    },
    /// Replace a confidential client's secret; the new one is printed once.
    RotateSecret {
        #[arg(allow_hyphen_values = true)]
        client_id: String,
    },
}

/// The keys of a `private_key_jwt` client.
#[derive(Debug, Args)]
pub struct ClientKeyArgs {
    /// private_key_jwt: where the client publishes its public keys (JWK Set).
    #[arg(long, value_name = "URI", conflicts_with = "jwks_file")]
    pub jwks_uri: Option<String>,
    /// private_key_jwt: a file holding the client's public keys (JWK Set JSON).
    #[arg(long, value_name = "PATH")]
    pub jwks_file: Option<std::path::PathBuf>,
    /// private_key_jwt or client_secret_jwt: the one algorithm its assertions
    /// may use (RS256, PS256, ES256; HS256, HS384, HS512).
    #[arg(long, value_name = "ALG")]
    pub signing_alg: Option<String>,
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
    /// Grant type (repeatable): authorization_code, refresh_token, client_credentials.
    #[arg(long = "grant-type", value_name = "GRANT")]
    pub grant_types: Vec<String>,
    /// Space-separated scopes the client may request.
    #[arg(long)]
    pub scope: Option<String>,
    /// client_secret_basic (default), client_secret_post, private_key_jwt
    /// (with --jwks-uri or --jwks-file), or client_secret_jwt (needs
    /// keys.encryption_key).
    #[arg(long = "auth-method", value_name = "METHOD")]
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
    #[arg(long)]
    pub logo_uri: Option<String>,
    #[arg(long)]
    pub client_uri: Option<String>,
    #[arg(long)]
    pub policy_uri: Option<String>,
    #[arg(long)]
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
    /// Contact address (repeatable).
    #[arg(long = "contact", value_name = "EMAIL")]
    pub contacts: Vec<String>,
}

#[derive(Debug, Args)]
pub struct ClientUpdate {
    #[arg(allow_hyphen_values = true)]
    pub client_id: String,
    #[arg(long)]
    pub name: Option<String>,
    /// Replaces every registered redirect URI (repeatable).
    #[arg(long = "redirect-uri", value_name = "URI")]
    pub redirect_uris: Vec<String>,
    /// Replaces the grant types (repeatable).
    #[arg(long = "grant-type", value_name = "GRANT")]
    pub grant_types: Vec<String>,
    #[arg(long)]
    pub scope: Option<String>,
    /// client_secret_basic, client_secret_post, private_key_jwt,
    /// client_secret_jwt or none; moving to another kind of secret prints a
    /// new secret.
    #[arg(long = "auth-method", value_name = "METHOD")]
    pub auth_method: Option<String>,
    #[command(flatten)]
    pub keys: ClientKeyArgs,
    /// Replaces the post-logout redirect URIs (repeatable).
    #[arg(long = "post-logout-redirect-uri", value_name = "URI")]
    pub post_logout_redirect_uris: Vec<String>,
    #[arg(long)]
    pub allow_insecure_redirect: bool,
    #[arg(long, value_name = "BOOL")]
    pub skip_consent: Option<bool>,
    #[arg(long)]
    pub logo_uri: Option<String>,
    #[arg(long)]
    pub client_uri: Option<String>,
    #[arg(long)]
    pub policy_uri: Option<String>,
    #[arg(long)]
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
    /// Replaces the contacts (repeatable).
    #[arg(long = "contact", value_name = "EMAIL")]
    pub contacts: Vec<String>,
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create a user account.
    Create(UserCreate),
    /// List users.
    List,
    /// Show one user (by username or id).
    Show {
        #[arg(allow_hyphen_values = true)]
        user: String,
    },
    /// Change a user's username or claims.
    Update(UserUpdate),
    /// Set a new password, read from standard input.
    SetPassword {
        #[arg(allow_hyphen_values = true)]
        user: String,
        /// Read the password from the first line of standard input.
        #[arg(long, required = true)]
        password_stdin: bool,
    },
    /// Stop a user from signing in.
    Disable {
        #[arg(allow_hyphen_values = true)]
        user: String,
    },
    /// Let a disabled user sign in again.
    Enable {
        #[arg(allow_hyphen_values = true)]
        user: String,
    },
    /// Delete a user.
    Delete {
        #[arg(allow_hyphen_values = true)]
        user: String,
    },
}

#[derive(Debug, Args)]
pub struct UserCreate {
    #[arg(long)]
    pub username: String,
    /// Read the password from the first line of standard input.
    #[arg(long)]
    pub password_stdin: bool,
    #[arg(long)]
    pub email: Option<String>,
    #[arg(long)]
    pub email_verified: bool,
    #[arg(long)]
    pub name: Option<String>,
    #[arg(long)]
    pub given_name: Option<String>,
    #[arg(long)]
    pub family_name: Option<String>,
    #[arg(long)]
    pub phone: Option<String>,
    /// A group the user belongs to (repeatable): released as the `groups` claim.
    #[arg(long = "group", value_name = "GROUP")]
    pub groups: Vec<String>,
}

#[derive(Debug, Args)]
pub struct UserUpdate {
    #[arg(allow_hyphen_values = true)]
    pub user: String,
    #[arg(long)]
    pub username: Option<String>,
    #[arg(long)]
    pub email: Option<String>,
    #[arg(long, value_name = "BOOL")]
    pub email_verified: Option<bool>,
    #[arg(long)]
    pub name: Option<String>,
    #[arg(long)]
    pub given_name: Option<String>,
    #[arg(long)]
    pub family_name: Option<String>,
    #[arg(long)]
    pub phone: Option<String>,
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
        #[arg(allow_hyphen_values = true)]
        kid: String,
        /// Stop publishing the key now (after a compromise): tokens it signed stop verifying.
        #[arg(long)]
        now: bool,
    },
}
