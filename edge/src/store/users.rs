//! User accounts, roles and login sessions.
//!
//! Passwords are stored only as argon2id PHC strings (hashed in `crate::auth`), and bearer tokens
//! only as their SHA-256, so a stolen database file yields neither.

use farmco_sync::VillageCode;
use rusqlite::{Connection, OptionalExtension, params};

use super::{StoreError, StoreResult};

/// Longest username we accept (and the shortest is 3).
pub const USERNAME_CHARS_MAX: usize = 64;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Field agent: only the villages assigned to them.
    Agent,
    /// Every village of the node.
    Supervisor,
    /// Users and settings, and every village.
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Agent => "agent",
            Role::Supervisor => "supervisor",
            Role::Admin => "admin",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "agent" => Some(Role::Agent),
            "supervisor" => Some(Role::Supervisor),
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
    pub villages: Vec<VillageCode>,
}

impl User {
    /// May this user see and edit farmers of `village`?
    pub fn can_access_village(&self, village: VillageCode) -> bool {
        match self.role {
            Role::Supervisor | Role::Admin => true,
            Role::Agent => self.villages.contains(&village),
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

fn row_to_user(id: i64, username: String, role: &str, villages: &str) -> StoreResult<User> {
    let role =
        Role::parse(role).ok_or_else(|| StoreError::Corrupt(format!("unknown role {role:?}")))?;
    let codes: Vec<String> = serde_json::from_str(villages)
        .map_err(|e| StoreError::Corrupt(format!("users.villages: {e}")))?;
    let villages = codes
        .iter()
        .map(|c| VillageCode::parse("villages", c))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(User {
        id,
        username,
        role,
        villages,
    })
}

pub fn add_user(
    conn: &Connection,
    username: &str,
    password_hash: &str,
    role: Role,
    villages: &[VillageCode],
    now_ms: i64,
) -> StoreResult<User> {
    let codes: Vec<String> = villages.iter().map(|v| v.to_string()).collect();
    let villages_json = serde_json::Value::from(codes).to_string();
    let exists: Option<i64> = conn
        .query_row(
            "SELECT id FROM users WHERE username = ?1",
            [username],
            |r| r.get(0),
        )
        .optional()?;
    if exists.is_some() {
        return Err(StoreError::Conflict {
            field: "username",
            message: format!("user {username:?} already exists"),
        });
    }
    conn.execute(
        "INSERT INTO users (username, password_hash, role, villages, created_ms)
         VALUES (?1, ?2, ?3, ?4, ?5)",
        params![
            username,
            password_hash,
            role.as_str(),
            villages_json,
            now_ms
        ],
    )?;
    Ok(User {
        id: conn.last_insert_rowid(),
        username: username.to_owned(),
        role,
        villages: villages.to_vec(),
    })
}

/// The user and their password hash, for a login attempt.
pub fn find_for_login(conn: &Connection, username: &str) -> StoreResult<Option<(User, String)>> {
    let row: Option<(i64, String, String, String, String)> = conn
        .query_row(
            "SELECT id, username, role, villages, password_hash FROM users
             WHERE username = ?1 AND disabled = 0",
            [username],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
        )
        .optional()?;
    match row {
        Some((id, username, role, villages, hash)) => {
            Ok(Some((row_to_user(id, username, &role, &villages)?, hash)))
        }
        None => Ok(None),
    }
}

pub fn list_users(conn: &Connection) -> StoreResult<Vec<User>> {
    let mut stmt = conn.prepare("SELECT id, username, role, villages FROM users ORDER BY id")?;
    let rows = stmt.query_map([], |r| {
        Ok((
            r.get::<_, i64>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, String>(2)?,
            r.get::<_, String>(3)?,
        ))
    })?;
    let mut users = Vec::new();
    for row in rows {
        let (id, username, role, villages) = row?;
        users.push(row_to_user(id, username, &role, &villages)?);
    }
    Ok(users)
}

pub fn create_session(
    conn: &Connection,
    user_id: i64,
    token_hash: &str,
    now_ms: i64,
    expires_ms: i64,
) -> StoreResult<()> {
    // Expired sessions are garbage; removing them here keeps the table small without a timer.
    conn.execute("DELETE FROM sessions WHERE expires_ms <= ?1", [now_ms])?;
    conn.execute(
        "INSERT INTO sessions (token_hash, user_id, created_ms, expires_ms) VALUES (?1, ?2, ?3, ?4)",
        params![token_hash, user_id, now_ms, expires_ms],
    )?;
    Ok(())
}

/// The user owning an unexpired session.
pub fn session_user(conn: &Connection, token_hash: &str, now_ms: i64) -> StoreResult<Option<User>> {
    let row: Option<(i64, String, String, String)> = conn
        .prepare_cached(
            "SELECT u.id, u.username, u.role, u.villages FROM sessions s
             JOIN users u ON u.id = s.user_id
             WHERE s.token_hash = ?1 AND s.expires_ms > ?2 AND u.disabled = 0",
        )?
        .query_row(params![token_hash, now_ms], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
        })
        .optional()?;
    match row {
        Some((id, username, role, villages)) => {
            Ok(Some(row_to_user(id, username, &role, &villages)?))
        }
        None => Ok(None),
    }
}

pub fn delete_session(conn: &Connection, token_hash: &str) -> StoreResult<bool> {
    Ok(conn.execute("DELETE FROM sessions WHERE token_hash = ?1", [token_hash])? > 0)
}

/// A user by name, with whether the account is disabled.
pub fn find_user(conn: &Connection, username: &str) -> StoreResult<Option<(User, bool)>> {
    let row: Option<(i64, String, String, String, bool)> = conn
        .query_row(
            "SELECT id, username, role, villages, disabled != 0 FROM users WHERE username = ?1",
            [username],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
        )
        .optional()?;
    match row {
        Some((id, username, role, villages, disabled)) => Ok(Some((
            row_to_user(id, username, &role, &villages)?,
            disabled,
        ))),
        None => Ok(None),
    }
}

/// Disable or enable a user; disabling also deletes every session of theirs. Returns the
/// number of sessions deleted.
pub fn set_disabled(conn: &Connection, user_id: i64, disabled: bool) -> StoreResult<usize> {
    conn.execute(
        "UPDATE users SET disabled = ?2 WHERE id = ?1",
        params![user_id, i64::from(disabled)],
    )?;
    if disabled {
        delete_user_sessions(conn, user_id)
    } else {
        Ok(0)
    }
}

/// Replace a user's password hash and delete every session of theirs (a leaked password or a
/// lost phone is answered by a new password). Returns the number of sessions deleted.
pub fn set_password_hash(
    conn: &Connection,
    user_id: i64,
    password_hash: &str,
) -> StoreResult<usize> {
    conn.execute(
        "UPDATE users SET password_hash = ?2 WHERE id = ?1",
        params![user_id, password_hash],
    )?;
    delete_user_sessions(conn, user_id)
}

/// Delete every session of a user (their tokens stop working at once).
pub fn delete_user_sessions(conn: &Connection, user_id: i64) -> StoreResult<usize> {
    Ok(conn.execute("DELETE FROM sessions WHERE user_id = ?1", [user_id])?)
}
