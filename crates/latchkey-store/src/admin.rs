//! What the admin API stores: its bearer tokens (only their SHA-256), and
//! keyset-paginated listings of clients and users.

use async_trait::async_trait;
use latchkey_core::{Client, User};

use crate::StoreResult;

/// An admin API token as stored. The token itself is shown once, at
/// creation; only `token_hash` (`latchkey_core::secret::hash_token`) is kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminToken {
    /// Public id, used to list and revoke it and in audit events (`admin:<id>`).
    pub id: String,
    pub name: String,
    pub token_hash: String,
    /// Scopes such as `clients:read`, in the order given.
    pub scopes: Vec<String>,
    pub created_at: i64,
    /// Unix seconds after which the token stops working; `None`: never.
    pub expires_at: Option<i64>,
    /// Last successful use (recorded at most about once a minute).
    pub last_used_at: Option<i64>,
}

/// Where a page of a listing starts: after this `(created_at, id)` pair.
pub type PageAfter<'a> = Option<(i64, &'a str)>;

/// Admin tokens, and the paginated listings the admin API serves.
#[async_trait]
pub trait AdminStore: Send + Sync + 'static {
    /// Inserts a token; `Conflict` if its id or hash exists.
    async fn insert_admin_token(&self, token: &AdminToken) -> StoreResult<()>;
    async fn find_admin_token(&self, token_hash: &str) -> StoreResult<Option<AdminToken>>;
    /// All tokens, oldest first.
    async fn list_admin_tokens(&self) -> StoreResult<Vec<AdminToken>>;
    /// Deletes (revokes) a token; false if unknown.
    async fn delete_admin_token(&self, id: &str) -> StoreResult<bool>;
    /// Records a use at `now`.
    async fn touch_admin_token(&self, id: &str, now: i64) -> StoreResult<()>;
    /// At most `limit` clients ordered by `(created_at, client_id)`, after `after`.
    async fn list_clients_page(&self, after: PageAfter<'_>, limit: u32) -> StoreResult<Vec<Client>>;
    /// At most `limit` users ordered by `(created_at, id)`, after `after`.
    async fn list_users_page(&self, after: PageAfter<'_>, limit: u32) -> StoreResult<Vec<User>>;
}
