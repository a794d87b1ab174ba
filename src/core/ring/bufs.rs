//! Provided buffers: a group of equal buffers that multishot receives
//! pick from, so a receive waiting on each of 10,000 sockets needs no
//! buffer of its own. The library owns the memory (one mapping per group);
//! a completion lends one buffer to the caller, who gives it back with
//! polysock_ring_buffer_return. On io_uring the group is a registered
//! buffer ring the kernel takes buffers from; the emulation keeps the free
//! buffers in a queue.

use crate::core::error::{Error, Result, fail};
use std::collections::VecDeque;

/// The most buffer groups a ring has (ids 0..POLYSOCK_RING_MAX_GROUPS-1).
pub const POLYSOCK_RING_MAX_GROUPS: usize = 256;
/// The most buffers in one group (io_uring's limit for a buffer ring).
pub const POLYSOCK_RING_MAX_BUFFERS: u32 = 32768;

/// Anonymous memory, page-aligned, unmapped on drop.
struct Mapping {
    ptr: *mut u8,
    len: usize,
}

impl Mapping {
    fn new(len: usize) -> Result<Mapping> {
        // SAFETY: a fresh private anonymous mapping; the result is checked.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if p == libc::MAP_FAILED {
            return Err(Error::last_os(format_args!(
                "ring_buffers: mapping {len} bytes"
            )));
        }
        Ok(Mapping { ptr: p.cast(), len })
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: our own mapping, unmapped once.
        unsafe { libc::munmap(self.ptr.cast(), self.len) };
    }
}

/// One entry of a kernel buffer ring (struct io_uring_buf). The ring's
/// tail is the last field of entry 0 (the kernel overlays it).
#[repr(C)]
struct RingEntry {
    addr: u64,
    len: u32,
    bid: u16,
    resv: u16,
}

pub(crate) struct Group {
    pub count: u32,
    pub size: u32,
    mem: Mapping,
    /// The kernel buffer ring (io_uring only).
    ring: Option<Mapping>,
    tail: u16,
    /// Which buffers the caller holds (lent by a completion).
    lent: Box<[u64]>,
    /// The emulation's free buffers.
    free: VecDeque<u16>,
}

// SAFETY: the mappings are owned by the group; the ring's lock serialises
// access.
unsafe impl Send for Group {}

impl Group {
    /// `count` buffers (a power of two) of `size` bytes; `kernel_ring` makes
    /// the buffer ring io_uring registers.
    pub(crate) fn new(count: u32, size: u32, kernel_ring: bool) -> Result<Group> {
        let op = "ring_buffers";
        if count == 0 || !count.is_power_of_two() || count > POLYSOCK_RING_MAX_BUFFERS {
            return fail!(
                libc::EINVAL,
                "{op}: count {count} is not a power of two from 1 to {POLYSOCK_RING_MAX_BUFFERS}"
            );
        }
        if size == 0 || size > 1 << 30 {
            return fail!(libc::EINVAL, "{op}: size {size} is not between 1 and 1 GiB");
        }
        let Some(total) = (count as usize).checked_mul(size as usize) else {
            return fail!(
                libc::EINVAL,
                "{op}: {count} buffers of {size} bytes are too many"
            );
        };
        let mem = Mapping::new(total)?;
        let ring = if kernel_ring {
            Some(Mapping::new(count as usize * size_of::<RingEntry>())?)
        } else {
            None
        };
        let mut g = Group {
            count,
            size,
            mem,
            ring,
            tail: 0,
            lent: vec![0; count.div_ceil(64) as usize].into_boxed_slice(),
            free: VecDeque::with_capacity(count as usize),
        };
        for bid in 0..count {
            g.offer(bid as u16);
        }
        Ok(g)
    }

    /// The address of the kernel ring, to register.
    pub(crate) fn ring_addr(&self) -> Option<u64> {
        self.ring.as_ref().map(|m| m.ptr as u64)
    }

    /// The start of buffer `bid`.
    pub(crate) fn ptr(&self, bid: u16) -> *mut u8 {
        // SAFETY: bid < count (checked by every caller), so the offset
        // stays inside the mapping.
        unsafe { self.mem.ptr.add(bid as usize * self.size as usize) }
    }

    fn bit(&self, bid: u16) -> (usize, u64) {
        (bid as usize / 64, 1 << (bid % 64))
    }

    /// Marks `bid` as the caller's (a completion hands it over).
    pub(crate) fn lend(&mut self, bid: u16) {
        let (w, b) = self.bit(bid);
        self.lent[w] |= b;
    }

    /// Makes `bid` available again: to the kernel ring, or the free queue.
    fn offer(&mut self, bid: u16) {
        match &self.ring {
            Some(ring) => {
                let base = ring.ptr.cast::<RingEntry>();
                let mask = self.count - 1;
                // SAFETY: the index is masked into the ring's `count`
                // entries; writing addr/len/bid never touches entry 0's
                // tail (its `resv`).
                unsafe {
                    let e = base.add((u32::from(self.tail) & mask) as usize);
                    (*e).addr = self.ptr(bid) as u64;
                    (*e).len = self.size;
                    (*e).bid = bid;
                }
                self.tail = self.tail.wrapping_add(1);
                // SAFETY: the tail field is 2-aligned inside the mapping
                // and only ever accessed atomically by us and the kernel.
                let tail = unsafe {
                    std::sync::atomic::AtomicU16::from_ptr(std::ptr::addr_of_mut!((*base).resv))
                };
                tail.store(self.tail, std::sync::atomic::Ordering::Release);
            }
            None => self.free.push_back(bid),
        }
    }

    /// The caller gives `bid` back.
    pub(crate) fn give_back(&mut self, group: u16, bid: u16) -> Result<()> {
        if u32::from(bid) >= self.count {
            return fail!(
                libc::EINVAL,
                "ring_buffer_return: group {group} has {} buffers, there is no buffer {bid}",
                self.count
            );
        }
        let (w, b) = self.bit(bid);
        if self.lent[w] & b == 0 {
            return fail!(
                libc::EINVAL,
                "ring_buffer_return: buffer {bid} of group {group} is not lent out (returned twice?)"
            );
        }
        self.lent[w] &= !b;
        self.offer(bid);
        Ok(())
    }

    /// A buffer taken back at once (a completion that was dropped, such as
    /// one of a closed socket).
    pub(crate) fn recycle(&mut self, bid: u16) {
        if u32::from(bid) < self.count {
            self.offer(bid);
        }
    }

    /// The emulation: a free buffer, if any.
    pub(crate) fn take(&mut self) -> Option<u16> {
        self.free.pop_front()
    }

    /// The emulation: put back a buffer taken but not used.
    pub(crate) fn untake(&mut self, bid: u16) {
        self.free.push_front(bid);
    }
}

/// The groups of a ring, by id.
#[derive(Default)]
pub(crate) struct Groups(Vec<Option<Group>>);

impl Groups {
    pub(crate) fn get(&mut self, id: u16) -> Option<&mut Group> {
        self.0.get_mut(id as usize)?.as_mut()
    }

    pub(crate) fn check_new(&self, id: u16) -> Result<()> {
        if id as usize >= POLYSOCK_RING_MAX_GROUPS {
            return fail!(
                libc::EINVAL,
                "ring_buffers: group {id} is not below POLYSOCK_RING_MAX_GROUPS ({POLYSOCK_RING_MAX_GROUPS})"
            );
        }
        if self.0.get(id as usize).is_some_and(Option::is_some) {
            return fail!(libc::EEXIST, "ring_buffers: group {id} exists already");
        }
        Ok(())
    }

    pub(crate) fn insert(&mut self, id: u16, g: Group) {
        let i = id as usize;
        if self.0.len() <= i {
            self.0.resize_with(i + 1, || None);
        }
        self.0[i] = Some(g);
    }

    /// Takes every group out (a destroy that must keep the memory the
    /// kernel may still write).
    pub(crate) fn take_all(&mut self) -> Vec<Option<Group>> {
        std::mem::take(&mut self.0)
    }
}
