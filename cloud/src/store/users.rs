//! Operations staff accounts, roles and login sessions.
//!
//! Passwords are stored only as argon2id PHC strings (hashed in `crate::auth`), and bearer tokens
//! only as their SHA-256, so a stolen database dump yields neither. Ops staff see every village;
//! admins additionally manage users and devices.

use serde_json::json;
use time::OffsetDateTime;

use super::audit::{self, AuditEvent};
use super::{Store, StoreError, StoreResult};

/// Longest username we accept (and the shortest is 3).
pub const USERNAME_CHARS_MAX: usize = 64;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    /// Operations staff: read everything, publish advisories.
    Ops,
    /// Also users and devices.
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Ops => "ops",
            Role::Admin => "admin",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "ops" => Some(Role::Ops),
            "admin" => Some(Role::Admin),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: i64,
    pub username: String,
    pub role: Role,
}

/// An account change made by an admin (the API and the `user` commands).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserChange {
    Disable,
    Enable,
    RevokeSessions,
}

impl UserChange {
    /// The audit action recorded for it.
    pub fn action(self) -> &'static str {
        match self {
            UserChange::Disable => "user.disable",
            UserChange::Enable => "user.enable",
            UserChange::RevokeSessions => "user.revoke_sessions",
        }
    }
}

/// Validate a username: 3..=64 of `[a-z0-9._-]`, starting with a letter or digit.
pub fn validate_username(name: &str) -> Result<(), String> {
    let ok_len = (3..=USERNAME_CHARS_MAX).contains(&name.len());
    let ok_chars = name
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-'));
    let ok_start = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphanumeric());
    if ok_len && ok_chars && ok_start {
        Ok(())
    } else {
        Err(format!(
            "username must be 3 to {USERNAME_CHARS_MAX} characters of a-z, 0-9, '.', '_', '-'"
        ))
    }
}

fn user_from(id: i64, username: String, role: &str) -> StoreResult<User> {
    let role =
        Role::parse(role).ok_or_else(|| StoreError::Corrupt(format!("unknown role {role:?}")))?;
    Ok(User { id, username, role })
}

impl Store {
    /// Add a user (the password already hashed); audited.
    pub async fn add_user(
        &self,
        username: &str,
        password_hash: &str,
        role: Role,
        actor: &str,
    ) -> StoreResult<User> {
        let now = super::now();
        let mut conn = self.conn().await?;
        let tx = conn.transaction().await?;
        let row = tx
            .query_opt(
                "INSERT INTO users (username, password_hash, role, created_at)
                 VALUES ($1, $2, $3, $4) ON CONFLICT (username) DO NOTHING RETURNING id",
                &[&username, &password_hash, &role.as_str(), &now],
            )
            .await?;
        let Some(row) = row else {
            return Err(StoreError::Conflict {
                field: "username",
                message: format!("user {username:?} already exists"),
            });
        };
        let user = User {
            id: row.get(0),
            username: username.to_owned(),
            role,
        };
        audit::append(
            &tx,
            now,
            &AuditEvent {
                actor,
                action: "user.create",
                target: username,
                detail: json!({"role": role.as_str()}),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(user)
    }

    /// The user and their password hash, for a login attempt.
    pub async fn find_for_login(&self, username: &str) -> StoreResult<Option<(User, String)>> {
        let conn = self.conn().await?;
        let row = conn
            .query_opt(
                "SELECT id, username, role, password_hash FROM users
                 WHERE username = $1 AND NOT disabled",
                &[&username],
            )
            .await?;
        row.map(|r| Ok((user_from(r.get(0), r.get(1), r.get(2))?, r.get(3))))
            .transpose()
    }

    pub async fn list_users(&self) -> StoreResult<Vec<User>> {
        let conn = self.conn().await?;
        conn.query("SELECT id, username, role FROM users ORDER BY id", &[])
            .await?
            .iter()
            .map(|r| user_from(r.get(0), r.get(1), r.get(2)))
            .collect()
    }

    /// Store a new session (token hash only), dropping expired ones on the way.
    pub async fn create_session(
        &self,
        user_id: i64,
        token_hash: &str,
        now: OffsetDateTime,
        expires_at: OffsetDateTime,
    ) -> StoreResult<()> {
        let conn = self.conn().await?;
        conn.execute("DELETE FROM sessions WHERE expires_at <= $1", &[&now])
            .await?;
        conn.execute(
            "INSERT INTO sessions (token_hash, user_id, created_at, expires_at)
             VALUES ($1, $2, $3, $4)",
            &[&token_hash, &user_id, &now, &expires_at],
        )
        .await?;
        Ok(())
    }

    /// The user owning an unexpired session.
    pub async fn session_user(
        &self,
        token_hash: &str,
        now: OffsetDateTime,
    ) -> StoreResult<Option<User>> {
        let conn = self.conn().await?;
        let row = conn
            .query_opt(
                "SELECT u.id, u.username, u.role FROM sessions s JOIN users u ON u.id = s.user_id
                 WHERE s.token_hash = $1 AND s.expires_at > $2 AND NOT u.disabled",
                &[&token_hash, &now],
            )
            .await?;
        row.map(|r| user_from(r.get(0), r.get(1), r.get(2)))
            .transpose()
    }

    pub async fn delete_session(&self, token_hash: &str) -> StoreResult<bool> {
        let conn = self.conn().await?;
        Ok(conn
            .execute("DELETE FROM sessions WHERE token_hash = $1", &[&token_hash])
            .await?
            > 0)
    }

    /// Disable, enable or sign out a user everywhere, audited in the same transaction.
    /// Disabling deletes the user's sessions (their tokens stop working at once). Returns
    /// whether the account is now disabled and the sessions deleted; `NotFound` for an unknown
    /// user.
    pub async fn change_user(
        &self,
        username: &str,
        change: UserChange,
        actor: &str,
    ) -> StoreResult<(bool, u64)> {
        let now = super::now();
        let mut conn = self.conn().await?;
        let tx = conn.transaction().await?;
        let row = tx
            .query_opt(
                "SELECT id, disabled FROM users WHERE username = $1 FOR UPDATE",
                &[&username],
            )
            .await?
            .ok_or(StoreError::NotFound("user"))?;
        let (id, was_disabled): (i64, bool) = (row.get(0), row.get(1));
        let disabled = match change {
            UserChange::Disable => true,
            UserChange::Enable => false,
            UserChange::RevokeSessions => was_disabled,
        };
        tx.execute(
            "UPDATE users SET disabled = $2 WHERE id = $1",
            &[&id, &disabled],
        )
        .await?;
        let revoked = if change == UserChange::Enable {
            0
        } else {
            tx.execute("DELETE FROM sessions WHERE user_id = $1", &[&id])
                .await?
        };
        audit::append(
            &tx,
            now,
            &AuditEvent {
                actor,
                action: change.action(),
                target: username,
                detail: json!({"sessions_revoked": revoked}),
            },
        )
        .await?;
        tx.commit().await?;
        Ok((disabled, revoked))
    }

    /// Replace a user's password hash and delete their sessions, audited (without the
    /// password). Returns whether the account is disabled and the sessions deleted.
    pub async fn set_password_hash(
        &self,
        username: &str,
        password_hash: &str,
        actor: &str,
    ) -> StoreResult<(bool, u64)> {
        let now = super::now();
        let mut conn = self.conn().await?;
        let tx = conn.transaction().await?;
        let row = tx
            .query_opt(
                "UPDATE users SET password_hash = $2 WHERE username = $1 RETURNING id, disabled",
                &[&username, &password_hash],
            )
            .await?
            .ok_or(StoreError::NotFound("user"))?;
        let (id, disabled): (i64, bool) = (row.get(0), row.get(1));
        let revoked = tx
            .execute("DELETE FROM sessions WHERE user_id = $1", &[&id])
            .await?;
        audit::append(
            &tx,
            now,
            &AuditEvent {
                actor,
                action: "user.password",
                target: username,
                detail: json!({"sessions_revoked": revoked}),
            },
        )
        .await?;
        tx.commit().await?;
        Ok((disabled, revoked))
    }

    /// Append one audit row in its own transaction.
    pub async fn audit(&self, event: &AuditEvent<'_>) -> StoreResult<i64> {
        let mut conn = self.conn().await?;
        let tx = conn.transaction().await?;
        let seq = audit::append(&tx, super::now(), event).await?;
        tx.commit().await?;
        Ok(seq)
    }

    /// Walk the audit chain.
    pub async fn verify_audit(&self) -> StoreResult<audit::AuditVerdict> {
        let conn = self.conn().await?;
        audit::verify(&conn).await
    }
}
