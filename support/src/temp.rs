//! Temporary directories for tests and harnesses.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

/// A fresh, empty directory under the system's temporary directory, removed (with
/// everything in it) on drop. Its name holds a tag, the process id and a counter, so
/// that tests running in parallel, in one process or several, never share one.
#[derive(Debug)]
pub struct TempDir(PathBuf);

impl TempDir {
    /// Creates `neptune-{tag}-{pid}-{n}`, emptying a leftover of that name.
    pub fn new(tag: &str) -> TempDir {
        static N: AtomicU32 = AtomicU32::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("neptune-{tag}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("a temporary directory");
        TempDir(dir)
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.0
    }

    /// Writes `contents` to `name` in the directory and returns its path.
    pub fn file(&self, name: &str, contents: &str) -> PathBuf {
        let p = self.0.join(name);
        std::fs::write(&p, contents).expect("a file in the temporary directory");
        p
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directories_are_distinct_and_removed_on_drop() {
        let (a, b) = (TempDir::new("support"), TempDir::new("support"));
        assert_ne!(a.path(), b.path());
        let file = a.file("x.txt", "x");
        assert_eq!(std::fs::read_to_string(&file).unwrap(), "x");
        let path = a.path().to_owned();
        drop(a);
        assert!(!path.exists());
    }
}
