//! Containing panics of third-party parsers and decoders on hostile bytes.
//!
//! goblin and yaxpeax-arm have panicked on crafted input (found by fuzzing). A panic there
//! must become an error for that one file, not end the scan, and must not spray panic
//! messages over the report: [`contain`] runs a closure under `catch_unwind` with the panic
//! message suppressed for this thread only (other threads' panics, real bugs, still print).

use std::cell::Cell;
use std::panic::{self, AssertUnwindSafe};
use std::sync::Once;

thread_local! {
    static QUIET: Cell<bool> = const { Cell::new(false) };
}
static HOOK: Once = Once::new();

/// Run `f`; `None` if it panicked.
pub fn contain<T>(f: impl FnOnce() -> T) -> Option<T> {
    HOOK.call_once(|| {
        let previous = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            if !QUIET.with(Cell::get) {
                previous(info);
            }
        }));
    });
    let was = QUIET.with(|q| q.replace(true));
    let result = panic::catch_unwind(AssertUnwindSafe(f));
    QUIET.with(|q| q.set(was));
    result.ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_becomes_none_and_values_pass_through() {
        assert_eq!(contain(|| 41 + 1), Some(42));
        let r: Option<()> = contain(|| panic!("hostile bytes"));
        assert!(r.is_none());
        // Nested use restores the outer state.
        assert_eq!(contain(|| contain(|| 1).unwrap_or(0) + 1), Some(2));
    }
}
