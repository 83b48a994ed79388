//! Connections to collectors: TCP with octet counting (RFC 6587), TLS
//! (RFC 5425, rustls with the ring provider), UDP, and unix datagram
//! sockets (`/dev/log`, journald). Each is a [`Transport`]: send messages,
//! flush, tell whether the peer is still there, close.

use std::io::{self, BufWriter, Read, Write};
use std::net::{Shutdown, TcpStream, ToSocketAddrs, UdpSocket};
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};

/// How long a connection attempt may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);

/// A connection to a collector.
pub trait Transport: Send {
    /// Queues one message (the transport adds its framing).
    fn send(&mut self, msg: &[u8]) -> io::Result<()>;
    /// Writes everything queued to the socket.
    fn flush(&mut self) -> io::Result<()>;
    /// False when the peer has closed or reset the connection, so what was
    /// sent since the last check may not have been read.
    fn alive(&mut self) -> bool {
        true
    }
    /// Closes the connection; true when the peer confirmed it had read
    /// everything (it closed its side after ours), or for datagrams.
    fn close(&mut self, _timeout: Duration) -> bool {
        true
    }
}

/// Makes a new connection.
pub type Connector = Box<dyn FnMut() -> io::Result<Box<dyn Transport>> + Send>;

fn connect_tcp(addr: &str) -> io::Result<TcpStream> {
    let mut last = io::Error::other(format!("{addr}: no address"));
    for a in addr.to_socket_addrs()? {
        match TcpStream::connect_timeout(&a, CONNECT_TIMEOUT) {
            Ok(s) => {
                s.set_nodelay(true)?;
                // A collector that stops reading must not hang us forever.
                s.set_write_timeout(Some(Duration::from_secs(30)))?;
                return Ok(s);
            }
            Err(e) => last = e,
        }
    }
    Err(last)
}

/// True unless a peek shows the peer closed or reset the connection.
fn peer_open(s: &TcpStream) -> bool {
    if s.set_nonblocking(true).is_err() {
        return false;
    }
    let mut b = [0u8; 1];
    let open = match s.peek(&mut b) {
        Ok(0) => false,
        Ok(_) => true,
        Err(e) => e.kind() == io::ErrorKind::WouldBlock,
    };
    open && s.set_nonblocking(false).is_ok()
}

/// Shuts our side and waits for the peer to close its side: it has then
/// read everything we sent.
fn await_peer_close(s: &mut TcpStream, timeout: Duration) -> bool {
    if s.shutdown(Shutdown::Write).is_err() {
        return false;
    }
    let end = Instant::now() + timeout;
    let mut buf = [0u8; 4096];
    while Instant::now() < end {
        let _ = s.set_read_timeout(Some(
            end.saturating_duration_since(Instant::now())
                .max(Duration::from_millis(1)),
        ));
        match s.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return false,
        }
    }
    false
}

/// Writes the RFC 6587 octet-counting frame: `LEN SP MSG`.
fn frame(w: &mut impl Write, msg: &[u8]) -> io::Result<()> {
    write!(w, "{} ", msg.len())?;
    w.write_all(msg)
}

/// Syslog over TCP with octet counting.
pub struct Tcp {
    w: BufWriter<TcpStream>,
}

impl Tcp {
    pub fn connector(addr: String) -> Connector {
        Box::new(move || {
            let s = connect_tcp(&addr)?;
            Ok(Box::new(Tcp {
                w: BufWriter::with_capacity(64 << 10, s),
            }) as Box<dyn Transport>)
        })
    }
}

impl Transport for Tcp {
    fn send(&mut self, msg: &[u8]) -> io::Result<()> {
        frame(&mut self.w, msg)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.w.flush()
    }
    fn alive(&mut self) -> bool {
        peer_open(self.w.get_ref())
    }
    fn close(&mut self, timeout: Duration) -> bool {
        self.w.flush().is_ok() && await_peer_close(self.w.get_mut(), timeout)
    }
}

/// TLS settings: the CA to trust, an optional client certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    pub ca: PathBuf,
    pub cert: Option<PathBuf>,
    pub key: Option<PathBuf>,
    /// The name the server's certificate must carry (default: the host).
    pub server_name: Option<String>,
}

/// Why the TLS settings cannot be used; each names the file.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("{}: cannot read the CA file: {error}", path.display())]
    ReadCa {
        path: PathBuf,
        error: rustls::pki_types::pem::Error,
    },
    #[error("{}: not a PEM certificate: {error}", path.display())]
    NotPem {
        path: PathBuf,
        error: rustls::pki_types::pem::Error,
    },
    #[error("{}: unusable CA certificate: {error}", path.display())]
    UnusableCa { path: PathBuf, error: rustls::Error },
    #[error("{}: holds no certificate (expected PEM `BEGIN CERTIFICATE`)", path.display())]
    NoCa { path: PathBuf },
    #[error("TLS: {0}")]
    Protocol(rustls::Error),
    #[error("{}: cannot read the certificate: {error}", path.display())]
    ReadCert {
        path: PathBuf,
        error: rustls::pki_types::pem::Error,
    },
    #[error("{}: cannot read the private key: {error}", path.display())]
    ReadKey {
        path: PathBuf,
        error: rustls::pki_types::pem::Error,
    },
    #[error("the client certificate and key do not fit: {0}")]
    KeyMismatch(rustls::Error),
    #[error("give both `cert` and `key` for a client certificate")]
    CertWithoutKey,
}

/// Builds the rustls client configuration; errors name the file.
pub fn tls_config(files: &TlsFiles) -> Result<Arc<rustls::ClientConfig>, TlsError> {
    let mut roots = rustls::RootCertStore::empty();
    let ca = || files.ca.clone();
    let certs = CertificateDer::pem_file_iter(&files.ca)
        .map_err(|error| TlsError::ReadCa { path: ca(), error })?;
    for c in certs {
        let c = c.map_err(|error| TlsError::NotPem { path: ca(), error })?;
        roots
            .add(c)
            .map_err(|error| TlsError::UnusableCa { path: ca(), error })?;
    }
    if roots.is_empty() {
        return Err(TlsError::NoCa { path: ca() });
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(TlsError::Protocol)?
        .with_root_certificates(roots);
    let config = match (&files.cert, &files.key) {
        (Some(cert), Some(key)) => {
            let chain = CertificateDer::pem_file_iter(cert)
                .map_err(|error| TlsError::ReadCert {
                    path: cert.clone(),
                    error,
                })?
                .collect::<Result<Vec<_>, _>>()
                .map_err(|error| TlsError::NotPem {
                    path: cert.clone(),
                    error,
                })?;
            let key = PrivateKeyDer::from_pem_file(key).map_err(|error| TlsError::ReadKey {
                path: key.clone(),
                error,
            })?;
            builder
                .with_client_auth_cert(chain, key)
                .map_err(TlsError::KeyMismatch)?
        }
        (None, None) => builder.with_no_client_auth(),
        _ => return Err(TlsError::CertWithoutKey),
    };
    Ok(Arc::new(config))
}

/// Syslog over TLS (RFC 5425): octet counting inside TLS.
pub struct Tls {
    w: BufWriter<rustls::StreamOwned<rustls::ClientConnection, TcpStream>>,
}

impl Tls {
    pub fn connector(addr: String, config: Arc<rustls::ClientConfig>, name: String) -> Connector {
        Box::new(move || {
            let server = ServerName::try_from(name.clone())
                .map_err(|e| io::Error::other(format!("{name}: not a server name: {e}")))?;
            let conn =
                rustls::ClientConnection::new(config.clone(), server).map_err(io::Error::other)?;
            let sock = connect_tcp(&addr)?;
            let mut stream = rustls::StreamOwned::new(conn, sock);
            // Handshake now, so a bad certificate is a connection error
            // (retried, reported) and not a failed first write.
            while stream.conn.is_handshaking() {
                stream.conn.complete_io(&mut stream.sock)?;
            }
            Ok(Box::new(Tls {
                w: BufWriter::with_capacity(64 << 10, stream),
            }) as Box<dyn Transport>)
        })
    }
}

impl Transport for Tls {
    fn send(&mut self, msg: &[u8]) -> io::Result<()> {
        frame(&mut self.w, msg)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.w.flush()?;
        let s = self.w.get_mut();
        while s.conn.wants_write() {
            s.conn.write_tls(&mut s.sock)?;
        }
        s.sock.flush()
    }
    fn alive(&mut self) -> bool {
        let s = self.w.get_mut();
        if s.sock.set_nonblocking(true).is_err() {
            return false;
        }
        // Read what the server sent (session tickets, an alert, a
        // close_notify) without blocking.
        let open = loop {
            match s.conn.read_tls(&mut s.sock) {
                Ok(0) => break false,
                Ok(_) => match s.conn.process_new_packets() {
                    Ok(st) if st.peer_has_closed() => break false,
                    Ok(st) => {
                        let mut junk = vec![0u8; st.plaintext_bytes_to_read()];
                        let _ = s.conn.reader().read(&mut junk);
                    }
                    Err(_) => break false,
                },
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break true,
                Err(_) => break false,
            }
        };
        open && s.sock.set_nonblocking(false).is_ok()
    }
    fn close(&mut self, timeout: Duration) -> bool {
        if self.flush().is_err() {
            return false;
        }
        let s = self.w.get_mut();
        s.conn.send_close_notify();
        while s.conn.wants_write() {
            if s.conn.write_tls(&mut s.sock).is_err() {
                return false;
            }
        }
        await_peer_close(&mut s.sock, timeout)
    }
}

/// Syslog over UDP: one message per datagram, no framing. Best effort: a
/// datagram the network drops is not noticed.
pub struct Udp {
    sock: UdpSocket,
}

impl Udp {
    pub fn connector(addr: String) -> Connector {
        Box::new(move || {
            let target = addr
                .to_socket_addrs()?
                .next()
                .ok_or_else(|| io::Error::other(format!("{addr}: no address")))?;
            let local = if target.is_ipv4() {
                "0.0.0.0:0"
            } else {
                "[::]:0"
            };
            let sock = UdpSocket::bind(local)?;
            sock.connect(target)?;
            Ok(Box::new(Udp { sock }) as Box<dyn Transport>)
        })
    }
}

impl Transport for Udp {
    fn send(&mut self, msg: &[u8]) -> io::Result<()> {
        self.sock.send(msg).map(|_| ())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// A unix datagram socket: `/dev/log` for syslog, journald's socket. A
/// send that succeeds is in the local daemon's queue.
pub struct UnixDgram {
    sock: UnixDatagram,
}

/// An unbound datagram socket connected to `path`, whose sends give up
/// after 30 s when the daemon behind it does not read.
fn connect_unix_dgram(path: &Path) -> io::Result<UnixDatagram> {
    let sock = UnixDatagram::unbound()?;
    sock.connect(path)?;
    sock.set_write_timeout(Some(Duration::from_secs(30)))?;
    Ok(sock)
}

impl UnixDgram {
    pub fn connector(path: PathBuf) -> Connector {
        Box::new(move || {
            let sock = connect_unix_dgram(&path)?;
            Ok(Box::new(UnixDgram { sock }) as Box<dyn Transport>)
        })
    }
}

impl Transport for UnixDgram {
    fn send(&mut self, msg: &[u8]) -> io::Result<()> {
        self.sock.send(msg).map(|_| ())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// journald's native socket. An entry is one datagram; an entry too big
/// for a datagram (the kernel refuses it with `EMSGSIZE` or `ENOBUFS`) is
/// written to a sealed memfd whose descriptor is passed in an empty
/// datagram, as `sd_journal_sendv` does, so no entry is cut or lost.
pub struct JournalDgram {
    sock: UnixDatagram,
}

impl JournalDgram {
    pub fn connector(path: PathBuf) -> Connector {
        Box::new(move || {
            let sock = connect_unix_dgram(&path)?;
            Ok(Box::new(JournalDgram { sock }) as Box<dyn Transport>)
        })
    }

    /// Sends `msg` as a sealed memfd.
    fn send_memfd(&self, msg: &[u8]) -> io::Result<()> {
        use rustix::fs::{MemfdFlags, SealFlags};
        use rustix::net::{SendAncillaryBuffer, SendAncillaryMessage, SendFlags};
        use std::os::fd::AsFd;

        let fd = rustix::fs::memfd_create(
            "leakhound-journal-entry",
            MemfdFlags::CLOEXEC | MemfdFlags::ALLOW_SEALING,
        )?;
        let mut file = std::fs::File::from(fd);
        file.write_all(msg)?;
        // journald takes a memfd only when nobody can change it any more.
        rustix::fs::fcntl_add_seals(
            &file,
            SealFlags::SHRINK | SealFlags::GROW | SealFlags::WRITE | SealFlags::SEAL,
        )?;
        let mut space = [std::mem::MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(1))];
        let mut control = SendAncillaryBuffer::new(&mut space);
        let fds = [file.as_fd()];
        if !control.push(SendAncillaryMessage::ScmRights(&fds)) {
            return Err(io::Error::other("no room for the descriptor"));
        }
        rustix::net::sendmsg(&self.sock, &[], &mut control, SendFlags::empty())?;
        Ok(())
    }
}

impl Transport for JournalDgram {
    fn send(&mut self, msg: &[u8]) -> io::Result<()> {
        match self.sock.send(msg) {
            Ok(_) => Ok(()),
            Err(e)
                if e.raw_os_error() == Some(rustix::io::Errno::MSGSIZE.raw_os_error())
                    || e.raw_os_error() == Some(rustix::io::Errno::NOBUFS.raw_os_error()) =>
            {
                self.send_memfd(msg)
            }
            Err(e) => Err(e),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Unusable TLS files are told apart by kind, and each names its file.
    #[test]
    fn i19_tls_errors_name_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let files = |ca: PathBuf| TlsFiles {
            ca,
            cert: None,
            key: None,
            server_name: None,
        };
        let missing = dir.path().join("missing-ca.pem");
        let e = tls_config(&files(missing.clone())).unwrap_err();
        assert!(
            matches!(&e, TlsError::ReadCa { path, .. } if *path == missing),
            "{e}"
        );
        assert!(e.to_string().contains("missing-ca.pem"), "{e}");

        let empty = dir.path().join("empty-ca.pem");
        std::fs::write(&empty, "not a certificate\n").unwrap();
        let e = tls_config(&files(empty.clone())).unwrap_err();
        assert!(
            matches!(&e, TlsError::NoCa { path } if *path == empty),
            "{e}"
        );

        let mut half = files(empty);
        half.cert = Some(dir.path().join("client.pem"));
        let e = tls_config(&half).unwrap_err();
        // The CA is checked first.
        assert!(matches!(e, TlsError::NoCa { .. }), "{e}");
    }
}
