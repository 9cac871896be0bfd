//! Authentication shared by the edge and the cloud: argon2id password hashes, random bearer
//! tokens stored only as SHA-256, and a login rate limiter keyed by username and by client address.
//!
//! The limiter counts *failed* attempts in a sliding window, plus attempts still being verified
//! (reserved inside `check`, so a burst of concurrent guesses cannot all pass it).
//! - Per client address: a hard limit; once reached, every attempt from it is refused with 429
//!   until old failures age out.
//! - Per username: progressive delays, not a lockout (review 2026-12, finding 14). The first
//!   `max_per_user` failures are free; then one attempt at a time, each after a delay since the
//!   last failure that doubles per failure ([`LOGIN_DELAY_BASE`] up to [`LOGIN_DELAY_MAX`]).
//!   From an address the user logged in from before ([`KNOWN_ADDRESS_TTL`]) the delay does
//!   not apply, so someone guessing an agent's password elsewhere cannot lock the agent out.
//!
//! Guessing costs the attacker time, not the CPU of an argon2 hash per guess. Hashing itself
//! takes one of [`PASSWORD_HASHES_IN_FLIGHT_MAX`] slots.

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
/// First delay imposed on a username after its free failures (`login_max_failures_per_user`
/// inside the window); each further failure doubles it (review 2026-12, finding 14). Long
/// enough that guessing stays slow, short enough that an agent locked out by someone else's
/// guesses waits seconds, not the whole window.
pub const LOGIN_DELAY_BASE: Duration = Duration::from_secs(30);
/// Longest delay between two attempts on one username (the default window).
pub const LOGIN_DELAY_MAX: Duration = Duration::from_secs(15 * 60);
/// Addresses remembered per user after a successful login; from those the per-username delay
/// does not apply (a correct password from the agent's own phone still passes while someone
/// else guesses), the per-address limit still does.
pub const KNOWN_ADDRESSES_PER_USER_MAX: usize = 8;
/// How long a successful login's address stays known (a month of field work).
pub const KNOWN_ADDRESS_TTL: Duration = Duration::from_secs(30 * 24 * 3600);
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

/// Password hashes (verifications or new hashes) computed at once at most. Each argon2id hash
/// holds 19 MiB for ~50 ms on a Raspberry Pi; without a bound a burst of logins runs hundreds
/// of them on tokio's blocking pool (up to 512 threads) and OOM-kills the box. Two keep a
/// login's latency low on a 4-core edge while costing at most 38 MiB.
pub const PASSWORD_HASHES_IN_FLIGHT_MAX: usize = 2;

/// Slots for password hashing: a login or password change takes one before hashing and is
/// refused (429) when none is free, rather than queueing on the blocking pool.
#[derive(Debug)]
pub struct HashingSlots(std::sync::Arc<tokio::sync::Semaphore>);

/// One taken hashing slot; freed on drop (move it into the blocking closure that hashes).
#[derive(Debug)]
pub struct HashingSlot {
    _permit: tokio::sync::OwnedSemaphorePermit,
}

impl HashingSlots {
    pub fn new(slots: usize) -> HashingSlots {
        HashingSlots(std::sync::Arc::new(tokio::sync::Semaphore::new(slots)))
    }

    /// A free slot now, or `None` when every slot is busy.
    pub fn try_take(&self) -> Option<HashingSlot> {
        self.0
            .clone()
            .try_acquire_owned()
            .ok()
            .map(|permit| HashingSlot { _permit: permit })
    }
}

impl Default for HashingSlots {
    fn default() -> HashingSlots {
        HashingSlots::new(PASSWORD_HASHES_IN_FLIGHT_MAX)
    }
}

/// Sliding-window counter of failed logins per key. An attempt is *reserved* inside
/// [`LoginLimiter::check`] (counted as pending until it is resolved), so concurrent attempts
/// cannot all pass the check before any failure is recorded.
#[derive(Debug)]
pub struct LoginLimiter {
    window: Duration,
    max_per_user: u32,
    max_per_address: u32,
    keys: Mutex<Inner>,
}

/// The limiter's state behind its one lock.
#[derive(Debug, Default)]
struct Inner {
    keys: HashMap<LimitKey, KeyState>,
    /// Per username: addresses of recent successful logins, newest last.
    known: HashMap<String, VecDeque<(IpAddr, Instant)>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum LimitKey {
    User(String),
    Address(IpAddr),
}

/// What the limiter knows of one key.
#[derive(Debug, Default)]
struct KeyState {
    /// Failures inside the window, oldest first.
    failures: VecDeque<Instant>,
    /// Attempts that passed `check` and are not resolved yet.
    pending: u32,
    /// When a refusal of this key was last reported for the audit log: at most one
    /// `login.rate_limited` row per key per window (review 2026-12, finding 9).
    refusal_audited_at: Option<Instant>,
}

/// An attempt [`LoginLimiter::check`] refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refused {
    /// Seconds to wait (`Retry-After`).
    pub retry_after_s: u64,
    /// Whether this refusal should be written to the audit log: true for the first refusal of
    /// a blocked key in a window, false for the rest, so a flood of refused attempts costs no
    /// database write.
    pub audit: bool,
}

impl KeyState {
    fn prune(&mut self, now: Instant, window: Duration) {
        while self
            .failures
            .front()
            .is_some_and(|t| now.saturating_duration_since(*t) >= window)
        {
            self.failures.pop_front();
        }
    }

    fn used(&self) -> u32 {
        u32::try_from(self.failures.len())
            .unwrap_or(u32::MAX)
            .saturating_add(self.pending)
    }

    fn idle(&self) -> bool {
        self.failures.is_empty() && self.pending == 0
    }

    /// Report this refusal to the audit log? Once per window.
    fn audit_refusal(&mut self, now: Instant, window: Duration) -> bool {
        let due = self
            .refusal_audited_at
            .is_none_or(|t| now.saturating_duration_since(t) >= window);
        if due {
            self.refusal_audited_at = Some(now);
        }
        due
    }
}

/// A login attempt that passed [`LoginLimiter::check`]: resolve it with
/// [`LoginAttempt::failed`] or [`LoginAttempt::succeeded`]; dropping it unresolved (an internal
/// error) releases the reservation without counting a failure.
#[derive(Debug)]
pub struct LoginAttempt<'a> {
    limiter: &'a LoginLimiter,
    username: String,
    addr: Option<IpAddr>,
    resolved: bool,
}

impl LoginAttempt<'_> {
    /// The password was wrong (or the user unknown): count a failure.
    pub fn failed(mut self, now: Instant) {
        self.resolved = true;
        self.limiter.resolve(&self.username, self.addr, Some(now));
    }

    /// The login succeeded: the user's failures are cleared (not the address's), and the
    /// address becomes known for this user.
    pub fn succeeded(mut self, now: Instant) {
        self.resolved = true;
        self.limiter.resolve(&self.username, self.addr, None);
        let key = LimitKey::User(self.username.clone());
        let mut inner = self.limiter.lock();
        if let Some(state) = inner.keys.get_mut(&key) {
            state.failures.clear();
            if state.idle() {
                inner.keys.remove(&key);
            }
        }
        if let Some(addr) = self.addr {
            if !inner.known.contains_key(&self.username) && inner.known.len() >= RATE_LIMIT_KEYS_MAX
            {
                let oldest = inner
                    .known
                    .iter()
                    .min_by_key(|(_, v)| v.back().map(|(_, t)| *t))
                    .map(|(k, _)| k.clone());
                if let Some(k) = oldest {
                    inner.known.remove(&k);
                }
            }
            let list = inner.known.entry(self.username.clone()).or_default();
            list.retain(|(a, _)| *a != addr);
            list.push_back((addr, now));
            while list.len() > KNOWN_ADDRESSES_PER_USER_MAX {
                list.pop_front();
            }
        }
    }
}

impl Drop for LoginAttempt<'_> {
    fn drop(&mut self) {
        if !self.resolved {
            self.limiter.resolve(&self.username, self.addr, None);
        }
    }
}

impl LoginLimiter {
    pub fn new(window: Duration, max_per_user: u32, max_per_address: u32) -> LoginLimiter {
        LoginLimiter {
            window,
            max_per_user,
            max_per_address,
            keys: Mutex::new(Inner::default()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.keys.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// May this username try now (ignoring addresses)? Its first `max_per_user` failures in
    /// the window are free; after that one attempt at a time, each after a delay since the last
    /// failure that doubles per failure ([`LOGIN_DELAY_BASE`] up to [`LOGIN_DELAY_MAX`]).
    /// Returns the seconds to wait when not.
    fn user_wait(&self, state: &KeyState, now: Instant) -> Option<u64> {
        let failures = u32::try_from(state.failures.len()).unwrap_or(u32::MAX);
        if failures.saturating_add(state.pending) < self.max_per_user {
            return None;
        }
        if state.pending > 0 {
            // Another attempt on this username is being verified: one at a time.
            return Some(1);
        }
        let over = failures.saturating_sub(self.max_per_user).min(16);
        let delay = LOGIN_DELAY_BASE
            .saturating_mul(1 << over)
            .min(LOGIN_DELAY_MAX);
        let last = state.failures.back().copied().unwrap_or(now);
        let ready_at = last + delay;
        (now < ready_at).then(|| ready_at.saturating_duration_since(now).as_secs().max(1))
    }

    /// May another attempt start now? On yes, the attempt is reserved (pending) against the
    /// username and the address until it is resolved; on no, the seconds to wait and whether
    /// to audit the refusal.
    pub fn check(
        &self,
        username: &str,
        addr: Option<IpAddr>,
        now: Instant,
    ) -> Result<LoginAttempt<'_>, Refused> {
        let mut inner = self.lock();
        let known = addr.is_some_and(|a| {
            inner.known.get(username).is_some_and(|list| {
                list.iter()
                    .any(|(k, t)| *k == a && now.saturating_duration_since(*t) < KNOWN_ADDRESS_TTL)
            })
        });
        let map = &mut inner.keys;
        let user_key = LimitKey::User(username.to_owned());
        let user_wait = match map.get_mut(&user_key) {
            Some(state) if !known => {
                state.prune(now, self.window);
                self.user_wait(state, now)
            }
            _ => None,
        };
        let blocked_user = user_wait.is_some();
        let blocked_addr = addr.is_some_and(|a| {
            map.get_mut(&LimitKey::Address(a)).is_some_and(|s| {
                s.prune(now, self.window);
                s.used() >= self.max_per_address
            })
        });
        if blocked_user || blocked_addr {
            let mut audit = false;
            let blocking_keys = [
                blocked_user.then(|| user_key.clone()),
                addr.filter(|_| blocked_addr).map(LimitKey::Address),
            ];
            for key in blocking_keys.into_iter().flatten() {
                if let Some(state) = map.get_mut(&key) {
                    audit |= state.audit_refusal(now, self.window);
                }
            }
            let retry_after_s = if blocked_addr {
                self.window.as_secs().max(1)
            } else {
                user_wait.unwrap_or(1)
            };
            return Err(Refused {
                retry_after_s,
                audit,
            });
        }
        Self::make_room(map, 2);
        map.entry(user_key).or_default().pending += 1;
        if let Some(a) = addr {
            map.entry(LimitKey::Address(a)).or_default().pending += 1;
        }
        Ok(LoginAttempt {
            limiter: self,
            username: username.to_owned(),
            addr,
            resolved: false,
        })
    }

    /// Keep at most [`RATE_LIMIT_KEYS_MAX`] keys: evict idle keys whose newest failure is
    /// oldest (a key with a pending attempt is never evicted).
    fn make_room(map: &mut HashMap<LimitKey, KeyState>, needed: usize) {
        while map.len() + needed > RATE_LIMIT_KEYS_MAX {
            let oldest = map
                .iter()
                .filter(|(_, s)| s.pending == 0)
                .min_by_key(|(_, s)| s.failures.back().copied())
                .map(|(k, _)| k.clone());
            match oldest {
                Some(k) => {
                    map.remove(&k);
                }
                None => return,
            }
        }
    }

    /// End a reservation; `failed_at` counts a failure.
    fn resolve(&self, username: &str, addr: Option<IpAddr>, failed_at: Option<Instant>) {
        let mut inner = self.lock();
        let map = &mut inner.keys;
        let keys =
            std::iter::once(LimitKey::User(username.to_owned())).chain(addr.map(LimitKey::Address));
        for key in keys {
            let state = map.entry(key.clone()).or_default();
            state.pending = state.pending.saturating_sub(1);
            if let Some(t) = failed_at {
                state.failures.push_back(t);
            }
            if state.idle() {
                map.remove(&key);
            }
        }
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
            l.check("ravi", Some(ip), t0).unwrap().failed(t0);
        }
        assert!(l.check("ravi", Some(ip), t0).is_err());
        // another user from the same address is still allowed (address limit is 5)
        l.check("sita", Some(ip), t0).unwrap().failed(t0);
        l.check("mohan", Some(ip), t0).unwrap().failed(t0);
        assert!(l.check("geeta", Some(ip), t0).is_err(), "address limit");
        assert!(l.check("ravi", None, t0 + Duration::from_secs(61)).is_ok());
    }

    /// Finding 4 of the 2026-12 review: concurrent attempts all passing `check` before any
    /// failure is recorded got more guesses than the limit. Each `check` now reserves one.
    #[test]
    fn concurrent_attempts_are_reserved_inside_check() {
        let l = LoginLimiter::new(Duration::from_secs(60), 3, 100);
        let t0 = Instant::now();
        let in_flight: Vec<_> = (0..3).map(|_| l.check("ravi", None, t0).unwrap()).collect();
        assert!(l.check("ravi", None, t0).is_err(), "a 4th concurrent guess");
        // Resolving them as failures keeps the user blocked; dropping one releases it.
        let mut in_flight = in_flight.into_iter();
        in_flight.next().unwrap().failed(t0);
        drop(in_flight.next());
        assert!(l.check("ravi", None, t0).is_ok_and(|a| {
            a.failed(t0);
            true
        }));
        in_flight.next().unwrap().failed(t0);
        assert!(l.check("ravi", None, t0).is_err());
        // From many threads at once: never more than 3 attempts get through.
        let l = std::sync::Arc::new(LoginLimiter::new(Duration::from_secs(60), 3, 100));
        let passed: usize = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..32)
                .map(|_| {
                    let l = l.clone();
                    scope.spawn(move || {
                        let attempt = l.check("sita", None, t0);
                        let ok = attempt.is_ok();
                        std::thread::sleep(Duration::from_millis(5));
                        if let Ok(a) = attempt {
                            a.failed(t0);
                        }
                        usize::from(ok)
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).sum()
        });
        assert_eq!(passed, 3);
    }

    /// Finding 9 of the 2026-12 review: a flood of refused attempts asks for one audit row per
    /// blocked key per window, not one each.
    #[test]
    fn refusals_are_audited_once_per_key_per_window() {
        let window = Duration::from_secs(60);
        let l = LoginLimiter::new(window, 2, 100);
        let t0 = Instant::now();
        for _ in 0..2 {
            l.check("ravi", None, t0).unwrap().failed(t0);
        }
        let first = l.check("ravi", None, t0).unwrap_err();
        assert!(first.audit);
        for i in 1..50 {
            let again = l
                .check("ravi", None, t0 + Duration::from_millis(i))
                .unwrap_err();
            assert!(!again.audit, "refusal {i} audited again");
        }
        // Another blocked key gets its own row.
        for _ in 0..2 {
            l.check("sita", None, t0).unwrap().failed(t0);
        }
        assert!(l.check("sita", None, t0).unwrap_err().audit);
        // A new window, a new row.
        let later = t0 + window + Duration::from_secs(1);
        for _ in 0..2 {
            l.check("ravi", None, later).unwrap().failed(later);
        }
        assert!(l.check("ravi", None, later).unwrap_err().audit);
    }

    #[test]
    fn success_clears_the_users_failures() {
        let l = LoginLimiter::new(Duration::from_secs(60), 3, 100);
        let t0 = Instant::now();
        l.check("ravi", None, t0).unwrap().failed(t0);
        l.check("ravi", None, t0).unwrap().failed(t0);
        l.check("ravi", None, t0).unwrap().succeeded(t0);
        for _ in 0..3 {
            l.check("ravi", None, t0).unwrap().failed(t0);
        }
        assert!(l.check("ravi", None, t0).is_err());
    }

    /// Finding 14 of the 2026-12 review: no hard per-username lockout. After the free failures
    /// the username waits a delay that doubles per failure, and a correct password from an
    /// address the user logged in from before is not delayed at all.
    #[test]
    fn usernames_get_progressive_delays_and_known_addresses_pass() {
        let window = Duration::from_secs(3600);
        let l = LoginLimiter::new(window, 3, 1000);
        let t0 = Instant::now();
        let phone: IpAddr = "10.0.0.7".parse().unwrap();
        let attacker: IpAddr = "203.0.113.9".parse().unwrap();
        l.check("ravi", Some(phone), t0).unwrap().succeeded(t0);
        for _ in 0..3 {
            l.check("ravi", Some(attacker), t0).unwrap().failed(t0);
        }
        // Delayed for LOGIN_DELAY_BASE after the last failure...
        let refused = l.check("ravi", Some(attacker), t0).unwrap_err();
        assert_eq!(refused.retry_after_s, LOGIN_DELAY_BASE.as_secs());
        // ...but not from the phone that logged in before.
        l.check("ravi", Some(phone), t0 + Duration::from_secs(1))
            .unwrap()
            .succeeded(t0 + Duration::from_secs(1));
        for _ in 0..3 {
            l.check("ravi", Some(attacker), t0).unwrap().failed(t0);
        }
        // After the delay one attempt; a failure doubles the delay.
        let t1 = t0 + LOGIN_DELAY_BASE;
        assert!(
            l.check("ravi", Some(attacker), t1 - Duration::from_secs(1))
                .is_err()
        );
        l.check("ravi", Some(attacker), t1).unwrap().failed(t1);
        let refused = l.check("ravi", Some(attacker), t1).unwrap_err();
        assert_eq!(refused.retry_after_s, 2 * LOGIN_DELAY_BASE.as_secs());
        let t2 = t1 + 2 * LOGIN_DELAY_BASE;
        l.check("ravi", Some(attacker), t2).unwrap().failed(t2);
        assert_eq!(
            l.check("ravi", None, t2).unwrap_err().retry_after_s,
            4 * LOGIN_DELAY_BASE.as_secs()
        );
        // The delay never exceeds LOGIN_DELAY_MAX.
        let mut t = t2;
        for _ in 0..10 {
            t += LOGIN_DELAY_MAX;
            l.check("ravi", Some(attacker), t).unwrap().failed(t);
        }
        assert!(l.check("ravi", None, t).unwrap_err().retry_after_s <= LOGIN_DELAY_MAX.as_secs());
        // The phone still gets in.
        assert!(l.check("ravi", Some(phone), t).is_ok());
    }

    #[test]
    fn hashing_slots_are_bounded() {
        let slots = HashingSlots::new(2);
        let a = slots.try_take().unwrap();
        let _b = slots.try_take().unwrap();
        assert!(slots.try_take().is_none());
        drop(a);
        assert!(slots.try_take().is_some());
    }
}
