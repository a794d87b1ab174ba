//! A table slot that lends its value to concurrent calls without a lock:
//! the protocol the handle table (sockets) and the ring table share.
//!
//! A slot's state word holds the generation in bits 32.., then the flags
//! OPEN and EMPTY, one bit a table may use for itself (`SPARE`), and the
//! number of calls using the value:
//!
//! - EMPTY (no uses): free; a `claim` makes it the claimer's.
//! - OPEN: live; `enter` counts a new use in.
//! - neither, with uses: closed; the last use's `release` retires it
//!   (`Retire`), which empties the slot.
//! - neither and no uses: owned by one thread (a claim filling it, a retire
//!   emptying it); no other call touches it.
//!
//! Every change is one compare-and-swap of the state word, or a store by
//! the slot's owner. A use is one compare-and-swap in and one subtraction
//! out, and holds the value by reference meanwhile (`Use`), so nothing is
//! locked or reference-counted in the value itself. An id names a slot and
//! a generation; since a slot's generation changes with every fill, a
//! stale id never reaches the value that took its slot.

use std::cell::UnsafeCell;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU64, Ordering};

/// New uses may start (set by `fill`, cleared when the value is closed).
pub(crate) const OPEN: u64 = 1 << 31;
/// The slot holds no value: `claim` may take it.
pub(crate) const EMPTY: u64 = 1 << 30;
/// Free for the table's own use (the handle table: BUFFERING).
pub(crate) const SPARE: u64 = 1 << 29;
/// The use count's bits.
pub(crate) const USERS: u64 = SPARE - 1;
/// Generations run 1..=GEN_MAX (21 bits: an id below 2^53 survives a trip
/// through a double, as Dictu, Blade and JS numbers are).
pub(crate) const GEN_MAX: u64 = (1 << 21) - 1;

/// The generation a state word carries.
#[inline(always)]
pub(crate) fn generation_of(state: u64) -> u64 {
    state >> 32
}

/// What a table does when the last use of a closed value ends: take the
/// value out (`Slot::owned`), `empty` the slot, and release the value.
pub trait Retire: Sized + 'static {
    /// Called on a closed slot with no use left, which the caller owns.
    fn retire(slot: &'static Slot<Self>);
}

pub struct Slot<T> {
    pub(crate) state: AtomicU64,
    /// Written only by the thread that claimed the slot, and taken out
    /// only by the one that owns it closed with no use left; read by uses,
    /// which exist only while it is full.
    value: UnsafeCell<Option<T>>,
}

// SAFETY: `value` is only reached under the protocol above, which the
// atomic state word orders; uses on many threads share `&T`.
unsafe impl<T: Send + Sync> Sync for Slot<T> {}

impl<T: Retire> Slot<T> {
    /// An empty slot of generation 0 (its first fill issues 1).
    pub(crate) const fn new() -> Slot<T> {
        Slot {
            state: AtomicU64::new(EMPTY),
            value: UnsafeCell::new(None),
        }
    }

    /// Counts a use in if the state word satisfies `ok`, taking OPEN away
    /// in the same step if `close`. `ok` must hold only of a full slot
    /// (OPEN, or closed with uses), and holds across the compare-and-swap:
    /// the use starts on the very state `ok` approved. A slot with 2^29
    /// uses at once (more than a process has threads) counts no more: that
    /// use is refused like one `ok` refuses.
    #[inline(always)]
    pub(crate) fn enter(&'static self, ok: impl Fn(u64) -> bool, close: bool) -> Option<Use<T>> {
        let mut state = self.state.load(Ordering::Acquire);
        loop {
            if !ok(state) || state & USERS == USERS {
                return None;
            }
            let next = (state + 1) & if close { !OPEN } else { !0 };
            let success = if close {
                Ordering::AcqRel
            } else {
                Ordering::Acquire
            };
            match self
                .state
                .compare_exchange_weak(state, next, success, Ordering::Acquire)
            {
                Ok(_) => break,
                Err(now) => state = now,
            }
        }
        // SAFETY: `ok` approved a full slot, and our use is counted in.
        unsafe { self.counted() }
    }

    /// The use just counted into this slot.
    ///
    /// # Safety
    /// The caller counted a use into a full slot: nobody takes the value
    /// out until that use is released.
    #[inline(always)]
    pub(crate) unsafe fn counted(&'static self) -> Option<Use<T>> {
        // SAFETY: see above.
        match unsafe { (*self.value.get()).as_ref() } {
            Some(value) => Some(Use {
                slot: self,
                value: NonNull::from(value),
            }),
            None => {
                self.release();
                None
            }
        }
    }

    /// Ends one use; the last use of a closed value retires it.
    #[inline(always)]
    pub(crate) fn release(&'static self) {
        let before = self.state.fetch_sub(1, Ordering::AcqRel);
        if before & OPEN == 0 && before & USERS == 1 {
            T::retire(self);
        }
    }

    /// 2^29 uses at once: room for another soon. The state to try again
    /// with.
    #[cold]
    #[inline(never)]
    pub(crate) fn saturated(&self) -> u64 {
        std::thread::yield_now();
        self.state.load(Ordering::Acquire)
    }

    /// Takes an empty slot (EMPTY -> owned, no flags, no uses): the state
    /// it had, whose generation `fill` follows; or the state that showed
    /// it is not empty.
    #[inline(always)]
    pub(crate) fn claim(&self) -> Result<u64, u64> {
        let mut state = self.state.load(Ordering::Acquire);
        while state & EMPTY != 0 {
            match self.state.compare_exchange_weak(
                state,
                state & !EMPTY,
                Ordering::Acquire,
                Ordering::Acquire,
            ) {
                Ok(_) => return Ok(state),
                Err(now) => state = now,
            }
        }
        Err(state)
    }

    /// The value's place, for the thread that owns the slot.
    ///
    /// # Safety
    /// The caller owns the slot (claimed it, or retires it): no use and no
    /// other writer reaches the value until it fills or empties the slot.
    #[inline(always)]
    #[allow(clippy::mut_from_ref)]
    pub(crate) unsafe fn owned(&self) -> &mut Option<T> {
        // SAFETY: see above.
        unsafe { &mut *self.value.get() }
    }

    /// Whether `p` points into this slot's value (an address comparison).
    pub(crate) fn holds(&self, p: *const T) -> bool {
        let cell = self.value.get().cast::<u8>().cast_const();
        let at = p.cast::<u8>();
        at >= cell && at < cell.wrapping_add(size_of::<Option<T>>())
    }

    /// Opens a claimed slot that now holds its value, with `flags` (OPEN
    /// and the table's own): the next generation after the one `claimed`
    /// (the state `claim` returned), which it returns.
    #[inline(always)]
    pub(crate) fn fill(&self, claimed: u64, flags: u64) -> u64 {
        let generation = match generation_of(claimed) {
            g if g >= GEN_MAX => 1,
            g => g + 1,
        };
        self.state
            .store((generation << 32) | flags, Ordering::Release);
        generation
    }

    /// Frees a slot its owner has taken the value out of.
    #[inline(always)]
    pub(crate) fn empty(&self) {
        // The owner is the only writer until EMPTY is set (a use needs the
        // slot OPEN or with uses, a claim needs it EMPTY), so a store, not
        // a locked or, publishes it.
        let state = self.state.load(Ordering::Relaxed);
        self.state.store(state | EMPTY, Ordering::Release);
    }
}

/// A use of a slot's value: the value stays in place while this exists.
pub struct Use<T: Retire> {
    slot: &'static Slot<T>,
    value: NonNull<T>,
}

impl<T: Retire> std::ops::Deref for Use<T> {
    type Target = T;
    #[inline(always)]
    fn deref(&self) -> &T {
        // SAFETY: our use keeps the slot's value in place (see Slot).
        unsafe { self.value.as_ref() }
    }
}

impl<T: Retire> Drop for Use<T> {
    #[inline(always)]
    fn drop(&mut self) {
        self.slot.release();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    static RETIRED: AtomicUsize = AtomicUsize::new(0);

    struct Probe(u32);

    impl Retire for Probe {
        fn retire(slot: &'static Slot<Probe>) {
            // SAFETY: called on a closed slot with no use left.
            let value = unsafe { slot.owned() }.take();
            assert!(value.is_some(), "retired once, while full");
            slot.empty();
            RETIRED.fetch_add(1, Ordering::Relaxed);
        }
    }

    static SLOT: Slot<Probe> = Slot::new();

    #[test]
    fn a_value_lives_while_used_and_retires_with_its_last_use() {
        let open_as = |generation: u64| move |s: u64| s & !USERS == (generation << 32) | OPEN;
        assert!(SLOT.enter(open_as(1), false).is_none(), "empty: no value");
        let claimed = SLOT.claim().unwrap();
        assert_eq!(SLOT.claim(), Err(0), "owned: not claimable");
        // SAFETY: claimed above.
        unsafe { *SLOT.owned() = Some(Probe(7)) };
        let generation = SLOT.fill(claimed, OPEN);
        assert_eq!(generation, 1);
        let a = SLOT.enter(open_as(generation), false).unwrap();
        assert_eq!(a.0, 7);
        assert!(
            SLOT.enter(open_as(generation + 1), false).is_none(),
            "another generation"
        );
        // Closed with a use running: no new use, the value stays.
        let b = SLOT.enter(open_as(generation), true).unwrap();
        assert!(SLOT.enter(open_as(generation), false).is_none());
        drop(b);
        assert_eq!(RETIRED.load(Ordering::Relaxed), 0);
        assert_eq!(a.0, 7);
        drop(a);
        assert_eq!(
            RETIRED.load(Ordering::Relaxed),
            1,
            "the last use retired it"
        );
        // Empty again, and the next fill is the next generation.
        let claimed = SLOT.claim().unwrap();
        // SAFETY: claimed above.
        unsafe { *SLOT.owned() = Some(Probe(8)) };
        assert_eq!(SLOT.fill(claimed, OPEN), 2);
        assert!(SLOT.enter(open_as(1), false).is_none(), "a stale id");
        assert_eq!(SLOT.enter(open_as(2), true).unwrap().0, 8);
        assert_eq!(RETIRED.load(Ordering::Relaxed), 2);
    }

    #[test]
    fn generations_wrap_to_one_never_zero() {
        static WRAP: Slot<Probe> = Slot::new();
        WRAP.state.store((GEN_MAX << 32) | EMPTY, Ordering::Relaxed);
        let claimed = WRAP.claim().unwrap();
        // SAFETY: claimed above.
        unsafe { *WRAP.owned() = Some(Probe(0)) };
        assert_eq!(WRAP.fill(claimed, OPEN), 1);
    }
}
