//! Authentication shared by the edge and the cloud: argon2id password hashes, random bearer
//! tokens stored only as SHA-256, and a login rate limiter keyed by username and by client address.
//!
//! The limiter counts *failed* attempts in a sliding window; once a key reaches its limit every
//! further attempt (even with the right password) is refused with 429 until old failures age out,
//! so guessing costs the attacker the window, not the CPU of an argon2 hash per guess.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use sha2::{Digest, Sha256};

/// Shortest password accepted for a new user.
pub const PASSWORD_CHARS_MIN: usize = 8;
/// Longest password accepted (argon2 could take more; a bound keeps hashing time predictable).
pub const PASSWORD_BYTES_MAX: usize = 1_024;
/// Keys tracked by the limiter at most; beyond that the oldest entries are evicted so a flood of
/// random usernames cannot grow memory without bound.
pub const RATE_LIMIT_KEYS_MAX: usize = 10_000;

fn argon2() -> Argon2<'static> {
    // OWASP's argon2id minimum (19 MiB, t=2, p=1): affordable on a Raspberry Pi, ~50 ms there.
    let params = Params::new(19 * 1024, 2, 1, None).unwrap_or_default();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Hash a password into a PHC string (argon2id, random salt).
pub fn hash_password(password: &str) -> anyhow::Result<String> {
    let mut salt_bytes = [0u8; 16];
    rand::fill(&mut salt_bytes);
    let salt = SaltString::encode_b64(&salt_bytes)
        .map_err(|e| anyhow::anyhow!("salt encoding failed: {e}"))?;
    let hash = argon2()
        .hash_password(password.as_bytes(), &salt)
        .map_err(|e| anyhow::anyhow!("password hashing failed: {e}"))?;
    Ok(hash.to_string())
}

/// Check a password against a PHC string; false for a wrong password or a malformed hash.
pub fn verify_password(password: &str, phc: &str) -> bool {
    match PasswordHash::new(phc) {
        Ok(parsed) => argon2()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok(),
        Err(_) => false,
    }
}

/// A hash of a password nobody knows, verified against when the username does not exist, so
/// response time does not reveal which usernames exist.
pub fn dummy_hash() -> &'static str {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY.get_or_init(|| hash_password("not-a-real-password-7f3a").unwrap_or_default())
}

/// Validate a new password's length.
pub fn check_new_password(password: &str) -> Result<(), String> {
    if password.chars().count() < PASSWORD_CHARS_MIN {
        return Err(format!(
            "password must have at least {PASSWORD_CHARS_MIN} characters"
        ));
    }
    if password.len() > PASSWORD_BYTES_MAX {
        return Err(format!(
            "password must be at most {PASSWORD_BYTES_MAX} bytes"
        ));
    }
    Ok(())
}

/// A new random bearer token (256 bits, hex).
pub fn new_token() -> String {
    let bytes: [u8; 32] = rand::random();
    hex::encode(bytes)
}

/// What the store keeps of a token.
pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Sliding-window counter of failed logins per key.
#[derive(Debug)]
pub struct LoginLimiter {
    window: Duration,
    max_per_user: u32,
    max_per_address: u32,
    failures: Mutex<HashMap<LimitKey, VecDeque<Instant>>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum LimitKey {
    User(String),
    Address(IpAddr),
}

impl LoginLimiter {
    pub fn new(window: Duration, max_per_user: u32, max_per_address: u32) -> LoginLimiter {
        LoginLimiter {
            window,
            max_per_user,
            max_per_address,
            failures: Mutex::new(HashMap::new()),
        }
    }

    fn count(
        map: &mut HashMap<LimitKey, VecDeque<Instant>>,
        key: &LimitKey,
        now: Instant,
        window: Duration,
    ) -> u32 {
        let Some(q) = map.get_mut(key) else { return 0 };
        while q.front().is_some_and(|t| now.duration_since(*t) >= window) {
            q.pop_front();
        }
        let n = u32::try_from(q.len()).unwrap_or(u32::MAX);
        if n == 0 {
            map.remove(key);
        }
        n
    }

    /// Is another attempt allowed now? Returns the seconds to wait when not.
    pub fn check(&self, username: &str, addr: Option<IpAddr>, now: Instant) -> Result<(), u64> {
        let mut map = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        let user_key = LimitKey::User(username.to_owned());
        let blocked_user = Self::count(&mut map, &user_key, now, self.window) >= self.max_per_user;
        let blocked_addr = addr.is_some_and(|a| {
            Self::count(&mut map, &LimitKey::Address(a), now, self.window) >= self.max_per_address
        });
        if blocked_user || blocked_addr {
            Err(self.window.as_secs().max(1))
        } else {
            Ok(())
        }
    }

    /// Record a failed attempt.
    pub fn record_failure(&self, username: &str, addr: Option<IpAddr>, now: Instant) {
        let mut map = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() >= RATE_LIMIT_KEYS_MAX {
            // Evict the key whose newest failure is oldest.
            if let Some(oldest) = map
                .iter()
                .min_by_key(|(_, q)| q.back().copied())
                .map(|(k, _)| k.clone())
            {
                map.remove(&oldest);
            }
        }
        map.entry(LimitKey::User(username.to_owned()))
            .or_default()
            .push_back(now);
        if let Some(a) = addr {
            map.entry(LimitKey::Address(a)).or_default().push_back(now);
        }
    }

    /// A successful login clears the user's failures (not the address's).
    pub fn record_success(&self, username: &str) {
        let mut map = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        map.remove(&LimitKey::User(username.to_owned()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_round_trip() {
        let h = hash_password("correct horse").unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_password("correct horse", &h));
        assert!(!verify_password("wrong horse", &h));
        assert!(!verify_password("correct horse", "garbage"));
    }

    #[test]
    fn limiter_blocks_after_failures_and_recovers() {
        let l = LoginLimiter::new(Duration::from_secs(60), 3, 5);
        let t0 = Instant::now();
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        for _ in 0..3 {
            assert!(l.check("ravi", Some(ip), t0).is_ok());
            l.record_failure("ravi", Some(ip), t0);
        }
        assert!(l.check("ravi", Some(ip), t0).is_err());
        // another user from the same address is still allowed (address limit is 5)
        assert!(l.check("sita", Some(ip), t0).is_ok());
        l.record_failure("sita", Some(ip), t0);
        l.record_failure("mohan", Some(ip), t0);
        assert!(l.check("geeta", Some(ip), t0).is_err(), "address limit");
        assert!(l.check("ravi", None, t0 + Duration::from_secs(61)).is_ok());
    }
}
