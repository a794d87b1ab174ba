//! Errors: a code (a POSIX errno value, or one of polysock's own codes) and a
//! short context ("connect 127.0.0.1:4000"). An error is two words: the
//! context's text sits in a buffer of its own, taken from a few spares
//! each thread keeps and given back when the error is dropped, so a
//! `Result` stays small (moving a `Result<Socket>` with the text inline
//! cost a 400-byte copy at every return) and the EAGAIN that an event
//! loop sees thousands of times a second costs no heap traffic: a thread
//! allocates its buffers at its first error, and again only while more
//! than four of its errors are alive at once.

use std::cell::RefCell;
use std::fmt::{self, Write};

/// First of polysock's own codes. Errno values on every supported platform
/// are far below this, so the two ranges never collide.
pub const POLYSOCK_ERR_BASE: i32 = 20000;

// Resolver failures (getaddrinfo/getnameinfo), one code per EAI_* value.
// They are polysock's numbers, identical on every platform, so scripts can
// compare them by name (the constants table has them as EAI_*).
pub const POLYSOCK_EAI_AGAIN: i32 = 20001;
pub const POLYSOCK_EAI_BADFLAGS: i32 = 20002;
pub const POLYSOCK_EAI_FAIL: i32 = 20003;
pub const POLYSOCK_EAI_FAMILY: i32 = 20004;
pub const POLYSOCK_EAI_MEMORY: i32 = 20005;
pub const POLYSOCK_EAI_NONAME: i32 = 20006;
pub const POLYSOCK_EAI_SERVICE: i32 = 20007;
pub const POLYSOCK_EAI_SOCKTYPE: i32 = 20008;
/// A system error inside the resolver; the message carries the errno text.
pub const POLYSOCK_EAI_SYSTEM: i32 = 20009;
pub const POLYSOCK_EAI_OVERFLOW: i32 = 20010;
pub const POLYSOCK_EAI_NODATA: i32 = 20011;
/// An internal error: a Rust panic was caught at the API boundary. Please
/// report it; the call had no effect beyond what the message says.
pub const POLYSOCK_EPANIC: i32 = 20100;
/// A stream ended (the peer closed) before the requested bytes arrived.
pub const POLYSOCK_EEOF: i32 = 20101;

// TLS failures (20200..20299): each names its cause; the message adds the
// details (`tls handshake with example.test: certificate expired (notAfter
// 2020-01-01)`). Timeouts, would-block and socket errors keep their errno.
/// A TLS failure none of the codes below describes.
pub const POLYSOCK_ETLS: i32 = 20200;
/// The peer's certificate has expired.
pub const POLYSOCK_ETLS_CERT_EXPIRED: i32 = 20201;
/// The peer's certificate is not valid yet.
pub const POLYSOCK_ETLS_CERT_NOT_YET_VALID: i32 = 20202;
/// The peer's certificate is not for the name that was asked for.
pub const POLYSOCK_ETLS_HOSTNAME: i32 = 20203;
/// The peer's certificate chain does not lead to a trusted CA.
pub const POLYSOCK_ETLS_UNKNOWN_ISSUER: i32 = 20204;
/// The peer's certificate is self-signed and not trusted.
pub const POLYSOCK_ETLS_SELF_SIGNED: i32 = 20205;
/// The peer's certificate is otherwise invalid (bad signature, wrong
/// purpose, malformed, revoked...).
pub const POLYSOCK_ETLS_BAD_CERT: i32 = 20206;
/// The peer sent no certificate where one is required.
pub const POLYSOCK_ETLS_CERT_REQUIRED: i32 = 20207;
/// The peer sent a fatal alert (the message names it).
pub const POLYSOCK_ETLS_ALERT: i32 = 20208;
/// The peer sent something that is not valid TLS (not a TLS peer, or a
/// corrupted stream).
pub const POLYSOCK_ETLS_PROTOCOL: i32 = 20209;
/// No TLS version, cipher suite, signature scheme or ALPN protocol in
/// common with the peer.
pub const POLYSOCK_ETLS_INCOMPATIBLE: i32 = 20210;
/// The peer closed the connection without a TLS close_notify (the data may
/// have been truncated).
pub const POLYSOCK_ETLS_TRUNCATED: i32 = 20211;
/// PEM input with no usable certificate or key in it.
pub const POLYSOCK_ETLS_PEM: i32 = 20212;
/// A TLS configuration that cannot work (a key that does not match its
/// certificate, no trust anchors, a server without a certificate...).
pub const POLYSOCK_ETLS_CONFIG: i32 = 20213;

/// Room for the context of one error. Longer contexts are cut, never
/// overflowed.
const CONTEXT_LEN: usize = 384;

/// Separates a context from a detail that follows the code's description
/// (see `Error::detailed`).
const DETAIL: char = '\u{1f}';

/// One failure: its code and what was being done (no buffer while the
/// context is empty).
pub struct Error {
    code: i32,
    context: Option<Box<Context>>,
}

pub type Result<T> = std::result::Result<T, Error>;

/// The result of a call that moves many bytes (sendall, recv_exact,
/// sendfile): the count, or the error together with the count that did
/// move before it.
pub type Progress = std::result::Result<usize, (usize, Error)>;

impl Error {
    /// An error with `code` and a context formatted from `args`.
    pub fn new(code: i32, args: fmt::Arguments<'_>) -> Error {
        let mut context = spare();
        let _ = context.write_fmt(args);
        Error {
            code,
            context: Some(context),
        }
    }

    /// An error whose message continues after the code's description:
    /// context "tls handshake with a.test", detail " (notAfter 2020-01-01)"
    /// reads "tls handshake with a.test: certificate expired (notAfter
    /// 2020-01-01)". The detail rides in the context, so an error re-tagged
    /// with `context()` keeps it.
    pub fn detailed(code: i32, context: fmt::Arguments<'_>, detail: fmt::Arguments<'_>) -> Error {
        let mut c = spare();
        let _ = c.write_fmt(context);
        let _ = c.write_char(DETAIL);
        let _ = c.write_fmt(detail);
        Error {
            code,
            context: Some(c),
        }
    }

    /// The current C `errno`, with context.
    pub fn last_os(args: fmt::Arguments<'_>) -> Error {
        Error::new(errno::errno().0, args)
    }

    pub fn code(&self) -> i32 {
        self.code
    }

    pub fn context(&self) -> &str {
        self.context.as_deref().map_or("", Context::as_str)
    }

    /// No error: code 0, no context (the state before any failure).
    pub const fn none() -> Error {
        Error {
            code: 0,
            context: None,
        }
    }
}

impl Clone for Error {
    fn clone(&self) -> Error {
        let context = self.context.as_deref().map(|c| {
            let mut copy = spare();
            copy.buf[..c.len].copy_from_slice(&c.buf[..c.len]);
            copy.len = c.len;
            copy
        });
        Error {
            code: self.code,
            context,
        }
    }
}

impl Drop for Error {
    fn drop(&mut self) {
        if let Some(c) = self.context.take() {
            give_back(c);
        }
    }
}

/// How many context buffers a thread keeps for its next errors: enough
/// for an error being re-tagged (two alive) while another waits in the
/// thread's last-error record, with one to spare.
const SPARES: usize = 4;

struct Spares {
    len: usize,
    bufs: [Option<Box<Context>>; SPARES],
}

thread_local! {
    static SPARE: RefCell<Spares> = const {
        RefCell::new(Spares { len: 0, bufs: [const { None }; SPARES] })
    };
}

/// An empty context buffer: one of this thread's spares. When it has none
/// (its first error), it makes them all at once, so an error kept as the
/// last error, or one re-tagged, never makes the next error allocate.
fn spare() -> Box<Context> {
    let reused = SPARE
        .try_with(|s| {
            let mut s = s.try_borrow_mut().ok()?;
            if s.len == 0 {
                for b in &mut s.bufs {
                    *b = Some(Box::new(Context::new()));
                }
                s.len = SPARES;
            }
            s.len -= 1;
            let len = s.len;
            s.bufs[len].take()
        })
        .ok()
        .flatten();
    match reused {
        Some(mut c) => {
            c.len = 0;
            c
        }
        // The thread is ending (or a Display inside a format re-entered).
        None => Box::new(Context::new()),
    }
}

/// Keeps `c` for this thread's next error (frees it if the thread has
/// enough spares, or is ending).
fn give_back(c: Box<Context>) {
    let mut c = Some(c);
    let _ = SPARE.try_with(|s| {
        if let Ok(mut s) = s.try_borrow_mut() {
            if s.len < SPARES {
                let len = s.len;
                s.bufs[len] = c.take();
                s.len = len + 1;
            }
        }
    });
    drop(c);
}

impl fmt::Display for Error {
    /// `context: description`, e.g. `connect 127.0.0.1:4000: Connection
    /// refused`, then the detail if there is one.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let describe = crate::core::codes::describe(self.code);
        let (context, detail) = self
            .context()
            .split_once(DETAIL)
            .unwrap_or((self.context(), ""));
        if context.is_empty() {
            write!(f, "{describe}{detail}")
        } else {
            write!(f, "{context}: {describe}{detail}")
        }
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self, crate::core::codes::name(self.code))
    }
}

impl std::error::Error for Error {}

/// Writes formatted text into `buf` and returns the written part (cut at
/// the buffer's end); never allocates.
pub(crate) fn format_into<'a>(buf: &'a mut [u8], args: fmt::Arguments<'_>) -> &'a [u8] {
    let mut cursor = std::io::Cursor::new(&mut buf[..]);
    let _ = std::io::Write::write_fmt(&mut cursor, args);
    let n = cursor.position() as usize;
    &buf[..n]
}

/// `fail!(CODE, "fmt", args..)`: an `Err(Error)` with formatted context.
macro_rules! fail {
    ($code:expr, $($arg:tt)*) => {
        Err($crate::core::error::Error::new($code, format_args!($($arg)*)))
    };
}
pub(crate) use fail;

/// A fixed-capacity UTF-8 text buffer that truncates on a char boundary.
#[derive(Clone)]
pub struct Context {
    len: usize,
    buf: [u8; CONTEXT_LEN],
}

impl Context {
    pub const fn new() -> Context {
        Context {
            len: 0,
            buf: [0; CONTEXT_LEN],
        }
    }

    pub fn as_str(&self) -> &str {
        // Only whole UTF-8 sequences are ever copied in (see write_str).
        std::str::from_utf8(&self.buf[..self.len]).unwrap_or("")
    }
}

impl Write for Context {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let room = CONTEXT_LEN - self.len;
        let mut take = s.len().min(room);
        while !s.is_char_boundary(take) {
            take -= 1;
        }
        self.buf[self.len..self.len + take].copy_from_slice(&s.as_bytes()[..take]);
        self.len += take;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_joins_context_and_description() {
        let e = Error::new(
            libc::ECONNREFUSED,
            format_args!("connect {}:{}", "127.0.0.1", 4000),
        );
        assert_eq!(e.to_string(), "connect 127.0.0.1:4000: Connection refused");
        assert_eq!(e.code(), libc::ECONNREFUSED);
    }

    #[test]
    fn a_detail_follows_the_description_also_when_retagged() {
        let e = Error::detailed(
            POLYSOCK_EEOF,
            format_args!("recv from {}", "a.test"),
            format_args!(" (after {} bytes)", 5),
        );
        let desc = crate::core::codes::describe(POLYSOCK_EEOF);
        assert_eq!(
            e.to_string(),
            format!("recv from a.test: {desc} (after 5 bytes)")
        );
        let outer = Error::new(e.code(), format_args!("sendall: {}", e.context()));
        assert_eq!(
            outer.to_string(),
            format!("sendall: recv from a.test: {desc} (after 5 bytes)")
        );
    }

    #[test]
    fn errors_keep_their_own_text_however_many_are_alive() {
        let errors: Vec<Error> = (0..3 * SPARES)
            .map(|i| Error::new(libc::EINVAL, format_args!("error {i}")))
            .collect();
        let copies: Vec<Error> = errors.iter().map(Error::clone).collect();
        drop(errors);
        let later = Error::new(libc::EIO, format_args!("later"));
        for (i, e) in copies.iter().enumerate() {
            assert_eq!(e.context(), format!("error {i}"));
        }
        assert_eq!(later.context(), "later");
    }

    #[test]
    fn a_reused_buffer_starts_empty() {
        drop(Error::new(
            libc::EINVAL,
            format_args!("a long first context"),
        ));
        assert_eq!(Error::new(libc::EINVAL, format_args!("b")).context(), "b");
        assert_eq!(Error::new(libc::EINVAL, format_args!("")).context(), "");
        assert_eq!(Error::none().context(), "");
    }

    #[test]
    fn an_error_moves_to_another_thread_with_its_text() {
        let e = Error::new(libc::ECONNREFUSED, format_args!("connect {}", "a.test"));
        let text = std::thread::spawn(move || e.to_string()).join().unwrap();
        assert_eq!(text, "connect a.test: Connection refused");
    }

    #[test]
    fn long_context_is_cut_on_a_char_boundary() {
        let long = "é".repeat(CONTEXT_LEN);
        let e = Error::new(libc::EINVAL, format_args!("{long}"));
        assert!(e.context().len() <= CONTEXT_LEN);
        assert!(e.context().chars().all(|c| c == 'é'));
    }
}
