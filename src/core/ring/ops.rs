//! The ring's bookkeeping, the same for both backends: one slot per
//! operation in flight, made once when the ring is created (the kernel
//! points into the slots, so they never move), and one entry per socket fd
//! that has operations, with the list of them (closing a socket visits
//! its own operations only, not every slot).
//!
//! An operation's slot holds a use of its socket (`SocketRef`) from
//! submission until its last completion is reaped: the fd cannot be closed,
//! and so its number cannot be reused, while the kernel or the emulation
//! may still act on it.

use crate::core::addr::Addr;
use crate::core::handles::SocketRef;
use crate::core::prefetch;
use crate::core::socket::CLOSED;
use socket2::SockAddr;
use std::os::fd::RawFd;

/// No slot: the end of a list.
pub(crate) const NIL: u32 = u32::MAX;

/// Where a message operation writes its outcome: the caller's
/// polysock_mmsg fields (it keeps them valid until the completion).
#[derive(Clone, Copy)]
pub struct MsgOut {
    pub len: *mut usize,
    pub flags: *mut i32,
    /// recvmsg: the sender.
    pub addr: *mut Addr,
}

/// The sendfile state: the file's bytes go through a pipe by splice (io_uring)
/// or straight by sendfile(2) (emulation).
pub(crate) struct Sendfile {
    pub file: RawFd,
    pub offset: i64,
    pub left: usize,
    pub sent: usize,
    /// The pipe (io_uring only; -1 until made), read end first.
    pub pipe: [RawFd; 2],
    /// Bytes in the pipe, not yet sent.
    pub in_pipe: usize,
    /// io_uring: the request in flight (0: file to pipe, 1: pipe to socket,
    /// 2: waiting for the socket to be writable).
    pub stage: u8,
}

pub(crate) enum Kind {
    Free,
    Accept {
        multishot: bool,
    },
    Connect {
        addr: SockAddr,
        started: bool,
    },
    Send {
        buf: *const u8,
        len: usize,
        flags: i32,
        done: usize,
    },
    Recv {
        buf: *mut u8,
        len: usize,
        flags: i32,
    },
    RecvMulti {
        group: u16,
        flags: i32,
    },
    SendMsg {
        hdr: libc::msghdr,
        addr: Option<SockAddr>,
        out: MsgOut,
        flags: i32,
    },
    RecvMsg {
        hdr: libc::msghdr,
        name: libc::sockaddr_storage,
        out: MsgOut,
        flags: i32,
    },
    Sendfile(Sendfile),
    /// A close: completes when the fd's other operations have ended.
    Close,
    Timeout {
        ts: Timespec,
        deadline: std::time::Instant,
    },
    /// A cancel: its result (how many were cancelled) is known at once.
    Cancel,
}

/// The kernel's struct __kernel_timespec (a timeout's length).
#[repr(C)]
#[derive(Clone, Copy, Default)]
pub(crate) struct Timespec {
    pub sec: i64,
    pub nsec: i64,
}

impl Kind {
    /// Waits for the socket to be readable (the emulation's lists).
    pub(crate) fn reads(&self) -> bool {
        matches!(
            self,
            Kind::Accept { .. } | Kind::Recv { .. } | Kind::RecvMulti { .. } | Kind::RecvMsg { .. }
        )
    }
}

/// Laid out so that what a completion reads and a submission writes (the
/// fields before `kind`, `kind`'s tag and a small operation's fields) share
/// the slot's first cache line: one line to ask for ahead (`prefetch`).
#[repr(C, align(64))]
pub(crate) struct Op {
    pub generation: u32,
    pub fd: RawFd,
    pub user: u64,
    pub sock: Option<SocketRef>,
    /// The free list, or the emulation's wait list of the fd.
    pub next: u32,
    /// The fd's list of operations in flight (FdEntry::ops), both ways.
    pub fd_prev: u32,
    pub fd_next: u32,
    /// A cancel was asked (io_uring: sent to the kernel).
    pub cancelled: bool,
    /// Ended, its completion waiting in the `done` queue.
    pub ended: bool,
    pub kind: Kind,
    /// A completion decided outside the kernel (the `done` queue's entries).
    pub result: i64,
}

// `kind`'s tag and a receive's fields (16 bytes) in the first line.
const _: () = assert!(std::mem::offset_of!(Op, kind) + 16 <= 64);

impl Op {
    /// The operation's socket was closed (polysock_close or a ring close):
    /// its completions report ECANCELED.
    pub(crate) fn closed(&self) -> bool {
        self.sock.as_ref().is_some_and(|s| s.state() & CLOSED != 0)
    }
}

pub(crate) struct Ops {
    slots: Box<[Op]>,
    free: u32,
    live: usize,
}

// SAFETY: the raw pointers in Kind point at the caller's buffers, which the
// caller keeps valid for the operation (documented); the ring's lock
// serialises every access to them.
unsafe impl Send for Ops {}

impl Ops {
    pub(crate) fn new(n: usize) -> Ops {
        let slots: Box<[Op]> = (0..n)
            .map(|i| Op {
                generation: 0,
                user: 0,
                sock: None,
                fd: -1,
                kind: Kind::Free,
                next: if i + 1 < n { (i + 1) as u32 } else { NIL },
                fd_prev: NIL,
                fd_next: NIL,
                result: 0,
                cancelled: false,
                ended: false,
            })
            .collect();
        Ops {
            slots,
            free: if n > 0 { 0 } else { NIL },
            live: 0,
        }
    }

    pub(crate) fn capacity(&self) -> usize {
        self.slots.len()
    }

    /// A free slot, set up for `user`; None when all are in use.
    pub(crate) fn alloc(&mut self, user: u64, kind: Kind) -> Option<u32> {
        let i = self.free;
        if i == NIL {
            return None;
        }
        let op = &mut self.slots[i as usize];
        self.free = op.next;
        op.next = NIL;
        op.generation = op.generation.wrapping_add(1);
        op.user = user;
        op.kind = kind;
        op.result = 0;
        op.cancelled = false;
        op.ended = false;
        op.fd = -1;
        self.live += 1;
        Some(i)
    }

    /// Ends an operation: drops its use of the socket and returns the slot.
    pub(crate) fn release(&mut self, i: u32) {
        let free = self.free;
        let op = &mut self.slots[i as usize];
        op.kind = Kind::Free;
        op.sock = None;
        op.fd = -1;
        op.next = free;
        self.free = i;
        self.live -= 1;
    }

    pub(crate) fn get(&self, i: u32) -> &Op {
        &self.slots[i as usize]
    }

    pub(crate) fn get_mut(&mut self, i: u32) -> &mut Op {
        &mut self.slots[i as usize]
    }

    /// The io_uring user_data of slot `i`: its generation and index, so a
    /// late cancel can never reach the slot's next operation.
    pub(crate) fn token(&self, i: u32) -> u64 {
        (u64::from(self.slots[i as usize].generation) << 32) | u64::from(i)
    }

    /// Asks the CPU for the slot a token names, where a completion reads
    /// it (a hint: nothing changes if the token is stale).
    #[inline]
    pub(crate) fn prefetch(&self, token: u64) {
        if let Some(op) = self.slots.get((token & 0xffff_ffff) as usize) {
            prefetch(op);
        }
    }

    /// Asks for the socket state of a slot asked for already (`closed`).
    #[inline]
    pub(crate) fn prefetch_socket(&self, token: u64) {
        if let Some(Some(s)) = self
            .slots
            .get((token & 0xffff_ffff) as usize)
            .map(|o| &o.sock)
        {
            s.prefetch_state();
        }
    }

    /// The live slot a token names.
    pub(crate) fn from_token(&self, token: u64) -> Option<u32> {
        let i = (token & 0xffff_ffff) as u32;
        let op = self.slots.get(i as usize)?;
        (op.generation == (token >> 32) as u32 && !matches!(op.kind, Kind::Free)).then_some(i)
    }
}

/// A list of slots linked through `Op::next`.
#[derive(Clone, Copy)]
pub(crate) struct List {
    pub head: u32,
    pub tail: u32,
}

impl List {
    pub(crate) const EMPTY: List = List {
        head: NIL,
        tail: NIL,
    };

    pub(crate) fn is_empty(&self) -> bool {
        self.head == NIL
    }

    pub(crate) fn push(&mut self, ops: &mut Ops, i: u32) {
        ops.get_mut(i).next = NIL;
        if self.tail == NIL {
            self.head = i;
        } else {
            ops.get_mut(self.tail).next = i;
        }
        self.tail = i;
    }

    pub(crate) fn pop(&mut self, ops: &mut Ops) -> Option<u32> {
        let i = self.head;
        if i == NIL {
            return None;
        }
        self.head = ops.get(i).next;
        if self.head == NIL {
            self.tail = NIL;
        }
        ops.get_mut(i).next = NIL;
        Some(i)
    }

    /// Takes `i` out of the list (a cancel); false if it is not there.
    pub(crate) fn remove(&mut self, ops: &mut Ops, i: u32) -> bool {
        let (mut prev, mut cur) = (NIL, self.head);
        while cur != NIL {
            let next = ops.get(cur).next;
            if cur == i {
                if prev == NIL {
                    self.head = next;
                } else {
                    ops.get_mut(prev).next = next;
                }
                if self.tail == i {
                    self.tail = prev;
                }
                ops.get_mut(i).next = NIL;
                return true;
            }
            prev = cur;
            cur = next;
        }
        false
    }
}

/// What the ring knows of one socket fd.
pub(crate) struct FdEntry {
    /// The socket (Socket::id) this entry is about.
    pub sock_id: usize,
    /// Its operations not yet ended: the head of their list (linked
    /// through Op::fd_next), NIL when there are none.
    pub ops: u32,
    /// A ring close waiting for them to end.
    pub close_op: u32,
    // The emulation: operations waiting for readiness, and what it knows.
    pub readers: List,
    pub writers: List,
    pub registered: bool,
    pub readable: bool,
    pub writable: bool,
    /// On the ready list.
    pub queued: bool,
}

impl FdEntry {
    /// Operations of this socket are in flight.
    pub(crate) fn busy(&self) -> bool {
        self.ops != NIL
    }

    /// Counts operation `i` as one of this fd's (at the head of the list).
    pub(crate) fn attach(&mut self, ops: &mut Ops, i: u32) {
        let head = self.ops;
        if head != NIL {
            ops.get_mut(head).fd_prev = i;
        }
        let o = ops.get_mut(i);
        o.fd_prev = NIL;
        o.fd_next = head;
        self.ops = i;
    }

    /// Takes operation `i` out of this fd's list.
    pub(crate) fn detach(&mut self, ops: &mut Ops, i: u32) {
        let o = ops.get_mut(i);
        let (prev, next) = (o.fd_prev, o.fd_next);
        o.fd_prev = NIL;
        o.fd_next = NIL;
        if prev == NIL {
            self.ops = next;
        } else {
            ops.get_mut(prev).fd_next = next;
        }
        if next != NIL {
            ops.get_mut(next).fd_prev = prev;
        }
    }

    fn new(sock_id: usize) -> FdEntry {
        FdEntry {
            sock_id,
            ops: NIL,
            close_op: NIL,
            readers: List::EMPTY,
            writers: List::EMPTY,
            registered: false,
            readable: true,
            writable: true,
            queued: false,
        }
    }
}

#[derive(Default)]
pub(crate) struct Fds(Vec<Option<FdEntry>>);

impl Fds {
    /// The entry for socket `sock_id` at `fd`, made (or remade, when the
    /// number now belongs to another socket) as needed. None if another
    /// socket's operations still hold it (its fd was closed behind
    /// polysock's back).
    pub(crate) fn entry(&mut self, fd: RawFd, sock_id: usize) -> Option<&mut FdEntry> {
        let i = fd as usize;
        if self.0.len() <= i {
            self.0.resize_with((i + 1).next_power_of_two(), || None);
        }
        let slot = &mut self.0[i];
        match slot {
            Some(e) if e.sock_id == sock_id => {}
            Some(e) if e.busy() => return None,
            _ => *slot = Some(FdEntry::new(sock_id)),
        }
        slot.as_mut()
    }

    /// The entry at `fd`, if it is about socket `sock_id`.
    pub(crate) fn find(&mut self, fd: RawFd, sock_id: usize) -> Option<&mut FdEntry> {
        self.0
            .get_mut(fd as usize)?
            .as_mut()
            .filter(|e| e.sock_id == sock_id)
    }

    /// The entry at `fd` whoever it is about (an operation's own fd: its
    /// use of the socket keeps the entry its own).
    pub(crate) fn at(&mut self, fd: RawFd) -> Option<&mut FdEntry> {
        self.0.get_mut(fd as usize)?.as_mut()
    }
}
