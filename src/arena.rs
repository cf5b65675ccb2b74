//! A bump arena for memory that lives no longer than one instance.
//!
//! The component runs in a fresh instance for every call and its whole
//! linear memory is discarded afterwards, so most of what a general
//! allocator does (free lists, coalescing, bins) is work for nothing. An
//! [`Arena`] hands out consecutive pieces of a fixed region: allocating
//! moves a top mark, freeing or resizing the most recent piece moves it back
//! or forth, and anything else freed stays where it is until the instance
//! goes. The region is capped, so a large or unusual call cannot make the
//! instance hold more than that; what does not fit is for the caller to
//! allocate elsewhere ([`Arena::alloc`] says so with `None`).
//!
//! Taking a piece is safe; giving one back ([`Arena::free`]) or resizing it
//! ([`Arena::resize_in_place`]) is `unsafe`, because the arena trusts the
//! caller's pointer and size: a wrong one moves the top mark back over
//! memory that is still in use, and the next piece would overlap it.
//!
//! The top mark is an atomic updated by compare-and-swap, so an arena is
//! `Sync` and may be shared between threads, as the component's `static`
//! allocator must be. The component itself is single-threaded
//! (`wasm32-wasip2` has no threads, and without the `atomics` target
//! feature an atomic operation is a plain load or store), so the orderings
//! cost it nothing; they are what makes the arena sound where threads do
//! exist, as in its tests: a piece is taken with `Acquire` and given back
//! with `Release`, so whatever its last owner did with the memory happens
//! before the next owner touches it.
//!
//! The module is the component allocator's (`src/component/allocator.rs`)
//! and not part of the crate's API.

use core::alloc::Layout;
use core::cell::UnsafeCell;
use core::mem::MaybeUninit;
use core::ptr::NonNull;
use core::sync::atomic::{AtomicUsize, Ordering};

/// A region of `N` bytes handed out from the bottom up.
#[repr(C, align(16))]
pub(crate) struct Arena<const N: usize> {
    bytes: UnsafeCell<[MaybeUninit<u8>; N]>,
    /// Offset of the first free byte.
    top: AtomicUsize,
}

#[allow(
    unsafe_code,
    reason = "the region is shared through the arena's own bookkeeping"
)]
// SAFETY: the bytes are reached only through the pointers `alloc` hands
// out, each to a range that no other live piece overlaps as long as the
// callers of `free` and `resize_in_place` keep their contracts. The top
// mark that decides those ranges changes only by compare-and-swap:
// taking a range is an `Acquire` and giving one back a `Release`, so a
// thread's accesses to a piece it gave back happen before those of the
// thread that takes the range next.
unsafe impl<const N: usize> Sync for Arena<N> {}

impl<const N: usize> Default for Arena<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> Arena<N> {
    /// An empty arena.
    pub(crate) const fn new() -> Self {
        Self {
            bytes: UnsafeCell::new([MaybeUninit::uninit(); N]),
            top: AtomicUsize::new(0),
        }
    }

    fn base(&self) -> usize {
        self.bytes.get() as usize
    }

    /// True when `ptr` points into this arena's region.
    pub(crate) fn owns(&self, ptr: *const u8) -> bool {
        let at = ptr as usize;
        at >= self.base() && at - self.base() < N
    }

    /// Bytes in use, up to the top mark (freed pieces below it included).
    /// A snapshot: another thread may move the mark at once.
    #[cfg(test)]
    pub(crate) fn used(&self) -> usize {
        self.top.load(Ordering::Relaxed)
    }

    /// A piece for `layout`, or `None` when the rest of the region is too
    /// small for it. The piece is the caller's until it gives it back with
    /// [`Self::free`] or the arena goes.
    #[allow(unsafe_code, reason = "a pointer into the region, by offset")]
    pub(crate) fn alloc(&self, layout: Layout) -> Option<NonNull<u8>> {
        let base = self.base();
        // Only a first guess: the compare-and-swap below checks it.
        let mut top = self.top.load(Ordering::Relaxed);
        loop {
            // Offsets are aligned as addresses: the base itself may be less
            // aligned than `layout` asks.
            let start = (base + top).checked_next_multiple_of(layout.align())? - base;
            let end = start.checked_add(layout.size())?;
            if end > N {
                return None;
            }
            // Acquire: the range may be one that another thread gave back
            // (with Release) and wrote to before that.
            match self
                .top
                .compare_exchange_weak(top, end, Ordering::Acquire, Ordering::Relaxed)
            {
                // SAFETY: `start < end <= N`, so the pointer is inside the
                // region and not null.
                Ok(_) => return NonNull::new(unsafe { self.bytes.get().cast::<u8>().add(start) }),
                Err(now) => top = now,
            }
        }
    }

    /// Gives back the piece of `size` bytes at `ptr`: when it is the most
    /// recent one the top mark moves back over it, otherwise it stays
    /// allocated until the arena goes.
    ///
    /// # Safety
    ///
    /// `ptr` is a piece that [`Self::alloc`] of this arena returned and
    /// that has not been given back; `size` is at most its size (the
    /// layout's, or the one a successful [`Self::resize_in_place`] set).
    /// The caller does not use the piece afterwards. A piece given back
    /// twice, or a size larger than the piece's, could move the mark back
    /// over pieces still in use.
    #[allow(unsafe_code, reason = "the contract above")]
    pub(crate) unsafe fn free(&self, ptr: NonNull<u8>, size: usize) {
        let start = ptr.as_ptr() as usize - self.base();
        // Release: the memory goes to whoever takes the range next.
        let _ =
            self.top
                .compare_exchange(start + size, start, Ordering::Release, Ordering::Relaxed);
    }

    /// Resizes the piece of `size` bytes at `ptr` to `new_size` where it is,
    /// which works for the most recent piece while the region has room;
    /// `false` (and nothing changed) when it cannot.
    ///
    /// # Safety
    ///
    /// As for [`Self::free`]: `ptr` is a live piece from [`Self::alloc`] of
    /// this arena and `size` at most its size. On `true` the piece is
    /// `new_size` bytes long; a shrunk piece's tail is no longer the
    /// caller's.
    #[allow(unsafe_code, reason = "the contract above")]
    pub(crate) unsafe fn resize_in_place(
        &self,
        ptr: NonNull<u8>,
        size: usize,
        new_size: usize,
    ) -> bool {
        let start = ptr.as_ptr() as usize - self.base();
        match start.checked_add(new_size) {
            // AcqRel: growing takes a range (which may have been given back
            // by another thread), shrinking gives one back.
            Some(end) if end <= N => self
                .top
                .compare_exchange(start + size, end, Ordering::AcqRel, Ordering::Relaxed)
                .is_ok(),
            _ => false,
        }
    }
}

#[cfg(test)]
#[allow(unsafe_code, reason = "the tests use the pieces and give them back")]
mod tests {
    use super::*;

    fn layout(size: usize, align: usize) -> Layout {
        Layout::from_size_align(size, align).unwrap()
    }

    fn offset<const N: usize>(arena: &Arena<N>, ptr: NonNull<u8>) -> usize {
        ptr.as_ptr() as usize - arena.base()
    }

    #[test]
    fn pieces_follow_each_other_aligned_and_apart() {
        let arena = Arena::<256>::new();
        let a = arena.alloc(layout(3, 1)).unwrap();
        let b = arena.alloc(layout(8, 8)).unwrap();
        let c = arena.alloc(layout(1, 1)).unwrap();
        assert_eq!(offset(&arena, a), 0);
        assert_eq!(b.as_ptr() as usize % 8, 0);
        assert_eq!(offset(&arena, b), 8);
        assert_eq!(offset(&arena, c), 16);
        assert_eq!(arena.used(), 17);
        // The pieces are usable memory of their own.
        // SAFETY: `a` is a piece of 3 bytes of its own in a live arena.
        unsafe { a.as_ptr().write_bytes(0xaa, 3) };
        // SAFETY: `b` is a piece of 8 bytes of its own in a live arena.
        unsafe { b.as_ptr().write_bytes(0xbb, 8) };
        // SAFETY: `c` is a piece of 1 byte of its own in a live arena.
        unsafe { c.as_ptr().write(0xcc) };
        // SAFETY: the 3 bytes of `a` were written above.
        let a_bytes = unsafe { core::slice::from_raw_parts(a.as_ptr(), 3) };
        assert_eq!(a_bytes, [0xaa; 3]);
        // SAFETY: the 8 bytes of `b` were written above.
        let b_bytes = unsafe { core::slice::from_raw_parts(b.as_ptr(), 8) };
        assert_eq!(b_bytes, [0xbb; 8]);
        assert!(arena.owns(a.as_ptr()) && arena.owns(c.as_ptr()));
        assert!(!arena.owns(core::ptr::null()));
        let outside = 0u8;
        assert!(!arena.owns(core::ptr::from_ref(&outside)));
    }

    #[test]
    fn the_region_is_a_cap_and_says_so() {
        let arena = Arena::<64>::new();
        assert!(arena.alloc(layout(65, 1)).is_none());
        assert!(arena.alloc(layout(usize::MAX / 2, 1)).is_none());
        assert!(arena.alloc(layout(60, 1)).is_some());
        assert!(arena.alloc(layout(8, 1)).is_none());
        assert!(arena.alloc(layout(4, 1)).is_some());
        assert_eq!(arena.used(), 64);
    }

    #[test]
    fn only_the_most_recent_piece_is_taken_back() {
        let arena = Arena::<128>::new();
        let a = arena.alloc(layout(16, 1)).unwrap();
        let b = arena.alloc(layout(16, 1)).unwrap();
        // SAFETY: `a` is a live piece of 16 bytes, not used again.
        unsafe { arena.free(a, 16) };
        assert_eq!(
            arena.used(),
            32,
            "an older piece stays until the arena goes"
        );
        // SAFETY: `b` is a live piece of 16 bytes, not used again.
        unsafe { arena.free(b, 16) };
        assert_eq!(arena.used(), 16);
        let again = arena.alloc(layout(16, 1)).unwrap();
        assert_eq!(again, b, "the space of the piece taken back is used again");
    }

    #[test]
    fn a_size_short_of_the_piece_never_moves_the_mark() {
        // What the allocator does with a piece that shrank where it was
        // without the arena's knowing (it was not the most recent).
        let arena = Arena::<128>::new();
        let a = arena.alloc(layout(16, 1)).unwrap();
        // SAFETY: `a` is a live piece of 16 bytes; 8 is at most that.
        assert!(!unsafe { arena.resize_in_place(a, 8, 32) });
        // SAFETY: as above; `a` is not used again.
        unsafe { arena.free(a, 8) };
        assert_eq!(arena.used(), 16, "the piece stays, never half of it");
    }

    #[test]
    fn the_most_recent_piece_resizes_where_it_is() {
        let arena = Arena::<128>::new();
        let a = arena.alloc(layout(16, 1)).unwrap();
        let b = arena.alloc(layout(16, 1)).unwrap();
        // SAFETY: `b` is a live piece of 16 bytes.
        assert!(unsafe { arena.resize_in_place(b, 16, 100) });
        assert_eq!(arena.used(), 116);
        // SAFETY: `b` is 100 bytes now.
        assert!(unsafe { arena.resize_in_place(b, 100, 8) });
        assert_eq!(arena.used(), 24);
        // SAFETY: `a` is 16 bytes.
        let older = unsafe { arena.resize_in_place(a, 16, 20) };
        assert!(!older, "not the most recent");
        // SAFETY: `b` is 8 bytes.
        let beyond = unsafe { arena.resize_in_place(b, 8, 200) };
        assert!(!beyond, "beyond the region");
        // SAFETY: `b` is 8 bytes.
        assert!(!unsafe { arena.resize_in_place(b, 8, usize::MAX) });
        assert_eq!(arena.used(), 24);
    }

    #[test]
    fn threads_never_get_overlapping_pieces() {
        let arena = Arena::<{ 64 * 1024 }>::new();
        let pieces: Vec<Vec<usize>> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..4)
                .map(|_| {
                    s.spawn(|| {
                        (0..500)
                            .filter_map(|_| arena.alloc(layout(24, 8)))
                            .map(|p| offset(&arena, p))
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let mut starts: Vec<usize> = pieces.into_iter().flatten().collect();
        starts.sort_unstable();
        assert_eq!(starts.len(), 2000);
        assert!(starts.windows(2).all(|w| w[1] - w[0] >= 24));
    }

    #[test]
    fn pieces_handed_between_threads_keep_what_their_owner_wrote() {
        // Each thread takes a piece, fills it with its own byte, checks
        // it, and gives it back, so that the most recent piece goes from
        // thread to thread: a piece that two threads held at once would
        // show the other's byte. (Room for every piece, should no piece
        // ever be the most recent when it is given back.)
        static ARENA: Arena<{ 4 * 2000 * 64 }> = Arena::new();
        let arena = &ARENA;
        std::thread::scope(|s| {
            for mark in 1..=4u8 {
                s.spawn(move || {
                    for _ in 0..2000 {
                        let piece = arena.alloc(layout(64, 8)).unwrap();
                        // SAFETY: the piece is this thread's, 64 bytes.
                        unsafe { piece.as_ptr().write_bytes(mark, 64) };
                        std::thread::yield_now();
                        // SAFETY: as above, written just now.
                        let seen = unsafe { core::slice::from_raw_parts(piece.as_ptr(), 64) };
                        assert!(seen.iter().all(|b| *b == mark), "{seen:?}");
                        // SAFETY: the piece is live, 64 bytes, not used again.
                        unsafe { arena.free(piece, 64) };
                    }
                });
            }
        });
        assert!(arena.used() < 4 * 2000 * 64, "some pieces were reused");
    }
}
