//! Secrets the embedded default generates once and keeps under `DATA_DIR` (the token signing key,
//! the bootstrap operator's password, the payload keys, the number hash key): files of mode 0600
//! that every later start reads back.

use std::io::Write as _;
use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
use std::path::Path;

/// A secret file that cannot be read or written.
#[derive(Debug, thiserror::Error)]
#[error("cannot keep a secret in {path}")]
pub struct SecretFileError {
    /// The file.
    pub path: String,
    /// Why.
    #[source]
    pub source: std::io::Error,
}

/// The secret kept in `path` (surrounding white space trimmed), or, when there is none yet, a
/// new one from `generate` kept there first; and whether this call created it. The file is
/// written whole under a temporary name and linked into place, so processes starting together
/// agree on one secret and none reads a half-written file.
pub fn load_or_create(
    path: &Path,
    generate: impl FnOnce() -> String,
) -> Result<(String, bool), SecretFileError> {
    let fail = |source| SecretFileError {
        path: path.display().to_string(),
        source,
    };
    match read(path) {
        Ok(secret) => return Ok((secret, false)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(fail(e)),
    }
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(fail)?;
    }
    let temporary = path.with_extension(format!("new-{}", uuid::Uuid::new_v4().simple()));
    let linked = write_private(&temporary, generate().as_bytes())
        .and_then(|()| std::fs::hard_link(&temporary, path));
    let _ = std::fs::remove_file(&temporary);
    let created = match linked {
        Ok(()) => true,
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => false,
        Err(e) => return Err(fail(e)),
    };
    Ok((read(path).map_err(fail)?, created))
}

fn read(path: &Path) -> std::io::Result<String> {
    let secret = std::fs::read_to_string(path)?;
    let mode = std::fs::metadata(path)?.permissions().mode();
    if mode & 0o077 != 0 {
        tracing::warn!(path = %path.display(), "a secret file is readable by others; chmod 600 it");
    }
    Ok(secret.trim().to_owned())
}

fn write_private(path: &Path, secret: &[u8]) -> std::io::Result<()> {
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(secret)?;
    file.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_is_generated_once_kept_private_and_read_back() {
        let dir = std::env::temp_dir().join(format!("dc-secrets-{}", uuid::Uuid::new_v4()));
        let path = dir.join("nested").join("secret");
        let (first, created) = load_or_create(&path, || "s3cret\n".to_owned()).expect("kept");
        assert_eq!((first.as_str(), created), ("s3cret", true));
        let mode = std::fs::metadata(&path).expect("file").permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let (again, created) =
            load_or_create(&path, || unreachable!("generated twice")).expect("read");
        assert_eq!((again.as_str(), created), ("s3cret", false));
        let leftovers = std::fs::read_dir(dir.join("nested")).expect("dir").count();
        assert_eq!(leftovers, 1, "the temporary file was left behind");
        std::fs::remove_dir_all(dir).expect("clean up");
    }
}
