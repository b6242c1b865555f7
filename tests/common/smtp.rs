//! A real SMTP server on loopback for the email tests: it speaks enough of RFC 5321 for a
//! client to deliver through it (EHLO/HELO, AUTH PLAIN and LOGIN, MAIL, RCPT, DATA with
//! the dot-stuffing undone, RSET, NOOP, QUIT), keeps each message's envelope and raw bytes
//! for the test to parse, and can be told to refuse a given step with a given reply, to
//! want credentials, to accept connections and then say nothing, or to speak TLS: offered
//! by STARTTLS (and then required before MAIL) or from the first byte, with a certificate
//! the test made (`TestCertificate`).

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

/// A step of the conversation a failure can be put on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    Ehlo,
    Auth,
    Mail,
    Rcpt,
    /// The `DATA` command itself.
    Data,
    /// The answer after the message's closing dot.
    Message,
}

/// How the server behaves.
#[derive(Debug, Clone, Default)]
pub struct Behaviour {
    /// The username and password AUTH must give; with them, MAIL before AUTH is refused.
    pub credentials: Option<(String, String)>,
    /// Steps answered with this code and text instead of going on.
    pub refuse: Vec<(Step, u16, String)>,
    /// Accept connections and never send a byte (not even the greeting).
    pub silent: bool,
    /// A slow server: each message is kept at once, and its `250` sent this long after.
    pub delay: std::time::Duration,
    /// TLS, and how it starts.
    pub tls: Option<(TlsMode, Arc<rustls::ServerConfig>)>,
}

/// How a TLS server starts TLS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsMode {
    /// Offered after EHLO; MAIL is refused until the client took it.
    Starttls,
    /// From the first byte (port 465's way).
    Implicit,
}

/// A certificate authority and a server certificate for 127.0.0.1 and localhost, made for
/// one test by the `openssl` command (in a folder of the test's own): `ca` is what the
/// client is told to trust (`ca_file`).
pub struct TestCertificate {
    pub ca: std::path::PathBuf,
    pub server: Arc<rustls::ServerConfig>,
}

impl TestCertificate {
    pub fn make(dir: &std::path::Path) -> Self {
        use rustls::pki_types::pem::PemObject;
        use rustls::pki_types::{CertificateDer, PrivateKeyDer};
        let run = |args: &[&str]| {
            let out = std::process::Command::new("openssl")
                .args(args)
                .current_dir(dir)
                .output()
                .expect("the openssl command (Debian's openssl package)");
            assert!(
                out.status.success(),
                "openssl {args:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        };
        run(&[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
            "-days",
            "3650",
            "-subj",
            "/CN=duban test CA",
        ]);
        run(&[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
            "-subj",
            "/CN=localhost",
        ]);
        std::fs::write(
            dir.join("san.ext"),
            "subjectAltName=IP:127.0.0.1,DNS:localhost\n",
        )
        .unwrap();
        run(&[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "server.pem",
            "-days",
            "3650",
            "-extfile",
            "san.ext",
        ]);
        let chain: Vec<CertificateDer<'static>> =
            CertificateDer::pem_file_iter(dir.join("server.pem"))
                .unwrap()
                .map(|c| c.unwrap())
                .collect();
        let key = PrivateKeyDer::from_pem_file(dir.join("server.key")).unwrap();
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let server = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .unwrap();
        Self {
            ca: dir.join("ca.pem"),
            server: Arc::new(server),
        }
    }
}

impl Behaviour {
    pub fn refusing(mut self, step: Step, code: u16, text: &str) -> Self {
        self.refuse.push((step, code, text.to_owned()));
        self
    }

    pub fn with_credentials(mut self, username: &str, password: &str) -> Self {
        self.credentials = Some((username.to_owned(), password.to_owned()));
        self
    }

    pub fn with_tls(mut self, mode: TlsMode, certificate: &TestCertificate) -> Self {
        self.tls = Some((mode, certificate.server.clone()));
        self
    }
}

/// A connection, plain or TLS.
trait Stream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Stream for T {}
type Lines = BufReader<tokio::io::ReadHalf<Box<dyn Stream>>>;
type Writer = tokio::io::WriteHalf<Box<dyn Stream>>;

/// One message taken, as it arrived.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    pub mail_from: String,
    pub rcpt_to: Vec<String>,
    /// The message's bytes with the dot-stuffing undone, without the closing dot.
    pub data: Vec<u8>,
    /// Who authenticated for it, and how (`PLAIN`, `LOGIN`).
    pub auth: Option<(String, String, String)>,
    /// When it arrived (before the `250`).
    pub at: std::time::SystemTime,
}

#[derive(Default)]
struct Record {
    received: Vec<Received>,
    /// Every command line the server read, AUTH's data left out.
    commands: Vec<String>,
    connections: usize,
}

pub struct SmtpServer {
    pub addr: SocketAddr,
    record: Arc<Mutex<Record>>,
}

impl SmtpServer {
    pub async fn start(behaviour: Behaviour) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let record = Arc::new(Mutex::new(Record::default()));
        let shared = record.clone();
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                shared.lock().unwrap().connections += 1;
                let (behaviour, record) = (behaviour.clone(), shared.clone());
                tokio::spawn(async move {
                    if behaviour.silent {
                        // Holds the connection open without a word until the client leaves.
                        let mut stream = stream;
                        let mut sink = Vec::new();
                        let _ = tokio::io::AsyncReadExt::read_to_end(&mut stream, &mut sink).await;
                        return;
                    }
                    let stream: Box<dyn Stream> = match &behaviour.tls {
                        Some((TlsMode::Implicit, config)) => {
                            match tokio_rustls::TlsAcceptor::from(config.clone())
                                .accept(stream)
                                .await
                            {
                                Ok(tls) => Box::new(tls),
                                // A client that does not trust the certificate says so and goes.
                                Err(_) => return,
                            }
                        }
                        _ => Box::new(stream),
                    };
                    let secure = matches!(behaviour.tls, Some((TlsMode::Implicit, _)));
                    let _ = Session::new(behaviour, record, secure).run(stream).await;
                });
            }
        });
        Self { addr, record }
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    pub fn received(&self) -> Vec<Received> {
        self.record.lock().unwrap().received.clone()
    }

    pub fn commands(&self) -> Vec<String> {
        self.record.lock().unwrap().commands.clone()
    }

    pub fn connections(&self) -> usize {
        self.record.lock().unwrap().connections
    }
}

struct Session {
    behaviour: Behaviour,
    record: Arc<Mutex<Record>>,
    authenticated: Option<(String, String, String)>,
    mail_from: Option<String>,
    rcpt_to: Vec<String>,
    queued: usize,
    /// The conversation is under TLS.
    secure: bool,
}

type Io = std::io::Result<()>;

impl Session {
    fn new(behaviour: Behaviour, record: Arc<Mutex<Record>>, secure: bool) -> Self {
        Self {
            behaviour,
            record,
            authenticated: None,
            mail_from: None,
            rcpt_to: Vec::new(),
            queued: 0,
            secure,
        }
    }

    /// STARTTLS is offered (and wanted) on this connection.
    fn offers_starttls(&self) -> bool {
        !self.secure && matches!(self.behaviour.tls, Some((TlsMode::Starttls, _)))
    }

    fn refusal(&self, step: Step) -> Option<String> {
        self.behaviour
            .refuse
            .iter()
            .find(|(s, _, _)| *s == step)
            .map(|(_, code, text)| format!("{code} {text}\r\n"))
    }

    async fn run(self, stream: Box<dyn Stream>) -> Io {
        let (read, mut write) = tokio::io::split(stream);
        write.write_all(b"220 duban-test ESMTP ready\r\n").await?;
        self.converse(BufReader::new(read), write).await
    }

    async fn converse(mut self, mut lines: Lines, mut write: Writer) -> Io {
        loop {
            let Some(line) = read_line(&mut lines).await? else {
                return Ok(());
            };
            let (verb, rest) = match line.split_once(' ') {
                Some((verb, rest)) => (verb.to_ascii_uppercase(), rest.to_owned()),
                None => (line.to_ascii_uppercase(), String::new()),
            };
            self.record
                .lock()
                .unwrap()
                .commands
                .push(if verb == "AUTH" {
                    format!("AUTH {}", rest.split(' ').next().unwrap_or(""))
                } else {
                    line.clone()
                });
            let reply = match verb.as_str() {
                "EHLO" | "HELO" => match self.refusal(Step::Ehlo) {
                    Some(refusal) => refusal,
                    None if verb == "HELO" => "250 duban-test\r\n".into(),
                    None if self.offers_starttls() => "250-duban-test greets you\r\n250-8BITMIME\r\n250-STARTTLS\r\n250 SIZE 10485760\r\n".into(),
                    None => "250-duban-test greets you\r\n250-8BITMIME\r\n250-AUTH PLAIN LOGIN\r\n250 SIZE 10485760\r\n".into(),
                },
                "STARTTLS" if self.offers_starttls() => {
                    write.write_all(b"220 2.0.0 Ready to start TLS\r\n").await?;
                    let Some((_, config)) = self.behaviour.tls.clone() else {
                        return Ok(());
                    };
                    let stream = lines.into_inner().unsplit(write);
                    let Ok(tls) = tokio_rustls::TlsAcceptor::from(config).accept(stream).await
                    else {
                        return Ok(());
                    };
                    // A new conversation under TLS: the client says EHLO again.
                    let stream: Box<dyn Stream> = Box::new(tls);
                    let (read, write) = tokio::io::split(stream);
                    let session = Session::new(self.behaviour.clone(), self.record.clone(), true);
                    return Box::pin(session.converse(BufReader::new(read), write)).await;
                }
                "AUTH" => match self.refusal(Step::Auth) {
                    Some(refusal) => refusal,
                    None => self.auth(&rest, &mut lines, &mut write).await?,
                },
                "MAIL" => {
                    if let Some(refusal) = self.refusal(Step::Mail) {
                        refusal
                    } else if self.offers_starttls() {
                        "530 5.7.0 Must issue a STARTTLS command first\r\n".into()
                    } else if self.behaviour.credentials.is_some() && self.authenticated.is_none() {
                        "530 5.7.0 Authentication required\r\n".into()
                    } else if let Some(address) = path(&rest, "FROM:") {
                        self.mail_from = Some(address);
                        self.rcpt_to.clear();
                        "250 2.1.0 Ok\r\n".into()
                    } else {
                        "501 5.5.4 Syntax: MAIL FROM:<address>\r\n".into()
                    }
                }
                "RCPT" => {
                    if let Some(refusal) = self.refusal(Step::Rcpt) {
                        refusal
                    } else if self.mail_from.is_none() {
                        "503 5.5.1 Need MAIL before RCPT\r\n".into()
                    } else if let Some(address) = path(&rest, "TO:") {
                        self.rcpt_to.push(address);
                        "250 2.1.5 Ok\r\n".into()
                    } else {
                        "501 5.5.4 Syntax: RCPT TO:<address>\r\n".into()
                    }
                }
                "DATA" => {
                    if let Some(refusal) = self.refusal(Step::Data) {
                        refusal
                    } else if self.rcpt_to.is_empty() {
                        "503 5.5.1 Need RCPT before DATA\r\n".into()
                    } else {
                        write
                            .write_all(b"354 End data with <CR><LF>.<CR><LF>\r\n")
                            .await?;
                        let Some(data) = read_data(&mut lines).await? else {
                            return Ok(());
                        };
                        match self.refusal(Step::Message) {
                            Some(refusal) => refusal,
                            None => {
                                self.queued += 1;
                                let received = Received {
                                    mail_from: self.mail_from.take().unwrap_or_default(),
                                    rcpt_to: std::mem::take(&mut self.rcpt_to),
                                    data,
                                    auth: self.authenticated.clone(),
                                    at: std::time::SystemTime::now(),
                                };
                                let answer = {
                                    let mut record = self.record.lock().unwrap();
                                    record.received.push(received);
                                    format!(
                                        "250 2.0.0 Ok: queued as Q{}{}\r\n",
                                        record.connections, self.queued
                                    )
                                };
                                tokio::time::sleep(self.behaviour.delay).await;
                                answer
                            }
                        }
                    }
                }
                "RSET" => {
                    self.mail_from = None;
                    self.rcpt_to.clear();
                    "250 2.0.0 Ok\r\n".into()
                }
                "NOOP" => "250 2.0.0 Ok\r\n".into(),
                "QUIT" => {
                    write.write_all(b"221 2.0.0 Bye\r\n").await?;
                    return Ok(());
                }
                _ => "502 5.5.2 Command not recognized\r\n".into(),
            };
            write.write_all(reply.as_bytes()).await?;
        }
    }

    /// AUTH PLAIN (with or without the initial response) and AUTH LOGIN; the reply.
    async fn auth(
        &mut self,
        rest: &str,
        lines: &mut Lines,
        write: &mut Writer,
    ) -> std::io::Result<String> {
        let b64 = base64::engine::general_purpose::STANDARD;
        let mut words = rest.split_whitespace();
        let mechanism = words.next().unwrap_or("").to_ascii_uppercase();
        let given = match mechanism.as_str() {
            "PLAIN" => {
                let initial = match words.next() {
                    Some(initial) => initial.to_owned(),
                    None => {
                        write.write_all(b"334 \r\n").await?;
                        read_line(lines).await?.unwrap_or_default()
                    }
                };
                let decoded = b64.decode(initial.trim()).unwrap_or_default();
                let parts: Vec<&[u8]> = decoded.split(|b| *b == 0).collect();
                match parts.as_slice() {
                    [_authzid, user, pass] => Some((
                        String::from_utf8_lossy(user).into_owned(),
                        String::from_utf8_lossy(pass).into_owned(),
                    )),
                    _ => None,
                }
            }
            "LOGIN" => {
                let user = match words.next() {
                    Some(user) => user.to_owned(),
                    None => {
                        write.write_all(b"334 VXNlcm5hbWU6\r\n").await?;
                        read_line(lines).await?.unwrap_or_default()
                    }
                };
                write.write_all(b"334 UGFzc3dvcmQ6\r\n").await?;
                let pass = read_line(lines).await?.unwrap_or_default();
                let decode = |s: &str| {
                    String::from_utf8_lossy(&b64.decode(s.trim()).unwrap_or_default()).into_owned()
                };
                Some((decode(&user), decode(&pass)))
            }
            _ => return Ok("504 5.5.4 Unrecognized authentication type\r\n".into()),
        };
        let Some((user, pass)) = given else {
            return Ok("501 5.5.2 Cannot decode the credentials\r\n".into());
        };
        let accepted = match &self.behaviour.credentials {
            Some((u, p)) => *u == user && *p == pass,
            None => true,
        };
        if accepted {
            self.authenticated = Some((user, pass, mechanism));
            Ok("235 2.7.0 Authentication successful\r\n".into())
        } else {
            Ok("535 5.7.8 Authentication credentials invalid\r\n".into())
        }
    }
}

/// One line without its CRLF; `None` when the client has gone.
async fn read_line(lines: &mut Lines) -> std::io::Result<Option<String>> {
    let mut buf = Vec::new();
    if lines.read_until(b'\n', &mut buf).await? == 0 {
        return Ok(None);
    }
    while buf.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
        buf.pop();
    }
    Ok(Some(String::from_utf8_lossy(&buf).into_owned()))
}

/// The message after DATA, up to the line holding only a dot, each line's leading dot of
/// the client's stuffing removed; `None` when the client went away before the dot.
async fn read_data(lines: &mut Lines) -> std::io::Result<Option<Vec<u8>>> {
    let mut data = Vec::new();
    loop {
        let mut line = Vec::new();
        if lines.read_until(b'\n', &mut line).await? == 0 {
            return Ok(None);
        }
        if line == b".\r\n" || line == b".\n" {
            return Ok(Some(data));
        }
        let unstuffed = if line.starts_with(b".") {
            &line[1..]
        } else {
            &line[..]
        };
        data.extend_from_slice(unstuffed);
    }
}

/// The address in `FROM:<a@b> SIZE=…` or `TO:<a@b>`.
fn path(rest: &str, keyword: &str) -> Option<String> {
    let upper = rest.to_ascii_uppercase();
    let after = rest
        .get(upper.find(keyword)? + keyword.len()..)?
        .trim_start();
    let inner = after.strip_prefix('<')?;
    Some(inner[..inner.find('>')?].to_owned())
}
