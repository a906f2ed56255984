//! Files without blocking a worker: tokio::fs's shape, each call one job on the blocking pool.
//!
//! Regular files cannot be waited on with epoll (they are always "ready", and a read that
//! misses the page cache simply blocks), so there is no reactor path for them: each function
//! here runs std's on a blocking thread ([`crate::spawn_blocking`]) and awaits it. That costs a
//! hand-off per call (a few microseconds): read and write whole files, not a byte at a time.
//!
//! ```
//! # let rt = spool::Runtime::new()?;
//! # rt.block_on(async {
//! let dir = std::env::temp_dir().join(format!("spool-doc-fs-{}", std::process::id()));
//! spool::fs::create_dir_all(&dir).await?;
//! let file = dir.join("hello.txt");
//! spool::fs::write(&file, "Hello, World!").await?;
//! assert_eq!(spool::fs::read_to_string(&file).await?, "Hello, World!");
//! spool::fs::remove_file(&file).await?;
//! # std::fs::remove_dir(&dir)?;
//! # std::io::Result::Ok(()) })?;
//! # std::io::Result::Ok(())
//! ```

use std::fs::Metadata;
use std::io;
use std::path::{Path, PathBuf};

/// Runs `f` on the blocking pool and awaits its result.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> io::Result<T> + Send + 'static,
) -> io::Result<T> {
    crate::spawn_blocking(f)
        .await
        .map_err(|err| io::Error::other(format!("file operation did not complete: {err}")))?
}

/// The whole file at `path` ([`std::fs::read`]).
///
/// ```
/// # let rt = spool::Runtime::new()?;
/// # rt.block_on(async {
/// let err = spool::fs::read("/nonexistent/spool").await.unwrap_err();
/// assert_eq!(err.kind(), std::io::ErrorKind::NotFound);
/// # std::io::Result::Ok(()) })?;
/// # std::io::Result::Ok(())
/// ```
pub async fn read(path: impl AsRef<Path>) -> io::Result<Vec<u8>> {
    let path = path.as_ref().to_owned();
    blocking(move || std::fs::read(path)).await
}

/// The whole file at `path` as UTF-8 ([`std::fs::read_to_string`]; `InvalidData` if it is not).
///
/// ```
/// # let rt = spool::Runtime::new()?;
/// # rt.block_on(async {
/// let hosts = spool::fs::read_to_string("/etc/hostname").await;
/// # drop(hosts);
/// # std::io::Result::Ok(()) })?;
/// # std::io::Result::Ok(())
/// ```
pub async fn read_to_string(path: impl AsRef<Path>) -> io::Result<String> {
    let path = path.as_ref().to_owned();
    blocking(move || std::fs::read_to_string(path)).await
}

/// Writes `contents` as the whole file at `path`, creating or truncating it
/// ([`std::fs::write`]).
///
/// ```
/// # let rt = spool::Runtime::new()?;
/// # rt.block_on(async {
/// let file = std::env::temp_dir().join(format!("spool-doc-write-{}", std::process::id()));
/// spool::fs::write(&file, b"bytes").await?;
/// assert_eq!(spool::fs::read(&file).await?, b"bytes");
/// # spool::fs::remove_file(&file).await?;
/// # std::io::Result::Ok(()) })?;
/// # std::io::Result::Ok(())
/// ```
pub async fn write(path: impl AsRef<Path>, contents: impl AsRef<[u8]>) -> io::Result<()> {
    let path = path.as_ref().to_owned();
    let contents = contents.as_ref().to_owned();
    blocking(move || std::fs::write(path, contents)).await
}

/// The metadata of `path`, following symlinks ([`std::fs::metadata`]).
///
/// ```
/// # let rt = spool::Runtime::new()?;
/// # rt.block_on(async {
/// assert!(spool::fs::metadata("/").await?.is_dir());
/// # std::io::Result::Ok(()) })?;
/// # std::io::Result::Ok(())
/// ```
pub async fn metadata(path: impl AsRef<Path>) -> io::Result<Metadata> {
    let path = path.as_ref().to_owned();
    blocking(move || std::fs::metadata(path)).await
}

/// Creates `path` and every missing parent ([`std::fs::create_dir_all`]).
///
/// ```
/// # let rt = spool::Runtime::new()?;
/// # rt.block_on(async {
/// let dir = std::env::temp_dir().join(format!("spool-doc-mkdir-{}/a/b", std::process::id()));
/// spool::fs::create_dir_all(&dir).await?;
/// assert!(spool::fs::metadata(&dir).await?.is_dir());
/// # std::io::Result::Ok(()) })?;
/// # std::io::Result::Ok(())
/// ```
pub async fn create_dir_all(path: impl AsRef<Path>) -> io::Result<()> {
    let path = path.as_ref().to_owned();
    blocking(move || std::fs::create_dir_all(path)).await
}

/// Removes the file at `path` ([`std::fs::remove_file`]).
///
/// ```
/// # let rt = spool::Runtime::new()?;
/// # rt.block_on(async {
/// let err = spool::fs::remove_file("/nonexistent/spool").await.unwrap_err();
/// assert_eq!(err.kind(), std::io::ErrorKind::NotFound);
/// # std::io::Result::Ok(()) })?;
/// # std::io::Result::Ok(())
/// ```
pub async fn remove_file(path: impl AsRef<Path>) -> io::Result<()> {
    let path = path.as_ref().to_owned();
    blocking(move || std::fs::remove_file(path)).await
}

/// Renames `from` to `to`, replacing `to` if it exists ([`std::fs::rename`]: atomic within one
/// file system, the usual way to replace a file whole).
///
/// ```
/// # let rt = spool::Runtime::new()?;
/// # rt.block_on(async {
/// let dir = std::env::temp_dir();
/// let (tmp, done) = (dir.join(format!("spool-doc-{}.tmp", std::process::id())), dir.join(format!("spool-doc-{}.done", std::process::id())));
/// spool::fs::write(&tmp, "new version").await?;
/// spool::fs::rename(&tmp, &done).await?;
/// assert_eq!(spool::fs::read_to_string(&done).await?, "new version");
/// # spool::fs::remove_file(&done).await?;
/// # std::io::Result::Ok(()) })?;
/// # std::io::Result::Ok(())
/// ```
pub async fn rename(from: impl AsRef<Path>, to: impl AsRef<Path>) -> io::Result<()> {
    let (from, to): (PathBuf, PathBuf) = (from.as_ref().to_owned(), to.as_ref().to_owned());
    blocking(move || std::fs::rename(from, to)).await
}
