//! Sending a file: sendfile(2) where the platform has it (Linux), a
//! pread/send loop elsewhere or when sendfile refuses the descriptor. The
//! socket's timeout covers the whole call (one deadline, as sendall), and
//! progress is reported on failure. Files are streamed, never read whole.

use super::error::{Error, Progress, Result, fail};
use super::socket::Socket;
use super::wait::Deadline;
use std::fmt;
use std::os::fd::{AsRawFd, RawFd};

/// The most one sendfile(2) call moves (Linux's own limit per call).
#[cfg(any(target_os = "linux", target_os = "android"))]
const SENDFILE_CHUNK: usize = 0x7fff_f000;

/// The buffer of the read/send fallback.
const COPY_CHUNK: usize = 64 * 1024;

/// What is being sent, for messages: "sendfile fd 5", "sendfile_path /x".
#[derive(Clone, Copy)]
enum Source<'a> {
    Fd(RawFd),
    Path(&'a str),
}

impl fmt::Display for Source<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Fd(fd) => write!(f, "sendfile fd {fd}"),
            Source::Path(p) => write!(f, "sendfile_path {p}"),
        }
    }
}

/// Bytes sent so far and the error, as sendall reports it.

impl Socket {
    /// Sends `count` bytes of file `fd` from `offset` (0: to the end of
    /// the file), without moving the file's own offset. Stops early, with
    /// success, where the file ends. On failure the error comes with the
    /// number of bytes that did go.
    pub fn sendfile(&self, fd: RawFd, offset: i64, count: usize) -> Progress {
        self.send_file(Source::Fd(fd), fd, offset, count)
    }

    /// Opens `path` read-only (close-on-exec) and sends it as `sendfile`.
    pub fn sendfile_path(&self, path: &str, offset: i64, count: usize) -> Progress {
        let src = Source::Path(path);
        let file = std::fs::File::open(path).map_err(|e| {
            let code = e.raw_os_error().unwrap_or(libc::EINVAL);
            (0, Error::new(code, format_args!("{src}")))
        })?;
        self.send_file(src, file.as_raw_fd(), offset, count)
    }

    fn send_file(&self, src: Source<'_>, fd: RawFd, offset: i64, count: usize) -> Progress {
        let remaining = plan(src, fd, offset, count).map_err(|e| (0, e))?;
        let mut sent = 0;
        let r = self.stream_file(fd, offset, remaining, &mut sent);
        r.map(|()| sent).map_err(|e| {
            // "sendfile: timed out..." from the syscall loop reads better
            // without its own name after ours.
            let ctx = e.context();
            let ctx = match ctx.strip_prefix("sendfile") {
                Some(rest) => rest.trim_start_matches(": "),
                None => ctx,
            };
            let sep = if ctx.is_empty() { "" } else { ": " };
            let e = Error::new(e.code(), format_args!("{src} after {sent} bytes{sep}{ctx}"));
            (sent, e)
        })
    }

    /// Sends up to `remaining` bytes (None: until the file ends) from
    /// `offset`, counting them in `sent`.
    fn stream_file(
        &self,
        fd: RawFd,
        offset: i64,
        mut remaining: Option<usize>,
        sent: &mut usize,
    ) -> Result<()> {
        let mut deadline = None;
        let mut pos = offset;
        // A TLS stream must encrypt: it takes the copying path.
        #[cfg(any(target_os = "linux", target_os = "android"))]
        if self.tls().is_none() {
            let _quiet = SigpipeBlock::new();
            let sock = self.fd();
            while remaining != Some(0) {
                let chunk = remaining.unwrap_or(SENDFILE_CHUNK).min(SENDFILE_CHUNK);
                let mut off = pos as libc::off_t;
                let r = self.retry("sendfile", libc::POLLOUT, 0, &mut deadline, || {
                    // SAFETY: plain syscall on two descriptors; `off` is a
                    // valid off_t that sendfile updates.
                    unsafe { libc::sendfile(sock, fd, &mut off, chunk) }
                });
                match r {
                    Ok(0) => return Ok(()),
                    Ok(n) => {
                        *sent += n;
                        pos += n as i64;
                        remaining = remaining.map(|r| r - n);
                        if n < chunk && remaining != Some(0) {
                            super::interrupt::check_progress("sendfile")?;
                        }
                    }
                    // This descriptor cannot be sent from (e.g. a /proc
                    // or FUSE file): copy it instead.
                    Err(e)
                        if matches!(e.code(), libc::EINVAL | libc::ENOSYS | libc::EOPNOTSUPP) =>
                    {
                        break;
                    }
                    Err(e) => return Err(e),
                }
            }
        }
        self.copy_file(fd, pos, remaining, sent, &mut deadline)
    }

    /// The fallback: pread into a buffer, send it all, again.
    fn copy_file(
        &self,
        fd: RawFd,
        mut pos: i64,
        mut remaining: Option<usize>,
        sent: &mut usize,
        deadline: &mut Option<Deadline>,
    ) -> Result<()> {
        if remaining == Some(0) {
            return Ok(());
        }
        let mut buf: Vec<u8> = Vec::with_capacity(COPY_CHUNK);
        while remaining != Some(0) {
            let want = remaining.unwrap_or(COPY_CHUNK).min(COPY_CHUNK);
            // `plan` checked that offsets fit off_t.
            let at = pos as libc::off_t;
            // SAFETY: buf has capacity for `want` bytes.
            let n = unsafe { libc::pread(fd, buf.as_mut_ptr().cast(), want, at) };
            if n < 0 {
                let e = Error::last_os(format_args!("pread"));
                if e.code() == libc::EINTR {
                    super::interrupt::check("sendfile")?;
                    continue;
                }
                return Err(e);
            }
            if n == 0 {
                return Ok(());
            }
            let n = n as usize;
            // SAFETY: pread initialised n bytes.
            unsafe { buf.set_len(n) };
            let mut done = 0;
            while done < n {
                let k = self.send_within(&buf[done..n], 0, deadline)?;
                done += k;
                *sent += k;
                if done < n {
                    super::interrupt::check_progress("sendfile")?;
                }
            }
            pos += n as i64;
            remaining = remaining.map(|r| r - n);
        }
        Ok(())
    }
}

/// sendfile(2) takes no MSG_NOSIGNAL: a peer that went away would raise
/// SIGPIPE. While this guard lives, SIGPIPE is blocked in the calling
/// thread (the process's signal dispositions are untouched); when it goes,
/// a SIGPIPE our calls raised is taken off the thread's pending set and
/// the old mask comes back, so the caller sees EPIPE and nothing else.
#[cfg(any(target_os = "linux", target_os = "android"))]
struct SigpipeBlock {
    old: libc::sigset_t,
    /// A SIGPIPE was already pending: it is not ours to take.
    was_pending: bool,
}

#[cfg(any(target_os = "linux", target_os = "android"))]
impl SigpipeBlock {
    fn new() -> SigpipeBlock {
        // SAFETY: sigset_t is plain data initialised by sigemptyset; the
        // calls only read and write these local sets.
        unsafe {
            let mut set: libc::sigset_t = std::mem::zeroed();
            let mut old: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut set);
            libc::sigaddset(&mut set, libc::SIGPIPE);
            libc::pthread_sigmask(libc::SIG_BLOCK, &set, &mut old);
            SigpipeBlock {
                old,
                was_pending: sigpipe_pending(),
            }
        }
    }
}

#[cfg(any(target_os = "linux", target_os = "android"))]
fn sigpipe_pending() -> bool {
    // SAFETY: as above.
    unsafe {
        let mut pending: libc::sigset_t = std::mem::zeroed();
        libc::sigpending(&mut pending);
        libc::sigismember(&pending, libc::SIGPIPE) == 1
    }
}

#[cfg(any(target_os = "linux", target_os = "android"))]
impl Drop for SigpipeBlock {
    fn drop(&mut self) {
        // SAFETY: as above; a zero timeout makes sigtimedwait a poll.
        unsafe {
            if !self.was_pending && sigpipe_pending() {
                let mut set: libc::sigset_t = std::mem::zeroed();
                libc::sigemptyset(&mut set);
                libc::sigaddset(&mut set, libc::SIGPIPE);
                let zero = libc::timespec {
                    tv_sec: 0,
                    tv_nsec: 0,
                };
                while libc::sigtimedwait(&set, std::ptr::null_mut(), &zero) < 0
                    && errno::errno().0 == libc::EINTR
                {}
            }
            libc::pthread_sigmask(libc::SIG_SETMASK, &self.old, std::ptr::null_mut());
        }
    }
}

/// Checks the file and the range; the number of bytes to send (None:
/// until the file ends).
fn plan(src: Source<'_>, fd: RawFd, offset: i64, count: usize) -> Result<Option<usize>> {
    if offset < 0 {
        return fail!(libc::EINVAL, "{src}: offset {offset} is negative");
    }
    if libc::off_t::try_from(offset).is_err() {
        return fail!(libc::EOVERFLOW, "{src}: offset {offset} is too large");
    }
    if fd < 0 {
        return fail!(libc::EBADF, "{src}: not a file descriptor");
    }
    // SAFETY: stat is plain C data, filled by fstat.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: fstat writes one stat.
    if unsafe { libc::fstat(fd, &mut st) } != 0 {
        return Err(Error::last_os(format_args!("{src}")));
    }
    match st.st_mode & libc::S_IFMT {
        libc::S_IFREG => {}
        // A block device's size is not in st_size: read it to its end.
        libc::S_IFBLK => return Ok((count > 0).then_some(count)),
        libc::S_IFDIR => return fail!(libc::EISDIR, "{src}"),
        _ => {
            return fail!(
                libc::ESPIPE,
                "{src}: not a regular file (pipes, sockets and terminals have no offsets to send from)"
            );
        }
    }
    // Sizes are those of the file now; a file that shrinks meanwhile ends
    // the call early, one that grows is sent as it was.
    let size = u64::try_from(st.st_size).unwrap_or(0);
    let left = size.saturating_sub(offset as u64);
    let left = usize::try_from(left).unwrap_or(usize::MAX);
    Ok(Some(if count == 0 { left } else { count.min(left) }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::mem::MaybeUninit;

    fn temp_file(name: &str, data: &[u8]) -> (std::path::PathBuf, std::fs::File) {
        let path = std::env::temp_dir().join(format!("polysock-{name}-{}", std::process::id()));
        std::fs::File::create(&path)
            .unwrap()
            .write_all(data)
            .unwrap();
        let f = std::fs::File::open(&path).unwrap();
        (path, f)
    }

    fn read_all(s: &Socket, n: usize) -> Vec<u8> {
        let mut buf = vec![MaybeUninit::new(0u8); n];
        let got = s.recv_exact(&mut buf, 0).map_err(|(_, e)| e).unwrap();
        buf[..got]
            .iter()
            .map(|b| unsafe { b.assume_init() })
            .collect()
    }

    /// The read/send fallback, which Linux takes only for files sendfile(2)
    /// refuses (procfs, some FUSE files), so C tests cannot reach it.
    #[test]
    fn fallback_copies_ranges_exactly() {
        let data: Vec<u8> = (0..200_000u32).map(|i| (i * 7 + i / 251) as u8).collect();
        let (path, f) = temp_file("fallback", &data);
        let (a, b) = Socket::pair(libc::AF_UNIX, libc::SOCK_STREAM, 0).unwrap();
        b.set_timeout(5000).unwrap();
        let reader = std::thread::spawn(move || read_all(&b, 200_000 - 70_000 + 50));
        let mut sent = 0;
        a.copy_file(f.as_raw_fd(), 3, Some(50), &mut sent, &mut None)
            .unwrap();
        assert_eq!(sent, 50);
        let mut sent = 0;
        a.copy_file(f.as_raw_fd(), 70_000, None, &mut sent, &mut None)
            .unwrap();
        assert_eq!(sent, 130_000);
        let got = reader.join().unwrap();
        assert_eq!(&got[..50], &data[3..53]);
        assert_eq!(&got[50..], &data[70_000..]);
        std::fs::remove_file(path).unwrap();
    }

    #[test]
    fn plan_clamps_to_the_file() {
        let (path, f) = temp_file("plan", &[1; 100]);
        let fd = f.as_raw_fd();
        let src = Source::Fd(fd);
        assert_eq!(plan(src, fd, 0, 0).unwrap(), Some(100));
        assert_eq!(plan(src, fd, 90, 50).unwrap(), Some(10));
        assert_eq!(plan(src, fd, 100, 0).unwrap(), Some(0));
        assert_eq!(plan(src, fd, 500, 7).unwrap(), Some(0));
        assert_eq!(plan(src, fd, -1, 0).unwrap_err().code(), libc::EINVAL);
        std::fs::remove_file(path).unwrap();
    }
}
