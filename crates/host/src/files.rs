//! Reading the files an operator names in the settings (`ca_bundle`,
//! `est_client_cert`, `est_client_key`, `acme_srv.cfg`): regular files
//! only, of bounded size. A typo that names `/dev/zero`, a FIFO, a device
//! or a directory gets an error naming the file and what it is, at once,
//! instead of a read that never ends or fills the memory.

use anyhow::{Context, Result, bail};
use std::fs::{File, FileType, OpenOptions};
use std::io::Read;
use std::path::Path;

/// The largest file the host reads for a setting (1 MiB): far above any
/// certificate bundle, key, PKCS#12 file or `acme_srv.cfg`.
pub const MAX_OPERATOR_FILE: u64 = 1024 * 1024;

/// The contents of the regular file at `path`, at most
/// [`MAX_OPERATOR_FILE`] bytes; an error naming `path` and the problem
/// when it cannot be opened, is not a regular file or is larger.
pub fn read_operator_file(path: &Path) -> Result<Vec<u8>> {
    read_regular_file(path, MAX_OPERATOR_FILE)
}

/// Like [`read_operator_file`], with `limit` bytes as the bound.
pub fn read_regular_file(path: &Path, limit: u64) -> Result<Vec<u8>> {
    let shown = path.display();
    let file = open_without_blocking(path).with_context(|| format!("cannot read {shown}"))?;
    let metadata = file
        .metadata()
        .with_context(|| format!("cannot read {shown}"))?;
    if !metadata.is_file() {
        bail!(
            "cannot read {shown}: it is {}, not a regular file",
            kind(metadata.file_type())
        );
    }
    if metadata.len() > limit {
        bail!(
            "cannot read {shown}: it has {} bytes, more than the {limit} allowed",
            metadata.len()
        );
    }
    let mut data = Vec::with_capacity(metadata.len() as usize);
    file.take(limit + 1)
        .read_to_end(&mut data)
        .with_context(|| format!("cannot read {shown}"))?;
    if data.len() as u64 > limit {
        // It grew while it was read.
        bail!("cannot read {shown}: it has more than the {limit} bytes allowed");
    }
    Ok(data)
}

/// Opens `path` for reading without waiting for a writer when it is a
/// FIFO (`O_NONBLOCK`; it makes no difference to a regular file).
fn open_without_blocking(path: &Path) -> std::io::Result<File> {
    let mut options = OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY);
    }
    options.open(path)
}

/// What a file that is not a regular file is, in words.
fn kind(file_type: FileType) -> &'static str {
    if file_type.is_dir() {
        return "a directory";
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if file_type.is_fifo() {
            return "a FIFO";
        }
        if file_type.is_char_device() {
            return "a character device";
        }
        if file_type.is_block_device() {
            return "a block device";
        }
        if file_type.is_socket() {
            return "a socket";
        }
    }
    "a special file"
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::path::PathBuf;
    use std::time::Duration;

    /// A fresh scratch directory for `test`.
    pub(crate) fn scratch_dir(test: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("est-files-{}-{test}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    /// A FIFO at `dir/name` (no writer ever opens it).
    pub(crate) fn fifo(dir: &Path, name: &str) -> PathBuf {
        let path = dir.join(name);
        let made = std::process::Command::new("mkfifo")
            .arg(&path)
            .status()
            .expect("mkfifo runs (coreutils)");
        assert!(made.success(), "mkfifo {}", path.display());
        path
    }

    /// `read` in a thread of its own, given 10 s: a read that hangs fails
    /// the test instead of hanging it.
    pub(crate) fn within_10_s<T: Send + 'static>(read: impl FnOnce() -> T + Send + 'static) -> T {
        let (done, outcome) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let _ = done.send(read());
        });
        outcome
            .recv_timeout(Duration::from_secs(10))
            .expect("the read ends within 10 s (it hangs)")
    }

    fn refused(path: PathBuf) -> String {
        let err = within_10_s(move || read_operator_file(&path).map(|data| data.len()))
            .expect_err("the file is refused");
        format!("{err:#}")
    }

    #[test]
    fn a_regular_file_is_read_whole() {
        let dir = scratch_dir("regular");
        let path = dir.join("ca.pem");
        std::fs::write(&path, b"contents\n").unwrap();
        assert_eq!(read_operator_file(&path).unwrap(), b"contents\n");
        let limit = dir.join("limit");
        std::fs::write(&limit, vec![b'x'; 64]).unwrap();
        assert_eq!(read_regular_file(&limit, 64).unwrap().len(), 64);
        let err = read_operator_file(&dir.join("missing.pem")).unwrap_err();
        assert!(format!("{err:#}").starts_with("cannot read "), "{err:#}");
    }

    #[test]
    fn dev_zero_is_refused_at_once() {
        let text = refused(PathBuf::from("/dev/zero"));
        assert_eq!(
            text,
            "cannot read /dev/zero: it is a character device, not a regular file"
        );
    }

    #[test]
    fn a_fifo_is_refused_without_waiting_for_a_writer() {
        let dir = scratch_dir("fifo");
        let path = fifo(&dir, "ca.pem");
        let text = refused(path.clone());
        assert_eq!(
            text,
            format!(
                "cannot read {}: it is a FIFO, not a regular file",
                path.display()
            )
        );
    }

    #[test]
    fn a_directory_is_refused() {
        let dir = scratch_dir("directory");
        let text = refused(dir.clone());
        assert_eq!(
            text,
            format!(
                "cannot read {}: it is a directory, not a regular file",
                dir.display()
            )
        );
    }

    #[test]
    fn a_file_over_the_bound_is_refused_unread() {
        let dir = scratch_dir("oversized");
        let path = dir.join("ca.pem");
        // Sparse: 2 GiB that take no disk space.
        File::create(&path)
            .unwrap()
            .set_len(2 * 1024 * 1024 * 1024)
            .unwrap();
        let text = refused(path.clone());
        assert_eq!(
            text,
            format!(
                "cannot read {}: it has 2147483648 bytes, more than the 1048576 allowed",
                path.display()
            )
        );
        let just_over = dir.join("just-over");
        std::fs::write(&just_over, vec![b'x'; 65]).unwrap();
        let err = read_regular_file(&just_over, 64).unwrap_err();
        assert!(err.to_string().contains("65 bytes"), "{err}");
    }
}
