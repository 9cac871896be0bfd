//! The cloud's identity: an ed25519 key pair whose 32-byte seed lives in `<data_dir>/node.key`
//! (mode 0600), created from 32 random bytes on first start. The public key is the cloud's node
//! id; edges pin it at enrollment and check every response envelope against it.
//!
//! The seed never leaves this module except inside [`CloudKey`], which zeroizes on drop
//! (ed25519-dalek's `zeroize` feature) and prints as `[redacted]`.
//! (Interim: `farmco_sync::protocol::NodeSecretKey` will replace this type.)

use std::io::{Read, Write};
use std::path::Path;

use anyhow::{Context, bail};
use ed25519_dalek::SigningKey;
use zeroize::Zeroize;

/// File name of the seed inside the data dir.
pub const KEY_FILE_NAME: &str = "node.key";
/// Length of an ed25519 seed and of a public key.
pub const KEY_BYTES: usize = 32;

/// The cloud's signing key.
pub struct CloudKey {
    signing: SigningKey,
}

impl std::fmt::Debug for CloudKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CloudKey")
            .field("public_key", &self.public_key_hex())
            .field("seed", &"[redacted]")
            .finish()
    }
}

impl CloudKey {
    /// Build from a seed; the caller's copy is zeroized.
    pub fn from_seed(seed: &mut [u8; KEY_BYTES]) -> CloudKey {
        let signing = SigningKey::from_bytes(seed);
        seed.zeroize();
        CloudKey { signing }
    }

    /// Read `<data_dir>/node.key`, creating the directory and a fresh random key on first start.
    pub fn load_or_create(data_dir: &Path) -> anyhow::Result<CloudKey> {
        std::fs::create_dir_all(data_dir)
            .with_context(|| format!("creating the data dir {}", data_dir.display()))?;
        let path = data_dir.join(KEY_FILE_NAME);
        let mut seed = [0u8; KEY_BYTES];
        match create_exclusive(&path) {
            Ok(mut file) => {
                rand::fill(&mut seed);
                file.write_all(&seed)
                    .and_then(|()| file.sync_all())
                    .with_context(|| format!("writing {}", path.display()))?;
                tracing::info!(path = %path.display(), "created the cloud's identity key");
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                let mut file = std::fs::File::open(&path)
                    .with_context(|| format!("opening {}", path.display()))?;
                let mut bytes = Vec::with_capacity(KEY_BYTES + 1);
                Read::by_ref(&mut file)
                    .take(KEY_BYTES as u64 + 1)
                    .read_to_end(&mut bytes)
                    .with_context(|| format!("reading {}", path.display()))?;
                if bytes.len() != KEY_BYTES {
                    let n = bytes.len();
                    bytes.zeroize();
                    bail!(
                        "{} must hold exactly {KEY_BYTES} bytes, found {n}{}",
                        path.display(),
                        if n > KEY_BYTES { " or more" } else { "" }
                    );
                }
                seed.copy_from_slice(&bytes);
                bytes.zeroize();
                warn_if_readable_by_others(&file, &path);
            }
            Err(e) => {
                return Err(e).with_context(|| format!("creating {}", path.display()));
            }
        }
        Ok(CloudKey::from_seed(&mut seed))
    }

    pub fn public_key(&self) -> [u8; KEY_BYTES] {
        self.signing.verifying_key().to_bytes()
    }

    /// The node id: the public key as 64 lower-case hex characters.
    pub fn public_key_hex(&self) -> String {
        hex::encode(self.public_key())
    }

    /// SHA-256 of the public key (hex): what operators hand to `farmco-edge enroll
    /// --cloud-key-fingerprint` out of band.
    pub fn fingerprint(&self) -> String {
        farmco_sync::protocol::enroll::key_fingerprint_bytes(&self.public_key())
    }

    /// The signing key, for the sync endpoint's response envelopes.
    pub fn signing_key(&self) -> &SigningKey {
        &self.signing
    }
}

#[cfg(unix)]
fn create_exclusive(path: &Path) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
}

#[cfg(not(unix))]
fn create_exclusive(path: &Path) -> std::io::Result<std::fs::File> {
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
}

#[cfg(unix)]
fn warn_if_readable_by_others(file: &std::fs::File, path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    if let Ok(meta) = file.metadata()
        && meta.permissions().mode() & 0o077 != 0
    {
        tracing::warn!(path = %path.display(), "the key file is readable by other users; chmod 600 it");
    }
}

#[cfg(not(unix))]
fn warn_if_readable_by_others(_file: &std::fs::File, _path: &Path) {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_file_is_created_once_with_mode_0600() {
        let dir = tempfile::tempdir().unwrap();
        let a = CloudKey::load_or_create(dir.path()).unwrap();
        let b = CloudKey::load_or_create(dir.path()).unwrap();
        assert_eq!(a.public_key(), b.public_key());
        assert_eq!(a.public_key_hex().len(), 64);
        assert!(!format!("{a:?}").contains(&hex::encode(a.signing.to_bytes())));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join(KEY_FILE_NAME))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn a_truncated_key_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(KEY_FILE_NAME), [1u8; 31]).unwrap();
        assert!(CloudKey::load_or_create(dir.path()).is_err());
    }
}
