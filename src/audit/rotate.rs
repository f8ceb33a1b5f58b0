//! Size-based rotation: `decisions.jsonl` → `decisions.jsonl.1` → … → `.{keep}`, the
//! oldest dropped. The writer rotates only between lines, so no line is ever split
//! across two files.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

/// The path of the `n`th rotated file (`n ≥ 1`): `decisions.jsonl.n`.
pub fn rotated_path(path: &Path, n: usize) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(format!(".{n}"));
    PathBuf::from(name)
}

/// Shifts `.{keep-1}` → `.{keep}` … `.1` → `.2`, then the live file → `.1`; with
/// `keep = 0` the live file is removed. The caller has closed the live file (or will
/// reopen it: on Unix the rename moves an open handle's file along with it).
pub fn rotate(path: &Path, keep: usize) -> io::Result<()> {
    if keep == 0 {
        return remove_if_present(path);
    }
    remove_if_present(&rotated_path(path, keep))?;
    for n in (1..keep).rev() {
        let from = rotated_path(path, n);
        if from.exists() {
            fs::rename(&from, rotated_path(path, n + 1))?;
        }
    }
    fs::rename(path, rotated_path(path, 1))
}

fn remove_if_present(path: &Path) -> io::Result<()> {
    match fs::remove_file(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotation_shifts_and_drops_the_oldest() {
        let dir = tempfile::tempdir().unwrap();
        let live = dir.path().join("decisions.jsonl");
        for generation in 0..4 {
            fs::write(&live, format!("{generation}\n")).unwrap();
            rotate(&live, 2).unwrap();
        }
        assert!(!live.exists());
        assert_eq!(fs::read_to_string(rotated_path(&live, 1)).unwrap(), "3\n");
        assert_eq!(fs::read_to_string(rotated_path(&live, 2)).unwrap(), "2\n");
        assert!(!rotated_path(&live, 3).exists());
    }
}
