//! Finding inputs: directories walked, containers opened, contents hashed.
//!
//! A `.gz` is read through and a `.zip` member by member, each member being
//! an input of its own (`logs.zip!dc1/Security.evtx`); containers are told
//! by their magic bytes, never by their names (the format of what is inside
//! is [`crate::format`]'s to tell).

use crate::error::ContainerError;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

/// The BLAKE3 of a file's content, in hex: how a run tells copies of one
/// file apart from other files, and how the store's manifest names files.
/// (BLAKE3 rather than SHA-256: hashing was a fifth of writing a store.)
pub fn content_hash(path: &Path) -> std::io::Result<String> {
    let mut hasher = blake3::Hasher::new();
    hash_file(path, |bytes| {
        hasher.update(bytes);
    })?;
    Ok(hasher.finalize().to_hex().to_string())
}

/// The SHA-256 of a file's content, in hex: how stores written before
/// layout 3 name their files.
pub fn content_sha256(path: &Path) -> std::io::Result<String> {
    use sha2::{Digest, Sha256};
    let mut hasher = Sha256::new();
    hash_file(path, |bytes| hasher.update(bytes))?;
    Ok(hasher.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

/// Feeds a file's content to `update` in large reads (`io::copy`'s 8 KiB
/// made a system call per 8 KiB).
fn hash_file(path: &Path, mut update: impl FnMut(&[u8])) -> std::io::Result<()> {
    let mut file = std::fs::File::open(path)?;
    let mut buffer = vec![0u8; 1 << 20];
    loop {
        match file.read(&mut buffer) {
            Ok(0) => return Ok(()),
            Ok(n) => update(&buffer[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

/// A BLAKE3 of a file's first and last 64 KiB: files that differ there
/// are not copies of each other (a quick first look before
/// [`content_hash`]).
pub fn content_sample(path: &Path) -> std::io::Result<[u8; 32]> {
    use std::io::{Seek, SeekFrom};
    const SAMPLE: u64 = 64 * 1024;
    let mut file = std::fs::File::open(path)?;
    let size = file.metadata()?.len();
    let mut buffer = Vec::with_capacity(2 * SAMPLE as usize);
    (&mut file).take(SAMPLE).read_to_end(&mut buffer)?;
    if size > SAMPLE {
        file.seek(SeekFrom::Start(size.saturating_sub(SAMPLE).max(SAMPLE)))?;
        file.take(SAMPLE).read_to_end(&mut buffer)?;
    }
    Ok(*blake3::hash(&buffer).as_bytes())
}

/// How much of an input is looked at to decide its format.
pub const SNIFF_BYTES: usize = 64 * 1024;

/// One input: a file on disk or a member of a container, already read.
pub struct Source {
    /// The file on disk this input is (or is inside).
    pub path: PathBuf,
    /// How reports name it: the path, with `!member` for container members.
    pub location: String,
    pub content: Content,
}

pub enum Content {
    /// Read straight from `path` (large EVTX and Parquet files stream).
    File,
    /// `path` is gzip: decompressed as it is read.
    Gzip,
    /// Decompressed or extracted bytes (small ones: see [`SPOOL_BYTES`]).
    Bytes(Vec<u8>),
    /// Decompressed or extracted into a temporary file, removed when the
    /// source is dropped: a large member never sits in memory.
    Spooled(tempfile::NamedTempFile),
}

/// Extracted or decompressed content past this many bytes goes to a
/// temporary file rather than memory, unless
/// [`crate::IngestOptions::spool_bytes`] says otherwise.
pub const SPOOL_BYTES: u64 = 64 << 20;

/// Copies `reader` to a new temporary file (under `TMPDIR`), deleted when
/// dropped.
pub fn spool(reader: &mut dyn Read) -> std::io::Result<tempfile::NamedTempFile> {
    let mut spool = tempfile::Builder::new().prefix("kqlite-spool-").tempfile()?;
    let mut writer = std::io::BufWriter::with_capacity(1 << 20, spool.as_file_mut());
    std::io::copy(reader, &mut writer)?;
    writer.flush()?;
    drop(writer);
    Ok(spool)
}

/// `reader`'s content: in memory up to `limit` bytes, else in a spool file.
/// `size` is what the container says the content holds, when it says.
fn extract(reader: &mut dyn Read, size: Option<u64>, limit: u64) -> std::io::Result<Content> {
    if size.is_some_and(|n| n > limit) {
        return spool(reader).map(Content::Spooled);
    }
    let mut head = Vec::new();
    reader.take(limit + 1).read_to_end(&mut head)?;
    if head.len() as u64 <= limit {
        return Ok(Content::Bytes(head));
    }
    spool(&mut std::io::Cursor::new(head).chain(reader)).map(Content::Spooled)
}

impl Source {
    /// The first bytes of the input (of a damaged gzip stream, what
    /// decompresses before the damage).
    pub fn head(&self) -> std::io::Result<Vec<u8>> {
        if let Content::Bytes(bytes) = &self.content {
            return Ok(bytes[..bytes.len().min(SNIFF_BYTES)].to_vec());
        }
        let mut head = Vec::with_capacity(SNIFF_BYTES);
        match self.reader()?.take(SNIFF_BYTES as u64).read_to_end(&mut head) {
            Err(e) if head.is_empty() => Err(e),
            _ => Ok(head),
        }
    }

    /// The whole input.
    pub fn bytes(&self) -> std::io::Result<std::borrow::Cow<'_, [u8]>> {
        match &self.content {
            Content::Bytes(bytes) => Ok(std::borrow::Cow::Borrowed(bytes)),
            Content::File => std::fs::read(&self.path).map(std::borrow::Cow::Owned),
            Content::Spooled(spool) => std::fs::read(spool.path()).map(std::borrow::Cow::Owned),
            Content::Gzip => {
                let mut out = Vec::new();
                self.reader()?.read_to_end(&mut out)?;
                Ok(std::borrow::Cow::Owned(out))
            }
        }
    }

    /// The input as a stream.
    pub fn reader(&self) -> std::io::Result<Box<dyn Read + '_>> {
        Ok(match &self.content {
            Content::Bytes(bytes) => Box::new(&bytes[..]),
            Content::File => Box::new(std::fs::File::open(&self.path)?),
            Content::Spooled(spool) => Box::new(spool.reopen()?),
            Content::Gzip => Box::new(GzipErrors(flate2::read::MultiGzDecoder::new(std::io::BufReader::new(
                std::fs::File::open(&self.path)?,
            )))),
        })
    }
}

/// A gzip stream whose read errors say they come from decompressing.
struct GzipErrors<R>(R);

impl<R: Read> Read for GzipErrors<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.0.read(buf).map_err(gzip_error)
    }
}

/// A decompression error that says it is one.
fn gzip_error(e: std::io::Error) -> std::io::Error {
    std::io::Error::new(e.kind(), format!("cannot decompress gzip: {e}"))
}

/// The files under `paths` (directories recursively, in path order, hidden
/// files and directories left out), and the paths that could not be listed
/// or looked at, with why. Symbolic links are followed.
pub fn walk(paths: &[PathBuf]) -> (Vec<PathBuf>, Vec<(PathBuf, String)>) {
    let mut files = Vec::new();
    let mut errors = Vec::new();
    for path in paths {
        let entries = walkdir::WalkDir::new(path)
            .follow_links(true)
            .sort_by_file_name()
            .into_iter()
            // Hidden files and directories (.git, .DS_Store) are not
            // telemetry; a path given by name is read whatever its name.
            .filter_entry(|entry| {
                entry.depth() == 0 || !entry.file_name().to_str().is_some_and(|n| n.starts_with('.'))
            });
        for entry in entries {
            match entry {
                Ok(entry) if entry.file_type().is_dir() => {}
                Ok(entry) => files.push(entry.into_path()),
                Err(e) => {
                    let at = e.path().unwrap_or(path).to_path_buf();
                    let why = match e.io_error() {
                        Some(io) if at.is_dir() => format!("{}: cannot list: {io}", at.display()),
                        Some(io) => format!("{}: {io}", at.display()),
                        None => format!("{}: {e}", at.display()),
                    };
                    errors.push((at, why));
                }
            }
        }
    }
    (files, errors)
}

/// Opens `path` and hands each input in it to `each`: the file itself, the
/// decompressed content of a gzip file, or every member of a zip archive
/// (members that are gzip or zip are opened in turn). A gzip file is
/// decompressed as it is read; zip members are extracted one at a time.
/// Errors name the file or member.
/// Extracted content over `spool_bytes` goes to a temporary file.
pub fn open(path: &Path, spool_bytes: u64, each: &mut dyn FnMut(Source)) -> Result<(), ContainerError> {
    let location = path.display().to_string();
    let mut magic = [0u8; 4];
    let n = match std::fs::File::open(path).and_then(|mut f| read_up_to(&mut f, &mut magic)) {
        Ok(n) => n,
        Err(source) => return Err(ContainerError::Unreadable { location, source }),
    };
    let opener = Opener { path, spool_bytes };
    if is_gzip(&magic[..n]) {
        // Streamed, unless it holds another container.
        let source = Source { path: path.to_path_buf(), location, content: Content::Gzip };
        let decompressed = source.head().and_then(|inner| {
            if is_gzip(&inner) || is_zip(&inner) {
                source.bytes().map(|bytes| Some(bytes.into_owned()))
            } else {
                Ok(None)
            }
        });
        return match decompressed {
            Ok(None) => {
                each(source);
                Ok(())
            }
            Ok(Some(bytes)) => opener.open_bytes(source.location, bytes, each, 1),
            Err(e) => Err(ContainerError::Decompress { location: source.location, source: e }),
        };
    }
    if is_zip(&magic[..n]) {
        // The archive is read from the file: only one member is in memory.
        return match std::fs::File::open(path) {
            Ok(file) => opener.open_zip(&location, std::io::BufReader::new(file), each, 1),
            Err(source) => Err(ContainerError::Unreadable { location, source }),
        };
    }
    each(Source { path: path.to_path_buf(), location, content: Content::File });
    Ok(())
}

/// Containers inside containers, at most this deep.
const MAX_NESTING: usize = 4;

/// What opening one file's containers needs to know.
struct Opener<'p> {
    path: &'p Path,
    spool_bytes: u64,
}

impl Opener<'_> {
    fn open_bytes(
        &self,
        location: String,
        bytes: Vec<u8>,
        each: &mut dyn FnMut(Source),
        depth: usize,
    ) -> Result<(), ContainerError> {
        if depth > MAX_NESTING {
            return Err(ContainerError::TooDeep { location, depth: MAX_NESTING });
        }
        if is_gzip(&bytes) {
            let mut out = Vec::new();
            if let Err(e) = flate2::read::MultiGzDecoder::new(&bytes[..]).read_to_end(&mut out) {
                return Err(ContainerError::Decompress { location, source: gzip_error(e) });
            }
            return self.open_bytes(location, out, each, depth + 1);
        }
        if is_zip(&bytes) {
            return self.open_zip(&location, std::io::Cursor::new(&bytes[..]), each, depth);
        }
        each(Source { path: self.path.to_path_buf(), location, content: Content::Bytes(bytes) });
        Ok(())
    }

    /// Every file member of a zip archive, extracted one at a time.
    fn open_zip<R: Read + std::io::Seek>(
        &self,
        location: &str,
        reader: R,
        each: &mut dyn FnMut(Source),
        depth: usize,
    ) -> Result<(), ContainerError> {
        let mut archive = zip::ZipArchive::new(reader)
            .map_err(|source| ContainerError::NotZip { location: location.to_string(), source })?;
        let mut errors = Vec::new();
        for index in 0..archive.len() {
            let (name, member) = match archive.by_index(index) {
                Ok(mut entry) if entry.is_file() => {
                    let name = entry.name().to_string();
                    let size = entry.size();
                    (name, extract(&mut entry, Some(size), self.spool_bytes))
                }
                Ok(_) => continue,
                Err(source) => {
                    errors.push(ContainerError::Member { location: location.to_string(), index, source });
                    continue;
                }
            };
            let member_location = format!("{location}!{name}");
            match member {
                Ok(Content::Bytes(out)) => {
                    if let Err(e) = self.open_bytes(member_location, out, each, depth + 1) {
                        errors.push(e);
                    }
                }
                // A large member: containers inside it are not opened.
                Ok(content) => each(Source { path: self.path.to_path_buf(), location: member_location, content }),
                Err(source) => errors.push(ContainerError::Extract { location: member_location, source }),
            }
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(ContainerError::Members(errors))
        }
    }
}

fn read_up_to(file: &mut std::fs::File, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match file.read(&mut buf[n..])? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}

pub(crate) fn is_gzip(bytes: &[u8]) -> bool {
    bytes.starts_with(&[0x1f, 0x8b])
}

fn is_zip(bytes: &[u8]) -> bool {
    bytes.starts_with(b"PK\x03\x04") || bytes.starts_with(b"PK\x05\x06")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Files in path order, hidden entries left out below the paths given,
    /// and an entry that cannot be looked at reported with its path.
    #[test]
    fn walk_sorts_skips_hidden_entries_and_reports_each_unreadable_one() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        for name in ["b/2.log", "b/1.log", "a.log", ".git/config", "c/.hidden", "c/z.log"] {
            let path = root.join(name);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, "x").unwrap();
        }
        #[cfg(unix)]
        std::os::unix::fs::symlink(root.join("missing"), root.join("b/0-broken")).unwrap();
        let (files, errors) = walk(&[root.to_path_buf()]);
        let names: Vec<String> =
            files.iter().map(|f| f.strip_prefix(root).unwrap().to_string_lossy().into_owned()).collect();
        assert_eq!(names, ["a.log", "b/1.log", "b/2.log", "c/z.log"]);
        #[cfg(unix)]
        {
            assert_eq!(errors.len(), 1, "{errors:?}");
            assert_eq!(errors[0].0, root.join("b/0-broken"));
            assert!(errors[0].1.starts_with(&format!("{}: ", root.join("b/0-broken").display())), "{errors:?}");
        }
        // A hidden file named on its own is read.
        let (files, errors) = walk(&[root.join(".git/config")]);
        assert_eq!((files, errors.len()), (vec![root.join(".git/config")], 0));
    }
}
