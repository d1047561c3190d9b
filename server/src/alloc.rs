//! The memory allocator of the `herald` binary: jemalloc (`tikv-jemallocator`, set as the
//! global allocator in `main.rs`), with its background purging thread on.
//!
//! Why: glibc's malloc keeps the pages of freed small allocations (spread over per-thread
//! arenas) resident after a burst of connections ends — 10,000 abandoned polling sessions
//! left ~65 MB resident for good although the live heap was back under 1 MB. jemalloc
//! returns unused dirty pages to the kernel after its decay time (`dirty_decay_ms`, 10 s
//! by default), but only when something drives the decay: an allocation on the same arena,
//! or the background thread enabled here. With it an idle herald gives the memory of a
//! finished burst back within about the decay time.
//!
//! Behind the default feature `jemalloc`; without it the binary uses the system
//! allocator and [`configure`] does nothing.

/// Turns on jemalloc's background purging thread. Returns an error text (for a warning
/// in the log: memory is then returned only while herald is busy) when jemalloc is not
/// the allocator or refuses.
#[cfg(feature = "jemalloc")]
pub fn configure() -> Result<(), String> {
    tikv_jemalloc_ctl::background_thread::write(true).map_err(|e| {
        format!("cannot enable the jemalloc background thread ({e}); freed memory is returned to the OS only while herald allocates")
    })
}

/// Built without the `jemalloc` feature: the system allocator, nothing to configure.
#[cfg(not(feature = "jemalloc"))]
pub fn configure() -> Result<(), String> {
    Ok(())
}
