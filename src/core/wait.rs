//! Waiting for a socket with a deadline. Signals never end a wait early:
//! EINTR resumes it with the time that remains, unless the host's
//! interrupt hook says otherwise (see `interrupt`).

use super::error::{Result, fail};
use std::os::fd::RawFd;
use std::time::{Duration, Instant};

/// When a blocking call must give up. `None` waits forever.
#[derive(Clone, Copy)]
pub struct Deadline {
    at: Option<Instant>,
    ms: i64,
}

impl Deadline {
    /// A deadline `ms` from now; -1 (or any negative) means never, and 0
    /// means "already due".
    pub fn after_ms(ms: i64) -> Deadline {
        // Only a timed socket pays for reading the clock.
        let at = (ms >= 0).then(|| Instant::now() + Duration::from_millis(ms as u64));
        Deadline { at, ms }
    }

    pub fn never() -> Deadline {
        Deadline { at: None, ms: -1 }
    }

    /// Milliseconds left for poll(2): -1 for never, rounded up so that a
    /// wait never ends before its deadline.
    pub fn remaining_ms(&self) -> i32 {
        match self.at {
            None => -1,
            Some(at) => {
                let left = at.saturating_duration_since(Instant::now());
                let ms = left.as_micros().div_ceil(1000);
                ms.min(i32::MAX as u128) as i32
            }
        }
    }

    /// The timeout this deadline was made from, for messages.
    pub fn total_ms(&self) -> i64 {
        self.ms
    }
}

/// Waits until `fd` is ready for `events` (POLLIN/POLLOUT), or fails with
/// ETIMEDOUT at the deadline. Readiness includes error and hang-up states:
/// the caller's next call reports those.
pub fn wait_fd(fd: RawFd, events: libc::c_short, deadline: Deadline) -> Result<()> {
    let mut pfd = libc::pollfd {
        fd,
        events,
        revents: 0,
    };
    loop {
        let ms = deadline.remaining_ms();
        // SAFETY: one valid pollfd.
        let n = unsafe { libc::poll(&mut pfd, 1, ms) };
        if n > 0 {
            if pfd.revents & libc::POLLNVAL != 0 {
                return fail!(libc::EBADF, "fd {fd} is not open");
            }
            return Ok(());
        }
        if n == 0 {
            if ms == 0 || deadline.remaining_ms() == 0 {
                return fail!(
                    libc::ETIMEDOUT,
                    "timed out after {} ms",
                    deadline.total_ms()
                );
            }
            continue;
        }
        let code = errno::errno().0;
        if code != libc::EINTR {
            return fail!(code, "poll");
        }
        super::interrupt::check("")?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deadline_never_and_due() {
        assert_eq!(Deadline::never().remaining_ms(), -1);
        assert_eq!(Deadline::after_ms(0).remaining_ms(), 0);
        let d = Deadline::after_ms(5000);
        assert!(d.remaining_ms() > 4000 && d.remaining_ms() <= 5000);
    }

    #[test]
    fn wait_times_out_on_a_silent_pipe() {
        let mut fds = [0; 2];
        assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
        let start = Instant::now();
        let e = wait_fd(fds[0], libc::POLLIN, Deadline::after_ms(50)).unwrap_err();
        assert_eq!(e.code(), libc::ETIMEDOUT);
        assert!(start.elapsed() >= Duration::from_millis(50));
        unsafe {
            libc::close(fds[0]);
            libc::close(fds[1]);
        }
    }
}
