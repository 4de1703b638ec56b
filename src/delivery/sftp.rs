//! Uploading a snapshot's shard set over SFTP.
//!
//! Client choice: `russh` (SSH transport and key authentication) with
//! `russh-sftp` (the SFTP protocol over a russh channel). Both are pure
//! Rust, async on tokio, and maintained together; russh runs on the `ring`
//! crypto backend here (no aws-lc build) with RSA support, and its raw SFTP
//! session lets us send OpenSSH's `posix-rename@openssh.com` extension,
//! which the high-level API does not expose. `ssh2`/`libssh2` (C, OpenSSL)
//! and shelling out to `sftp` were ruled out: a C toolchain dependency, and
//! no typed errors or host-key control.
//!
//! Owns one SFTP connection: key authentication from a private key file,
//! the host key checked against a pin from config (never learned on first
//! use), and [`SftpUploader::upload_set`], which puts every shard under a
//! temporary name, renames it over the final name (so a reader never sees
//! a partial file under a shard name), and only then removes shards of the
//! same prefix that the new set no longer has. It never logs key material
//! or file contents, and knows nothing of the store or schedules.

use std::collections::HashSet;
use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use russh::client;
use russh::keys::ssh_key::{Fingerprint, HashAlg, PublicKey};
use russh::keys::{PrivateKeyWithHashAlg, PublicKeyOrCertificate};
use russh_sftp::client::RawSftpSession;
use russh_sftp::client::error::Error as SftpProtocolError;
use russh_sftp::protocol::{FileAttributes, OpenFlags, Packet, StatusCode};
use secrecy::{ExposeSecret, SecretString};
use tokio::io::AsyncReadExt;

use super::snapshot::{ShardPrefix, Snapshot};

const POSIX_RENAME: &str = "posix-rename@openssh.com";
const FSYNC: &str = "fsync@openssh.com";
/// Bytes per SFTP write request (OpenSSH's own client uses 32 KiB; every
/// server accepts that).
const WRITE_CHUNK: usize = 32 * 1024;
/// Write requests in flight per file, so throughput does not wait on the
/// round trip of every request.
const WRITES_IN_FLIGHT: usize = 32;
/// Suffix of a shard while it is being uploaded.
const PART_SUFFIX: &str = ".part";

/// The server's host key as configured: the only key accepted.
#[derive(Clone, PartialEq, Eq)]
pub enum HostKeyPin {
    /// A public key, from a `known_hosts` line (`[host]:port ssh-ed25519
    /// AAAA…`) or an `authorized_keys`-style line (`ssh-ed25519 AAAA…`).
    Key(PublicKey),
    /// The key's SHA-256 fingerprint as `ssh-keygen -l` prints it
    /// (`SHA256:…`).
    Fingerprint(Fingerprint),
}

/// A host key pin that could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("host key pin: {0}")]
pub struct HostKeyPinError(String);

impl HostKeyPin {
    /// Whether `key` is the pinned key.
    pub fn matches(&self, key: &PublicKey) -> bool {
        match self {
            HostKeyPin::Key(pinned) => pinned.key_data() == key.key_data(),
            HostKeyPin::Fingerprint(pinned) => *pinned == key.fingerprint(HashAlg::Sha256),
        }
    }
}

impl fmt::Display for HostKeyPin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HostKeyPin::Key(key) => write!(f, "{}", key.fingerprint(HashAlg::Sha256)),
            HostKeyPin::Fingerprint(fp) => write!(f, "{fp}"),
        }
    }
}

impl fmt::Debug for HostKeyPin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "HostKeyPin({self})")
    }
}

impl FromStr for HostKeyPin {
    type Err = HostKeyPinError;

    /// `SHA256:<base64>` is a fingerprint; anything else is read as a
    /// `known_hosts` line: optional host patterns, then the key type and
    /// base64 key. Markers (`@cert-authority`, `@revoked`) and hashed host
    /// names are not special: the pin is the key itself.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        if let Some(rest) = s.strip_prefix("SHA256:") {
            return Fingerprint::from_str(s).map(HostKeyPin::Fingerprint).map_err(|_| {
                HostKeyPinError(format!(
                    "`SHA256:{rest}` is not a SHA-256 fingerprint (as `ssh-keygen -lf` prints it)"
                ))
            });
        }
        if s.starts_with('@') {
            return Err(HostKeyPinError(
                "known_hosts markers (@cert-authority, @revoked) are not supported; pin the host key itself".into(),
            ));
        }
        let fields: Vec<&str> = s.split_whitespace().collect();
        // `type key [comment]` or `hosts type key [comment]`.
        for start in 0..fields.len().min(2) {
            if let [kind, key, ..] = &fields[start..]
                && let Ok(key) = PublicKey::from_openssh(&format!("{kind} {key}"))
            {
                return Ok(HostKeyPin::Key(key));
            }
        }
        Err(HostKeyPinError(
            "expected `SHA256:…` or a known_hosts line such as `[sftp.example]:22 ssh-ed25519 AAAA…`"
                .into(),
        ))
    }
}

/// Where and how to upload. `Debug` shows the key file path, never its
/// contents or the passphrase.
#[derive(Debug, Clone)]
pub struct SftpSettings {
    pub host: String,
    pub port: u16,
    pub user: String,
    /// An OpenSSH private key file (ed25519, ECDSA or RSA).
    pub private_key_path: PathBuf,
    /// For an encrypted private key.
    pub private_key_passphrase: Option<SecretString>,
    pub host_key: HostKeyPin,
    /// Directory the shards go to (relative to the login directory unless
    /// absolute; empty for the login directory itself). Must exist.
    pub remote_dir: String,
    /// Bound on TCP connect, SSH handshake, authentication and opening the
    /// SFTP session together.
    pub connect_timeout: Duration,
    /// Bound on each SFTP request and on a silent connection.
    pub io_timeout: Duration,
}

/// Why an upload failed. [`SftpError::is_retryable`] says whether trying
/// again later can help.
#[derive(Debug, thiserror::Error)]
pub enum SftpError {
    #[error("reading the SSH private key {path}")]
    PrivateKey {
        path: String,
        #[source]
        source: russh::keys::Error,
    },
    #[error("connecting to {addr}")]
    Connect {
        addr: String,
        #[source]
        source: russh::Error,
    },
    #[error("connecting to {addr}: no session within {after:?}")]
    ConnectTimeout { addr: String, after: Duration },
    #[error(
        "host key of {addr} is {presented}, not the pinned {pinned}; refusing to connect (update the pin only after checking the new key out of band)"
    )]
    HostKeyMismatch {
        addr: String,
        presented: String,
        pinned: String,
    },
    #[error("{addr} presented a host certificate; pin a plain host key")]
    HostCertificate { addr: String },
    #[error("{addr} rejected public key authentication for user `{user}`")]
    AuthRejected { addr: String, user: String },
    #[error("opening the SFTP subsystem on {addr}")]
    Subsystem {
        addr: String,
        #[source]
        source: SftpIoError,
    },
    #[error("remote directory `{dir}` is missing or not a directory")]
    RemoteDir {
        dir: String,
        #[source]
        source: Option<SftpIoError>,
    },
    #[error("reading local shard {path}")]
    Local {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("uploading `{name}`")]
    Upload {
        name: String,
        #[source]
        source: SftpIoError,
    },
    #[error("uploaded `{name}` is {found:?} bytes on the server, expected {expected}")]
    SizeMismatch {
        name: String,
        expected: u64,
        found: Option<u64>,
    },
    #[error("renaming `{from}` to `{to}`")]
    Rename {
        from: String,
        to: String,
        #[source]
        source: SftpIoError,
    },
    #[error("listing `{dir}` for stale shards")]
    List {
        dir: String,
        #[source]
        source: SftpIoError,
    },
    #[error("removing stale shard `{name}`")]
    Remove {
        name: String,
        #[source]
        source: SftpIoError,
    },
}

impl SftpError {
    /// Whether the same upload may succeed later without a config change:
    /// network and server trouble yes; a wrong key, pin or directory no.
    pub fn is_retryable(&self) -> bool {
        !matches!(
            self,
            SftpError::PrivateKey { .. }
                | SftpError::HostKeyMismatch { .. }
                | SftpError::HostCertificate { .. }
                | SftpError::AuthRejected { .. }
                | SftpError::RemoteDir { .. }
                | SftpError::Local { .. }
        )
    }
}

/// An SFTP protocol or transport error.
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct SftpIoError(#[from] SftpProtocolError);

impl SftpIoError {
    fn status(&self) -> Option<StatusCode> {
        match &self.0 {
            SftpProtocolError::Status(status) => Some(status.status_code),
            _ => None,
        }
    }
}

/// What [`SftpUploader::upload_set`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UploadReport {
    /// Shard names now in place, in order.
    pub uploaded: Vec<String>,
    /// Stale shards (and leftover partial uploads) removed.
    pub removed: Vec<String>,
    /// Bytes uploaded.
    pub bytes: u64,
}

/// Checks the server's host key against the pin during the handshake.
struct PinnedHostKey {
    pin: HostKeyPin,
}

/// A handshake failure, as the russh handler reports it.
#[derive(Debug)]
enum HandshakeError {
    Ssh(russh::Error),
    HostKey { presented: String },
    Certificate,
}

impl From<russh::Error> for HandshakeError {
    fn from(e: russh::Error) -> Self {
        HandshakeError::Ssh(e)
    }
}

impl client::Handler for PinnedHostKey {
    type Error = HandshakeError;

    async fn check_server_key(
        &mut self,
        server_key: &PublicKeyOrCertificate,
    ) -> Result<bool, Self::Error> {
        match server_key {
            PublicKeyOrCertificate::PublicKey { key, .. } if self.pin.matches(key) => Ok(true),
            PublicKeyOrCertificate::PublicKey { key, .. } => Err(HandshakeError::HostKey {
                presented: key.fingerprint(HashAlg::Sha256).to_string(),
            }),
            PublicKeyOrCertificate::Certificate(_) => Err(HandshakeError::Certificate),
        }
    }
}

/// One authenticated SFTP session.
pub struct SftpUploader {
    ssh: client::Handle<PinnedHostKey>,
    sftp: RawSftpSession,
    addr: String,
    remote_dir: String,
    posix_rename: bool,
    fsync: bool,
}

impl fmt::Debug for SftpUploader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SftpUploader")
            .field("addr", &self.addr)
            .field("remote_dir", &self.remote_dir)
            .field("posix_rename", &self.posix_rename)
            .finish_non_exhaustive()
    }
}

impl SftpUploader {
    /// Connects, checks the host key against the pin, authenticates with
    /// the private key and opens the SFTP session; checks that the remote
    /// directory exists.
    ///
    /// # Errors
    /// An unreadable key, a host key other than the pinned one, a rejected
    /// key, the network, or a missing remote directory.
    #[tracing::instrument(skip_all, fields(sftp.host = %settings.host, sftp.port = settings.port), err)]
    pub async fn connect(settings: &SftpSettings) -> Result<Self, SftpError> {
        let key = load_key(settings).await?;
        let addr = format!("{}:{}", settings.host, settings.port);
        match tokio::time::timeout(
            settings.connect_timeout,
            Self::open_session(settings, key, &addr),
        )
        .await
        {
            Ok(result) => result,
            Err(_) => Err(SftpError::ConnectTimeout {
                addr,
                after: settings.connect_timeout,
            }),
        }
    }

    async fn open_session(
        settings: &SftpSettings,
        key: russh::keys::PrivateKey,
        addr: &str,
    ) -> Result<Self, SftpError> {
        let config = client::Config {
            inactivity_timeout: Some(settings.io_timeout),
            ..client::Config::default()
        };
        let handler = PinnedHostKey {
            pin: settings.host_key.clone(),
        };
        let mut ssh = client::connect(
            Arc::new(config),
            (settings.host.as_str(), settings.port),
            handler,
        )
        .await
        .map_err(|e| match e {
            HandshakeError::Ssh(source) => SftpError::Connect {
                addr: addr.to_owned(),
                source,
            },
            HandshakeError::HostKey { presented } => SftpError::HostKeyMismatch {
                addr: addr.to_owned(),
                presented,
                pinned: settings.host_key.to_string(),
            },
            HandshakeError::Certificate => SftpError::HostCertificate {
                addr: addr.to_owned(),
            },
        })?;
        let connect_err = |source| SftpError::Connect {
            addr: addr.to_owned(),
            source,
        };

        // RSA keys sign with the best hash the server accepts.
        let hash = if key.algorithm().is_rsa() {
            ssh.best_supported_rsa_hash()
                .await
                .map_err(connect_err)?
                .flatten()
                .or(Some(HashAlg::Sha256))
        } else {
            None
        };
        let auth = ssh
            .authenticate_publickey(
                settings.user.clone(),
                PrivateKeyWithHashAlg::new(Arc::new(key), hash),
            )
            .await
            .map_err(connect_err)?;
        if !auth.success() {
            return Err(SftpError::AuthRejected {
                addr: addr.to_owned(),
                user: settings.user.clone(),
            });
        }

        let channel = ssh.channel_open_session().await.map_err(connect_err)?;
        channel
            .request_subsystem(true, "sftp")
            .await
            .map_err(connect_err)?;
        let config = russh_sftp::client::Config {
            request_timeout_secs: settings.io_timeout.as_secs().max(1),
            ..russh_sftp::client::Config::default()
        };
        let mut sftp = RawSftpSession::new_with_config(channel.into_stream(), config);
        let subsystem_err = |e| SftpError::Subsystem {
            addr: addr.to_owned(),
            source: SftpIoError(e),
        };
        let version = sftp.init().await.map_err(subsystem_err)?;
        let has = |name: &str| version.extensions.get(name).is_some_and(|v| v == "1");
        let posix_rename = has(POSIX_RENAME);
        let fsync = has(FSYNC);
        if has(russh_sftp::extensions::LIMITS) {
            let limits = sftp.limits().await.map_err(subsystem_err)?;
            sftp.set_limits(limits.into());
        }

        let remote_dir = settings.remote_dir.trim_end_matches('/').to_owned();
        let remote_dir = if remote_dir.is_empty() && settings.remote_dir.starts_with('/') {
            "/".to_owned()
        } else {
            remote_dir
        };
        let stat_dir = if remote_dir.is_empty() {
            "."
        } else {
            &remote_dir
        };
        match sftp.stat(stat_dir).await {
            Ok(attrs) if attrs.attrs.is_dir() => {}
            Ok(_) => {
                return Err(SftpError::RemoteDir {
                    dir: settings.remote_dir.clone(),
                    source: None,
                });
            }
            Err(e) => {
                return Err(SftpError::RemoteDir {
                    dir: settings.remote_dir.clone(),
                    source: Some(SftpIoError(e)),
                });
            }
        }
        tracing::debug!(sftp.posix_rename = posix_rename, "sftp session open");
        Ok(SftpUploader {
            ssh,
            sftp,
            addr: addr.to_owned(),
            remote_dir,
            posix_rename,
            fsync,
        })
    }

    /// Whether the server renames over an existing file atomically
    /// (`posix-rename@openssh.com`).
    pub fn has_posix_rename(&self) -> bool {
        self.posix_rename
    }

    /// Uses plain SFTP rename even where the server offers
    /// `posix-rename@openssh.com` (tests of the fallback).
    #[doc(hidden)]
    pub fn disable_posix_rename(&mut self) {
        self.posix_rename = false;
    }

    fn remote_path(&self, name: &str) -> String {
        match self.remote_dir.as_str() {
            "" => name.to_owned(),
            "/" => format!("/{name}"),
            dir => format!("{dir}/{name}"),
        }
    }

    /// Puts every shard of `snapshot` in place, then removes the shards of
    /// the same prefix (in any format) that the set no longer has, and
    /// leftovers of interrupted uploads.
    ///
    /// Each shard is written as `.{name}.part` and renamed over `{name}`
    /// once complete and its size checked, so a reader sees either the old
    /// or the new file under every shard name, never a partial one. With
    /// `posix-rename@openssh.com` (OpenSSH) the rename replaces the old file
    /// atomically; servers without it refuse to rename over an existing
    /// file, so the old file is removed first and the name is briefly
    /// absent (never partial). While a set is being replaced, readers can
    /// see old and new shards side by side; stale shards go only after the
    /// whole new set is in place.
    ///
    /// # Errors
    /// The first failure; files already renamed stay in place, and a retry
    /// overwrites everything.
    #[tracing::instrument(skip_all, fields(sftp.addr = %self.addr, snapshot.format = %snapshot.format, snapshot.shards = snapshot.shards.len()), err)]
    pub async fn upload_set(&self, snapshot: &Snapshot) -> Result<UploadReport, SftpError> {
        self.upload_sets(&[snapshot]).await
    }

    /// [`Self::upload_set`] for several shard sets delivered together (one
    /// per format of a target): every shard of every set is put in place
    /// first, then the shards of their prefixes that none of the sets
    /// contains are removed, so the formats of one prefix never remove
    /// each other's files.
    ///
    /// # Errors
    /// As [`Self::upload_set`].
    pub async fn upload_sets(&self, snapshots: &[&Snapshot]) -> Result<UploadReport, SftpError> {
        let mut report = UploadReport::default();
        for snapshot in snapshots {
            for shard in &snapshot.shards {
                self.upload_file(&shard.name, &shard.path, shard.bytes)
                    .await?;
                report.uploaded.push(shard.name.clone());
                report.bytes += shard.bytes;
                tracing::debug!(shard.name = %shard.name, shard.bytes = shard.bytes, "shard uploaded");
            }
        }
        let keep: HashSet<&str> = report.uploaded.iter().map(String::as_str).collect();
        let mut removed = Vec::new();
        for name in self.list().await? {
            if snapshots.iter().any(|s| is_stale(&s.prefix, &name, &keep)) {
                self.remove(&name).await?;
                removed.push(name);
            }
        }
        report.removed = removed;
        tracing::info!(
            snapshot.bytes = report.bytes,
            snapshot.removed = report.removed.len(),
            "shard sets uploaded"
        );
        Ok(report)
    }

    /// Uploads one file under its temporary name and renames it in place.
    async fn upload_file(
        &self,
        name: &str,
        path: &std::path::Path,
        bytes: u64,
    ) -> Result<(), SftpError> {
        let part = self.remote_path(&part_name(name));
        let target = self.remote_path(name);
        let upload_err = |e: SftpProtocolError| SftpError::Upload {
            name: name.to_owned(),
            source: SftpIoError(e),
        };
        let local_err = |source| SftpError::Local {
            path: path.display().to_string(),
            source,
        };
        let mut file = tokio::fs::File::open(path).await.map_err(local_err)?;
        let handle = self
            .sftp
            .open(
                part.as_str(),
                OpenFlags::CREATE | OpenFlags::TRUNCATE | OpenFlags::WRITE,
                FileAttributes::empty(),
            )
            .await
            .map_err(upload_err)?
            .handle;

        let mut offset = 0u64;
        let mut in_flight = FuturesUnordered::new();
        loop {
            let mut chunk = vec![0u8; WRITE_CHUNK];
            let n = read_full(&mut file, &mut chunk).await.map_err(local_err)?;
            if n == 0 {
                break;
            }
            chunk.truncate(n);
            in_flight.push(self.sftp.write(handle.as_str(), offset, chunk));
            offset += n as u64;
            while in_flight.len() >= WRITES_IN_FLIGHT {
                if let Some(done) = in_flight.next().await {
                    done.map_err(upload_err)?;
                }
            }
        }
        while let Some(done) = in_flight.next().await {
            done.map_err(upload_err)?;
        }
        drop(in_flight);
        if self.fsync {
            self.sftp.fsync(handle.as_str()).await.map_err(upload_err)?;
        }
        self.sftp.close(handle).await.map_err(upload_err)?;

        // The local file may have changed under us; the server's size is
        // what a reader gets.
        let found = self
            .sftp
            .stat(part.as_str())
            .await
            .map_err(upload_err)?
            .attrs
            .size;
        if found != Some(bytes) || offset != bytes {
            return Err(SftpError::SizeMismatch {
                name: name.to_owned(),
                expected: bytes,
                found,
            });
        }
        self.rename_over(&part, &target).await
    }

    /// Renames `from` to `to`, replacing `to` if it exists.
    async fn rename_over(&self, from: &str, to: &str) -> Result<(), SftpError> {
        let rename_err = |e: SftpProtocolError| SftpError::Rename {
            from: from.to_owned(),
            to: to.to_owned(),
            source: SftpIoError(e),
        };
        if self.posix_rename {
            let mut data = Vec::with_capacity(8 + from.len() + to.len());
            for s in [from, to] {
                let len = u32::try_from(s.len()).unwrap_or(u32::MAX);
                data.extend_from_slice(&len.to_be_bytes());
                data.extend_from_slice(s.as_bytes());
            }
            return match self
                .sftp
                .extended(POSIX_RENAME, data)
                .await
                .map_err(rename_err)?
            {
                Packet::Status(status) if status.status_code == StatusCode::Ok => Ok(()),
                Packet::Status(status) => Err(rename_err(SftpProtocolError::Status(status))),
                _ => Err(rename_err(SftpProtocolError::UnexpectedPacket)),
            };
        }
        match self.sftp.rename(from, to).await {
            Ok(_) => Ok(()),
            Err(first) => {
                // SFTP v3 rename refuses an existing target (OpenSSH answers
                // a plain failure): remove the old file, then rename.
                match self.sftp.remove(to).await {
                    Ok(_) => {}
                    Err(e) if SftpIoError(e.clone()).status() == Some(StatusCode::NoSuchFile) => {
                        return Err(rename_err(first));
                    }
                    Err(e) => return Err(rename_err(e)),
                }
                self.sftp
                    .rename(from, to)
                    .await
                    .map(|_| ())
                    .map_err(rename_err)
            }
        }
    }

    /// Names in the remote directory.
    async fn list(&self) -> Result<Vec<String>, SftpError> {
        let dir = if self.remote_dir.is_empty() {
            "."
        } else {
            self.remote_dir.as_str()
        };
        let list_err = |e| SftpError::List {
            dir: dir.to_owned(),
            source: SftpIoError(e),
        };
        let handle = self.sftp.opendir(dir).await.map_err(list_err)?.handle;
        let mut names = Vec::new();
        let result = loop {
            match self.sftp.readdir(handle.as_str()).await {
                Ok(batch) => names.extend(batch.files.into_iter().map(|f| f.filename)),
                Err(e) if SftpIoError(e.clone()).status() == Some(StatusCode::Eof) => break Ok(()),
                Err(e) => break Err(list_err(e)),
            }
        };
        let closed = self.sftp.close(handle).await.map_err(list_err);
        result.and(closed.map(|_| ()))?;
        Ok(names)
    }

    async fn remove(&self, name: &str) -> Result<(), SftpError> {
        match self.sftp.remove(self.remote_path(name)).await {
            Ok(_) => Ok(()),
            Err(e) if SftpIoError(e.clone()).status() == Some(StatusCode::NoSuchFile) => Ok(()),
            Err(e) => Err(SftpError::Remove {
                name: name.to_owned(),
                source: SftpIoError(e),
            }),
        }
    }

    /// Ends the session politely.
    pub async fn close(self) {
        let _ = self.sftp.close_session();
        let _ = self
            .ssh
            .disconnect(russh::Disconnect::ByApplication, "", "en")
            .await;
    }
}

/// The temporary name of shard `name` while it is uploaded.
pub fn part_name(name: &str) -> String {
    format!(".{name}{PART_SUFFIX}")
}

/// Whether remote file `name` is a shard of `prefix` outside the set
/// `keep`, or a partial upload of any shard of `prefix`.
fn is_stale(prefix: &ShardPrefix, name: &str, keep: &HashSet<&str>) -> bool {
    if prefix.is_shard_name(name) {
        return !keep.contains(name);
    }
    name.strip_prefix('.')
        .and_then(|n| n.strip_suffix(PART_SUFFIX))
        .is_some_and(|n| prefix.is_shard_name(n))
}

/// Reads until `buf` is full or the file ends.
async fn read_full(file: &mut tokio::fs::File, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match file.read(&mut buf[filled..]).await? {
            0 => break,
            n => filled += n,
        }
    }
    Ok(filled)
}

/// Reads the private key off the runtime (decrypting a key can take a
/// while).
async fn load_key(settings: &SftpSettings) -> Result<russh::keys::PrivateKey, SftpError> {
    let path = settings.private_key_path.clone();
    let passphrase = settings.private_key_passphrase.clone();
    let key_err = |source| SftpError::PrivateKey {
        path: settings.private_key_path.display().to_string(),
        source,
    };
    tokio::task::spawn_blocking(move || {
        russh::keys::load_secret_key(&path, passphrase.as_ref().map(|p| p.expose_secret()))
    })
    .await
    .map_err(|e| key_err(russh::keys::Error::IO(std::io::Error::other(e))))?
    .map_err(key_err)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ED25519: &str =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGcwSVfmZc8dNGrpAnloxpVopfuxDAwZft8y4yGkvuM/";

    #[test]
    fn pins_parse_from_known_hosts_lines_keys_and_fingerprints() {
        let key = PublicKey::from_openssh(ED25519).unwrap();
        let fingerprint = key.fingerprint(HashAlg::Sha256).to_string();
        for line in [
            ED25519.to_owned(),
            format!("{ED25519} comment here"),
            format!("[sftp.example]:2222 {ED25519}"),
            format!("sftp.example,10.0.0.1 {ED25519}"),
            format!("|1|aGFzaA==|c2FsdA== {ED25519}"),
            fingerprint.clone(),
        ] {
            let pin: HostKeyPin = line.parse().unwrap();
            assert!(pin.matches(&key), "{line}");
            assert_eq!(pin.to_string(), fingerprint);
        }
    }

    #[test]
    fn pins_refuse_other_keys_and_malformed_input() {
        let pin: HostKeyPin = ED25519.parse().unwrap();
        let other = PublicKey::from_openssh(
            "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIH1dXAETCK2E0/D6SOz+G7/Z/dh1BFXRM6qpDkD77EMA",
        )
        .unwrap();
        assert!(!pin.matches(&other));
        let by_fp: HostKeyPin = PublicKey::from_openssh(ED25519)
            .unwrap()
            .fingerprint(HashAlg::Sha256)
            .to_string()
            .parse()
            .unwrap();
        assert!(!by_fp.matches(&other));

        for bad in [
            "",
            "SHA256:nope",
            "MD5:aa:bb",
            "sftp.example ssh-ed25519 not-base64",
            &format!("@cert-authority *.example {ED25519}"),
        ] {
            assert!(bad.parse::<HostKeyPin>().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn stale_names_are_other_shards_of_the_prefix_and_partial_uploads() {
        let prefix = ShardPrefix::parse("products").unwrap();
        let keep: HashSet<&str> = ["products-00001.parquet"].into_iter().collect();
        assert!(!is_stale(&prefix, "products-00001.parquet", &keep));
        assert!(is_stale(&prefix, "products-00002.parquet", &keep));
        assert!(is_stale(&prefix, "products-00001.csv.gz", &keep));
        assert!(is_stale(&prefix, ".products-00001.parquet.part", &keep));
        assert!(is_stale(&prefix, ".products-00007.tsv.gz.part", &keep));
        assert!(!is_stale(&prefix, "other-00002.parquet", &keep));
        assert!(!is_stale(&prefix, "products.parquet", &keep));
        assert!(!is_stale(&prefix, ".other-00001.parquet.part", &keep));
        assert_eq!(
            part_name("products-00001.parquet"),
            ".products-00001.parquet.part"
        );
    }

    #[test]
    fn errors_say_whether_a_retry_can_help() {
        let addr = "h:22".to_owned();
        assert!(
            !SftpError::HostKeyMismatch {
                addr: addr.clone(),
                presented: "a".into(),
                pinned: "b".into()
            }
            .is_retryable()
        );
        assert!(
            SftpError::ConnectTimeout {
                addr,
                after: Duration::from_secs(1)
            }
            .is_retryable()
        );
    }
}
