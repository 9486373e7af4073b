//! The binary fingerprint exchanged at registration: every process of a cluster must
//! run the same executable, since plans are rebuilt from code, not shipped.

use std::hash::Hasher;
use std::io::Read;
use std::sync::OnceLock;

/// A hash of this process's executable file (0 if it cannot be read, which then
/// matches only another process that could not read its own either).
pub fn of_this_binary() -> u64 {
    static FINGERPRINT: OnceLock<u64> = OnceLock::new();
    *FINGERPRINT.get_or_init(|| {
        std::env::current_exe()
            .and_then(std::fs::File::open)
            .and_then(|mut f| {
                // SipHash with fixed keys: the same bytes give the same value in any
                // process of the same binary.
                let mut hasher = std::hash::DefaultHasher::new();
                let mut buf = vec![0u8; 1 << 20];
                loop {
                    let n = f.read(&mut buf)?;
                    if n == 0 {
                        break;
                    }
                    hasher.write(&buf[..n]);
                }
                Ok(hasher.finish())
            })
            .unwrap_or(0)
    })
}
