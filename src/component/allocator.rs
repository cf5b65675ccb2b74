//! The component's global allocator: an [`Arena`] for the instance's
//! memory up to [`ARENA_BYTES`], then the system allocator (wasi-libc's
//! `malloc`) for whatever does not fit.
//!
//! An instance serves one call and its memory is discarded with it, so
//! freeing is left to that: the arena reuses only the most recent piece
//! (a growing buffer grows where it is); an enrollment fits in it many
//! times over (BENCHMARKS.md, "Build profile choices"). A call with more to hold (a body near the 1 MiB cap, say) continues
//! in the system allocator, which frees and reuses as usual, so the cap
//! bounds what the arena adds to the instance's memory.

use crate::arena::Arena;
use std::alloc::{GlobalAlloc, Layout, System};
use std::ptr::NonNull;

/// The arena's size. It lies in the module's zero-initialised data, which
/// costs no file size and no memory until used; what one enrollment takes
/// of it is in BENCHMARKS.md, "Build profile choices".
const ARENA_BYTES: usize = 256 * 1024;

static ARENA: Arena<ARENA_BYTES> = Arena::new();

struct OneShot;

#[global_allocator]
static ALLOCATOR: OneShot = OneShot;

// Not inlined: the allocator is called from everywhere, and one copy of it
// keeps the component small.
//
// SAFETY: every piece comes from the arena (disjoint, aligned as the layout
// asks, `Arena::alloc`) or from `System`, and goes back to where it came
// from, told apart by its address.
unsafe impl GlobalAlloc for OneShot {
    #[inline(never)]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        match ARENA.alloc(layout) {
            Some(ptr) => ptr.as_ptr(),
            // SAFETY: the caller's layout has a non-zero size.
            None => unsafe { System.alloc(layout) },
        }
    }

    #[inline(never)]
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        match NonNull::new(ptr) {
            // SAFETY: the arena's, so a piece `alloc` (or `realloc`) took
            // from it for `layout`, which the caller gives back, once.
            // After a shrink that the arena refused, `layout.size()` is
            // less than the arena's size of the piece, which `free` allows.
            Some(piece) if ARENA.owns(ptr) => unsafe { ARENA.free(piece, layout.size()) },
            // SAFETY: not the arena's, so `System` allocated it with `layout`.
            _ => unsafe { System.dealloc(ptr, layout) },
        }
    }

    #[inline(never)]
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let Some(piece) = NonNull::new(ptr).filter(|_| ARENA.owns(ptr)) else {
            // SAFETY: not the arena's, so `System` allocated it with `layout`.
            return unsafe { System.realloc(ptr, layout, new_size) };
        };
        // The most recent piece grows or shrinks where it is; an older one
        // shrinks where it is too (its tail stays unused until the instance
        // goes).
        // SAFETY: as in `dealloc`: a live piece of the arena's, at least
        // `layout.size()` bytes long in the arena's view.
        if unsafe { ARENA.resize_in_place(piece, layout.size(), new_size) }
            || new_size <= layout.size()
        {
            return ptr;
        }
        // SAFETY: `GlobalAlloc::realloc`'s caller guarantees the new layout
        // is valid for this alignment.
        let new_layout = unsafe { Layout::from_size_align_unchecked(new_size, layout.align()) };
        // SAFETY: as for `alloc` above.
        let moved = unsafe { self.alloc(new_layout) };
        if !moved.is_null() {
            // SAFETY: both pieces are valid for the smaller size and do not
            // overlap (the new one is not the old one, which stays allocated
            // until freed below).
            unsafe { core::ptr::copy_nonoverlapping(ptr, moved, layout.size().min(new_size)) };
            // SAFETY: `ptr` is this allocator's, with `layout` (the
            // caller's guarantee), and nothing uses it after this.
            unsafe { self.dealloc(ptr, layout) };
        }
        moved
    }
}

/// The canonical ABI's allocator, which the host calls to place strings and
/// lists (answers' bodies, configuration values) in the instance's memory.
/// It takes them from the system allocator, never from the arena: wasi-libc
/// frees some of what the host places (the environment list, for one) with
/// its own `free`, so that memory must be `malloc`'s. Rust code that owns
/// such memory gives it back through [`OneShot`], which sends it to the
/// system allocator because it lies outside the arena. (This definition
/// replaces the standard library's, which uses the global allocator.)
///
/// # Safety
///
/// Called by the host as the component model's `realloc`: `old_ptr` and
/// `old_len` describe a piece this function returned (or are 0), `align` is
/// a power of two.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn cabi_realloc(
    old_ptr: *mut u8,
    old_len: usize,
    align: usize,
    new_len: usize,
) -> *mut u8 {
    if new_len == 0 {
        // A piece of no size: any aligned non-null address does.
        return align as *mut u8;
    }
    let piece = Layout::from_size_align(new_len, align).ok().map(|layout| {
        if old_len == 0 {
            // SAFETY: `layout` has a non-zero size.
            unsafe { System.alloc(layout) }
        } else {
            // SAFETY: `align` is a power of two (this function's contract)
            // and `old_len` the size of a piece allocated with it.
            let old = unsafe { Layout::from_size_align_unchecked(old_len, align) };
            // SAFETY: per this function's contract, `old_ptr` came from
            // here, so from `System`, with this alignment and `old_len`.
            unsafe { System.realloc(old_ptr, old, new_len) }
        }
    });
    match piece {
        Some(ptr) if !ptr.is_null() => ptr,
        // Out of memory, or a layout the host should never ask for.
        _ => core::arch::wasm32::unreachable(),
    }
}
