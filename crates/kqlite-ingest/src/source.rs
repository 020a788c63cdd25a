//! Finding inputs: directories walked, containers opened, formats sniffed.
//!
//! The format of an input is read from its content, never from its name:
//! magic bytes (`ElfFile` for EVTX, `PAR1` for Parquet, gzip, zip), then the
//! structure of its first lines (syslog, JSON, CSV). A `.gz` is read through
//! and a `.zip` member by member, each member being an input of its own
//! (`logs.zip!dc1/Security.evtx`).

use std::io::Read;
use std::path::{Path, PathBuf};

/// The BLAKE3 hash of a file's content, in hex: how an in-memory run tells
/// copies of one file apart from other files (several times faster than
/// SHA-256, and as hard to collide on purpose).
pub fn content_fingerprint(path: &Path) -> std::io::Result<String> {
    let mut hasher = blake3::Hasher::new();
    // Mapped rather than read: no copy of the file through a buffer.
    hasher.update_mmap(path)?;
    Ok(hasher.finalize().to_hex().to_string())
}

/// A BLAKE3 hash of a file's first and last 64 KiB: files that differ
/// there are not copies of each other (a quick first look before
/// [`content_fingerprint`]).
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

/// The SHA-256 of a file's content, in hex (the store's manifest names
/// files by it).
pub fn content_hash(path: &Path) -> std::io::Result<String> {
    use sha2::{Digest, Sha256};
    let mut file = std::fs::File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; 1 << 20];
    loop {
        match file.read(&mut buffer)? {
            0 => break,
            n => hasher.update(&buffer[..n]),
        }
    }
    Ok(hasher.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

/// How much of an input is looked at to decide its format.
const SNIFF_BYTES: usize = 64 * 1024;

/// The formats kqlite reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Evtx,
    Parquet,
    Syslog,
    /// Windows events as JSON lines (NXLog, Winlogbeat).
    WindowsJson,
    /// JSON records: arrays, lines, Log Analytics and Defender exports.
    Json,
    Csv,
}

impl Format {
    pub fn name(self) -> &'static str {
        match self {
            Format::Evtx => "evtx",
            Format::Parquet => "parquet",
            Format::Syslog => "syslog",
            Format::WindowsJson => "windows-json",
            Format::Json => "json",
            Format::Csv => "csv",
        }
    }
}

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
    Spooled(Spool),
}

/// Extracted or decompressed content past this many bytes goes to a
/// temporary file rather than memory (`KQLITE_SPOOL_BYTES` overrides it).
pub const SPOOL_BYTES: u64 = 64 << 20;

fn spool_bytes() -> u64 {
    std::env::var("KQLITE_SPOOL_BYTES").ok().and_then(|v| v.trim().parse().ok()).unwrap_or(SPOOL_BYTES)
}

/// A temporary file of extracted content, deleted on drop.
pub struct Spool {
    pub path: PathBuf,
}

impl Drop for Spool {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

impl Spool {
    /// Copies `reader` to a new temporary file (under `TMPDIR`).
    pub fn write(reader: &mut dyn Read) -> std::io::Result<Spool> {
        static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let path = std::env::temp_dir().join(format!("kqlite-spool-{}-{n}", std::process::id()));
        let mut file = std::fs::OpenOptions::new().write(true).create_new(true).open(&path)?;
        let spool = Spool { path };
        std::io::copy(reader, &mut std::io::BufWriter::with_capacity(1 << 20, &mut file))?;
        Ok(spool)
    }
}

/// `reader`'s content: in memory up to [`SPOOL_BYTES`], else in a spool file.
/// `size` is what the container says the content holds, when it says.
fn extract(reader: &mut dyn Read, size: Option<u64>) -> std::io::Result<Content> {
    let limit = spool_bytes();
    if size.is_some_and(|n| n > limit) {
        return Spool::write(reader).map(Content::Spooled);
    }
    let mut head = Vec::new();
    reader.take(limit + 1).read_to_end(&mut head)?;
    if head.len() as u64 <= limit {
        return Ok(Content::Bytes(head));
    }
    Spool::write(&mut std::io::Cursor::new(head).chain(reader)).map(Content::Spooled)
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
            Content::Spooled(spool) => std::fs::read(&spool.path).map(std::borrow::Cow::Owned),
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
            Content::Spooled(spool) => Box::new(std::fs::File::open(&spool.path)?),
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
pub fn gzip_error(e: std::io::Error) -> std::io::Error {
    std::io::Error::new(e.kind(), format!("cannot decompress gzip: {e}"))
}

/// The files under `paths` (directories recursively, in path order), and
/// the paths that could not be listed with why.
pub fn walk(paths: &[PathBuf]) -> (Vec<PathBuf>, Vec<(PathBuf, String)>) {
    let mut files = Vec::new();
    let mut errors = Vec::new();
    for path in paths {
        match std::fs::metadata(path) {
            Ok(m) if m.is_dir() => walk_dir(path, &mut files, &mut errors),
            Ok(_) => files.push(path.clone()),
            Err(e) => errors.push((path.clone(), format!("{}: {e}", path.display()))),
        }
    }
    (files, errors)
}

fn walk_dir(dir: &Path, files: &mut Vec<PathBuf>, errors: &mut Vec<(PathBuf, String)>) {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) => return errors.push((dir.to_path_buf(), format!("{}: cannot list: {e}", dir.display()))),
    };
    let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok()).map(|e| e.path()).collect();
    paths.sort();
    for path in paths {
        // Hidden files and directories (.git, .DS_Store) are not telemetry.
        if path.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with('.')) {
            continue;
        }
        match std::fs::metadata(&path) {
            Ok(m) if m.is_dir() => walk_dir(&path, files, errors),
            Ok(_) => files.push(path),
            Err(e) => errors.push((path.clone(), format!("{}: {e}", path.display()))),
        }
    }
}

/// Opens `path` and hands each input in it to `each`: the file itself, the
/// decompressed content of a gzip file, or every member of a zip archive
/// (members that are gzip or zip are opened in turn). A gzip file is
/// decompressed as it is read; zip members are extracted one at a time.
/// Errors name the file or member.
pub fn open(path: &Path, each: &mut dyn FnMut(Source)) -> Result<(), String> {
    let location = path.display().to_string();
    let mut magic = [0u8; 4];
    let n = std::fs::File::open(path)
        .and_then(|mut f| read_up_to(&mut f, &mut magic))
        .map_err(|e| format!("{location}: cannot read: {e}"))?;
    if is_gzip(&magic[..n]) {
        // Streamed, unless it holds another container.
        let source = Source { path: path.to_path_buf(), location, content: Content::Gzip };
        let inner = source.head().map_err(|e| format!("{}: {e}", source.location))?;
        if !is_gzip(&inner) && !is_zip(&inner) {
            each(source);
            return Ok(());
        }
        let bytes = source.bytes().map_err(|e| format!("{}: {e}", source.location))?.into_owned();
        return open_bytes(path, source.location, bytes, each, 1);
    }
    if is_zip(&magic[..n]) {
        // The archive is read from the file: only one member is in memory.
        let file = std::fs::File::open(path).map_err(|e| format!("{location}: cannot read: {e}"))?;
        return open_zip(path, &location, std::io::BufReader::new(file), each, 1);
    }
    each(Source { path: path.to_path_buf(), location, content: Content::File });
    Ok(())
}

/// Containers inside containers, at most this deep.
const MAX_NESTING: usize = 4;

fn open_bytes(
    path: &Path,
    location: String,
    bytes: Vec<u8>,
    each: &mut dyn FnMut(Source),
    depth: usize,
) -> Result<(), String> {
    if depth > MAX_NESTING {
        return Err(format!("{location}: containers nested more than {MAX_NESTING} deep"));
    }
    if is_gzip(&bytes) {
        let mut out = Vec::new();
        flate2::read::MultiGzDecoder::new(&bytes[..])
            .read_to_end(&mut out)
            .map_err(|e| format!("{location}: cannot decompress gzip: {e}"))?;
        return open_bytes(path, location, out, each, depth + 1);
    }
    if is_zip(&bytes) {
        return open_zip(path, &location, std::io::Cursor::new(&bytes[..]), each, depth);
    }
    each(Source { path: path.to_path_buf(), location, content: Content::Bytes(bytes) });
    Ok(())
}

/// Every file member of a zip archive, extracted one at a time.
fn open_zip<R: Read + std::io::Seek>(
    path: &Path,
    location: &str,
    reader: R,
    each: &mut dyn FnMut(Source),
    depth: usize,
) -> Result<(), String> {
    let mut archive =
        zip::ZipArchive::new(reader).map_err(|e| format!("{location}: not a readable zip archive: {e}"))?;
    let mut errors = Vec::new();
    for i in 0..archive.len() {
        let (name, member) = match archive.by_index(i) {
            Ok(mut entry) if entry.is_file() => {
                let name = entry.name().to_string();
                let size = entry.size();
                (name, extract(&mut entry, Some(size)))
            }
            Ok(_) => continue,
            Err(e) => {
                errors.push(format!("{location}: member {i}: {e}"));
                continue;
            }
        };
        let member_location = format!("{location}!{name}");
        match member {
            Ok(Content::Bytes(out)) => {
                if let Err(e) = open_bytes(path, member_location, out, each, depth + 1) {
                    errors.push(e);
                }
            }
            // A large member: containers inside it are not opened.
            Ok(content) => each(Source { path: path.to_path_buf(), location: member_location, content }),
            Err(e) => errors.push(format!("{member_location}: cannot extract: {e}")),
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors.join("; "))
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

/// The format of an input from its first bytes, or None when it is none
/// that kqlite reads.
pub fn sniff(head: &[u8]) -> Option<Format> {
    if head.starts_with(b"ElfFile\0") {
        return Some(Format::Evtx);
    }
    if head.starts_with(b"PAR1") {
        return Some(Format::Parquet);
    }
    let text = String::from_utf8_lossy(head);
    let text = text.trim_start_matches('\u{feff}').trim_start();
    if text.starts_with('{') || text.starts_with('[') {
        if crate::syslog::looks_like_syslog(head) {
            return Some(Format::Syslog); // journalctl -o json
        }
        if first_line_is_windows_json(text) {
            return Some(Format::WindowsJson);
        }
        return Some(Format::Json);
    }
    if crate::syslog::looks_like_syslog(head) {
        return Some(Format::Syslog);
    }
    if looks_like_csv(text, head.len() == SNIFF_BYTES) {
        return Some(Format::Csv);
    }
    None
}

/// Whether the first record (of JSON lines or an array) is a Windows event
/// from NXLog or Winlogbeat.
fn first_line_is_windows_json(text: &str) -> bool {
    let Some(start) = text.find('{') else { return false };
    let mut records = serde_json::Deserializer::from_str(&text[start..]).into_iter::<serde_json::Value>();
    match records.next() {
        Some(Ok(serde_json::Value::Object(map))) => crate::dispatch::is_windows_json(&map),
        _ => false,
    }
}

/// A header of at least two fields and records with the same number of
/// fields (the last line may be cut off by the sniffing window).
fn looks_like_csv(text: &str, truncated: bool) -> bool {
    let mut reader = csv::ReaderBuilder::new().has_headers(false).flexible(true).from_reader(text.as_bytes());
    let mut records = reader.records();
    let Some(Ok(header)) = records.next() else { return false };
    if header.len() < 2 || header.iter().any(|h| h.trim().is_empty()) {
        return false;
    }
    let rest: Vec<_> = records.take(50).collect();
    let checked = if truncated && rest.len() > 1 { &rest[..rest.len() - 1] } else { &rest[..] };
    // Most records have the header's width (a few bad rows are rejected later).
    let fitting = checked.iter().filter(|r| r.as_ref().is_ok_and(|r| r.len() == header.len())).count();
    checked.is_empty() || fitting * 2 >= checked.len() && checked[0].as_ref().is_ok_and(|r| r.len() == header.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_by_content() {
        assert_eq!(sniff(b"ElfFile\0rest"), Some(Format::Evtx));
        assert_eq!(sniff(b"PAR1...."), Some(Format::Parquet));
        assert_eq!(sniff(b"\xef\xbb\xbf[{\"a\":1}]"), Some(Format::Json));
        assert_eq!(sniff(b"{\"a\":1}\n{\"a\":2}\n"), Some(Format::Json));
        assert_eq!(sniff(b"a,b\n1,2\n"), Some(Format::Csv));
        assert_eq!(sniff(b"a,b,c\n1,2,3\nbad,row\n"), Some(Format::Csv));
        assert_eq!(
            sniff(b"Dec 10 06:55:46 LabSZ sshd[24200]: Invalid user webmaster from 173.234.31.186\n"),
            Some(Format::Syslog)
        );
        assert_eq!(sniff(b"# Title\n\nSome prose, with a comma.\nAnd more\n"), None);
        assert_eq!(sniff(b"GNU GENERAL PUBLIC LICENSE\n"), None);
        assert_eq!(sniff(b""), None);
    }
}
