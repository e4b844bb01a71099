//! Where a secret the operator asked for is written: a new file readable by its owner only.

use std::io::Write;
use std::path::Path;

use secrecy::{ExposeSecret, SecretString};

/// Writes `secret` to a new file readable by its owner only (0600); an existing file is never overwritten, so a
/// second run cannot replace a key the operator has not installed yet.
pub fn write_secret_file(path: &Path, secret: &SecretString) -> std::io::Result<()> {
    let mut o = std::fs::OpenOptions::new();
    o.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        o.mode(0o600);
    }
    let mut f = o.open(path)?;
    f.write_all(secret.expose_secret().as_bytes())?;
    f.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_files_are_private_and_never_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.credentials");
        write_secret_file(&p, &SecretString::from("s3cr3t")).unwrap();
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "s3cr3t");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            assert_eq!(
                std::fs::metadata(&p).unwrap().permissions().mode() & 0o777,
                0o600
            );
        }
        assert!(write_secret_file(&p, &SecretString::from("other")).is_err());
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "s3cr3t");
    }
}
