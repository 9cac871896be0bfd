//! The node's ed25519 identity: a 32-byte seed in `<data_dir>/node.key`, created on first start
//! with mode 0600, never logged (the key type redacts itself in `Debug`).
//!
//! The file is written to a temporary name, fsynced and renamed, so a power cut during creation
//! leaves either no key or a whole key, never half of one.

use std::io::Write;
use std::path::Path;

use anyhow::{Context, bail};
use farmco_sync::protocol::keys::NodeSecretKey;

pub const KEY_FILE_NAME: &str = "node.key";

/// Load the node key, creating it on first start.
pub fn load_or_create_node_key(data_dir: &Path) -> anyhow::Result<NodeSecretKey> {
    let path = data_dir.join(KEY_FILE_NAME);
    match std::fs::read(&path) {
        Ok(bytes) => {
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                let mode = std::fs::metadata(&path)?.permissions().mode();
                if mode & 0o077 != 0 {
                    bail!(
                        "{}: the node key is readable by others (mode {:o}); run chmod 600 {} \
                         and consider the key exposed",
                        path.display(),
                        mode & 0o777,
                        path.display()
                    );
                }
            }
            NodeSecretKey::from_bytes(&bytes)
                .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let seed: [u8; 32] = rand::random();
            let key = NodeSecretKey::from_seed(seed);
            write_secret_file(data_dir, KEY_FILE_NAME, key.seed_bytes())
                .with_context(|| format!("creating {}", path.display()))?;
            tracing::info!(node_id = %key.node_id(), "created the node key");
            Ok(key)
        }
        Err(e) => bail!("reading {}: {e}", path.display()),
    }
}

/// The file holding the node's secret for one-time codes (`store::otp`).
pub const OTP_KEY_FILE_NAME: &str = "otp.key";

/// Load a 32-byte secret from `<data_dir>/<name>`, creating it (random, mode 0600) on first use.
/// A file of another length is refused rather than replaced: replacing a key would make every
/// value it protects unreadable.
pub fn load_or_create_secret(data_dir: &Path, name: &str) -> std::io::Result<[u8; 32]> {
    let path = data_dir.join(name);
    match std::fs::read(&path) {
        Ok(bytes) => <[u8; 32]>::try_from(bytes.as_slice()).map_err(|_| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!(
                    "{}: expected 32 bytes, found {}",
                    path.display(),
                    bytes.len()
                ),
            )
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let secret: [u8; 32] = rand::random();
            write_secret_file(data_dir, name, &secret)?;
            Ok(secret)
        }
        Err(e) => Err(e),
    }
}

/// Write a secret atomically with mode 0600: a temporary file, fsync, rename, fsync the folder,
/// so a power cut leaves either no file or the whole one.
fn write_secret_file(data_dir: &Path, name: &str, bytes: &[u8]) -> std::io::Result<()> {
    std::fs::create_dir_all(data_dir)?;
    let tmp = data_dir.join(format!("{name}.tmp"));
    let _ = std::fs::remove_file(&tmp);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(&tmp)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    drop(file);
    std::fs::rename(&tmp, data_dir.join(name))?;
    if let Ok(dir) = std::fs::File::open(data_dir) {
        let _ = dir.sync_all();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_is_created_once_with_private_mode_and_a_short_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let a = load_or_create_secret(dir.path(), OTP_KEY_FILE_NAME).unwrap();
        let b = load_or_create_secret(dir.path(), OTP_KEY_FILE_NAME).unwrap();
        assert_eq!(a, b);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join(OTP_KEY_FILE_NAME))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        std::fs::write(dir.path().join("short.key"), [1u8; 5]).unwrap();
        assert!(load_or_create_secret(dir.path(), "short.key").is_err());
    }

    #[cfg(unix)]
    #[test]
    fn a_key_readable_by_others_is_refused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        load_or_create_node_key(dir.path()).unwrap();
        let path = dir.path().join(KEY_FILE_NAME);
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let error = load_or_create_node_key(dir.path()).unwrap_err().to_string();
        assert!(error.contains("chmod 600"), "{error}");
    }

    #[test]
    fn key_is_created_once_with_private_mode() {
        let dir = tempfile::tempdir().unwrap();
        let a = load_or_create_node_key(dir.path()).unwrap();
        let b = load_or_create_node_key(dir.path()).unwrap();
        assert_eq!(a.node_id(), b.node_id());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join(KEY_FILE_NAME))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        assert!(!format!("{a:?}").contains(&hex::encode(a.seed_bytes())));
    }
}
