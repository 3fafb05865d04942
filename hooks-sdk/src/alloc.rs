//! The hook's memory allocator (feature `bump-alloc`, on by default).
//!
//! A hook lives for one login: Sigil instantiates it fresh, calls it once and throws the whole
//! instance away. Freeing memory buys nothing, so the ideal allocator only bumps a pointer.
//!
//! It also avoids the most expensive thing a small hook does. Rust's default wasm allocator
//! starts by growing linear memory (`memory.grow`) on the first allocation of every instance,
//! and each growth makes the host change page protections twice: once to grow, once to shrink
//! the slot back for the next login. Measured in Sigil's `cargo bench --bench hooks`, that was
//! about a third of a small hook's cost. This allocator first hands out a zero-initialised
//! arena that is part of the module's own static data, so it lies inside the initial memory;
//! it grows memory only when the arena runs out, and then in steps of at least 256 KiB.
//!
//! Freeing the most recent allocation gives its bytes back, and growing the most recent
//! allocation happens in place, which covers the common `String`/`Vec` building patterns.
//!
//! A hook that needs its own global allocator turns this one off with
//! `default-features = false`.

// Only wasm32 installs it; native builds compile it for its unit tests.
#![cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]

use core::alloc::{GlobalAlloc, Layout};
use core::cell::UnsafeCell;

/// Bytes in the static arena.
const ARENA_BYTES: usize = 256 * 1024;
const PAGE: usize = 64 * 1024;
/// Smallest growth once the arena is used up, in wasm pages.
const MIN_GROW_PAGES: usize = 4;

#[repr(C, align(16))]
struct Arena([u8; ARENA_BYTES]);

/// The allocator: a bump pointer over the arena, then over grown memory.
pub struct BumpAlloc {
    arena: UnsafeCell<Arena>,
    /// Next free address and end of the current region (0, 0 before the first allocation).
    cursor: UnsafeCell<(usize, usize)>,
}

// SAFETY: hooks run on wasm32 without threads; there is never a second thread to race with.
unsafe impl Sync for BumpAlloc {}

impl BumpAlloc {
    /// An allocator with an empty arena.
    pub const fn new() -> Self {
        BumpAlloc {
            arena: UnsafeCell::new(Arena([0; ARENA_BYTES])),
            cursor: UnsafeCell::new((0, 0)),
        }
    }

    /// The cursor, set to the arena on first use.
    ///
    /// # Safety
    /// Single-threaded use only (see the `Sync` impl); the reference must not outlive the call.
    #[allow(clippy::mut_from_ref)]
    unsafe fn cursor(&self) -> &mut (usize, usize) {
        // SAFETY: no other reference to the cursor exists while an allocator call runs.
        let c = unsafe { &mut *self.cursor.get() };
        if c.1 == 0 {
            let start = self.arena.get() as usize;
            *c = (start, start + ARENA_BYTES);
        }
        c
    }

    fn grow(cursor: &mut (usize, usize), layout: Layout) -> bool {
        let Some(need) = layout.size().checked_add(layout.align()) else {
            return false;
        };
        let pages = need.div_ceil(PAGE).max(MIN_GROW_PAGES);
        let prev = grow_memory(pages);
        if prev == usize::MAX {
            return false;
        }
        let base = prev * PAGE;
        // Memory grows at its end; when that is where the current region ends, the region just
        // gets longer. Otherwise (the arena, or someone else grew memory) start afresh there.
        if base != cursor.1 {
            cursor.0 = base;
        }
        cursor.1 = base + pages * PAGE;
        true
    }
}

impl Default for BumpAlloc {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(target_arch = "wasm32")]
fn grow_memory(pages: usize) -> usize {
    core::arch::wasm32::memory_grow(0, pages)
}

#[cfg(not(target_arch = "wasm32"))]
fn grow_memory(_pages: usize) -> usize {
    usize::MAX
}

fn bump(cursor: &mut (usize, usize), layout: Layout) -> Option<*mut u8> {
    let start = cursor.0.checked_add(layout.align() - 1)? & !(layout.align() - 1);
    let end = start.checked_add(layout.size())?;
    if end > cursor.1 {
        return None;
    }
    cursor.0 = end;
    Some(start as *mut u8)
}

// SAFETY: every block handed out is inside the arena or memory this allocator grew, aligned
// as asked, and never handed out twice while live (the cursor only moves back over the most
// recent block when that block is freed or resized).
unsafe impl GlobalAlloc for BumpAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: single-threaded, reference dropped before returning.
        let c = unsafe { self.cursor() };
        if let Some(p) = bump(c, layout) {
            return p;
        }
        if !Self::grow(c, layout) {
            return core::ptr::null_mut();
        }
        bump(c, layout).unwrap_or(core::ptr::null_mut())
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: as in `alloc`.
        let c = unsafe { self.cursor() };
        if ptr as usize + layout.size() == c.0 {
            c.0 = ptr as usize;
        }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: as in `alloc`.
        let c = unsafe { self.cursor() };
        let at = ptr as usize;
        if at + layout.size() == c.0 && at.checked_add(new_size).is_some_and(|e| e <= c.1) {
            c.0 = at + new_size;
            return ptr;
        }
        if new_size <= layout.size() {
            return ptr;
        }
        // SAFETY: the caller guarantees `layout.align()` is valid with `new_size`.
        let new_layout = unsafe { Layout::from_size_align_unchecked(new_size, layout.align()) };
        // SAFETY: a valid, non-zero-sized layout.
        let new = unsafe { self.alloc(new_layout) };
        if !new.is_null() {
            // SAFETY: both blocks are live, distinct and at least `layout.size()` long.
            unsafe { core::ptr::copy_nonoverlapping(ptr, new, layout.size()) };
        }
        new
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bumps_aligns_frees_last_and_grows_in_place() {
        let a = BumpAlloc::new();
        unsafe {
            let l1 = Layout::from_size_align(3, 1).unwrap();
            let p1 = a.alloc(l1);
            let l8 = Layout::from_size_align(16, 8).unwrap();
            let p2 = a.alloc(l8);
            assert_eq!(p2 as usize % 8, 0);
            assert!(p2 as usize >= p1 as usize + 3);
            // Resizing the last block stays in place; freeing it gives its bytes back.
            let p3 = a.realloc(p2, l8, 64);
            assert_eq!(p3, p2);
            a.dealloc(p3, Layout::from_size_align(64, 8).unwrap());
            let p4 = a.alloc(l8);
            assert_eq!(p4, p2);
            // Resizing a block that is not the last copies it.
            p1.write(7);
            let p5 = a.realloc(p1, l1, 10);
            assert_ne!(p5, p1);
            assert_eq!(p5.read(), 7);
        }
    }

    #[test]
    fn arena_exhaustion_without_growable_memory_is_null_not_overlap() {
        let a = BumpAlloc::new();
        unsafe {
            let big = Layout::from_size_align(ARENA_BYTES - 64, 16).unwrap();
            assert!(!a.alloc(big).is_null());
            assert!(a.alloc(Layout::from_size_align(128, 16).unwrap()).is_null());
        }
    }
}
