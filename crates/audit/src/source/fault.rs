//! Mapped files that shrink while they are examined (issue 16.4).
//!
//! A file of `MAP_THRESHOLD` bytes or more is memory-mapped. If another process truncates it
//! while it is examined, touching a page past the new end raises SIGBUS, whose default
//! action kills the whole scan and loses every target's result. Each map is therefore
//! registered in a fixed table of slots (start, length, first faulting offset) that a SIGBUS
//! handler reads without locks or allocation: a fault inside a registered map gets an
//! anonymous page of zeros mapped over the faulting page, the slot records the offset, and
//! the access is retried and reads zeros. The reader then reports the file as changed
//! during the scan (`read::FileBytes::shrunk`), and its findings are not used.
//!
//! A SIGBUS anywhere else goes to the handler that was there before (Rust's own, for stack
//! overflows), or, if there was none, gets the default action (the process ends). When the
//! table is full a file is not mapped at all (`read.rs` reads it instead).

use std::sync::atomic::{fence, AtomicBool, AtomicUsize, Ordering};
use std::sync::OnceLock;

/// Maps registered at once. A scan holds one map per worker (at most `scan::MAX_JOBS`, 64)
/// plus, briefly, the file a memoised boot image is compared against: four times that is
/// room to spare. A file that finds the table full is read instead of mapped.
pub const MAX_GUARDED_MAPS: usize = 256;

/// `first_fault` of a map that has not faulted.
const NO_FAULT: usize = usize::MAX;

/// One registered map. `seq` is odd while the slot is being written: the handler skips it
/// then, and checks that it did not change while it read `start` and `len`.
struct Slot {
    taken: AtomicBool,
    seq: AtomicUsize,
    start: AtomicUsize,
    len: AtomicUsize,
    first_fault: AtomicUsize,
}

impl Slot {
    const fn new() -> Slot {
        Slot {
            taken: AtomicBool::new(false),
            seq: AtomicUsize::new(0),
            start: AtomicUsize::new(0),
            len: AtomicUsize::new(0),
            first_fault: AtomicUsize::new(NO_FAULT),
        }
    }

    /// Write `start` and `len` (0, 0: the slot holds no map) where the handler may read them.
    fn publish(&self, start: usize, len: usize) {
        self.seq.fetch_add(1, Ordering::AcqRel);
        self.start.store(start, Ordering::Relaxed);
        self.len.store(len, Ordering::Relaxed);
        self.seq.fetch_add(1, Ordering::Release);
    }

    /// The offset of `addr` in this slot's map, if it lies in it (read as the handler does).
    fn offset_of(&self, addr: usize) -> Option<usize> {
        let before = self.seq.load(Ordering::Acquire);
        if before % 2 == 1 {
            return None;
        }
        let (start, len) = (
            self.start.load(Ordering::Relaxed),
            self.len.load(Ordering::Relaxed),
        );
        fence(Ordering::Acquire);
        if self.seq.load(Ordering::Relaxed) != before || start == 0 {
            return None;
        }
        addr.checked_sub(start).filter(|&off| off < len)
    }
}

static SLOTS: [Slot; MAX_GUARDED_MAPS] = [const { Slot::new() }; MAX_GUARDED_MAPS];

/// The page size, read once before the handler is installed.
static PAGE_SIZE: AtomicUsize = AtomicUsize::new(0);

/// The SIGBUS action in place before ours (set once, before ours is installed).
static PREVIOUS: OnceLock<libc::sigaction> = OnceLock::new();

/// A map registered in the table; deregistered when dropped (before the map is unmapped:
/// the owner drops this first).
pub struct Guard {
    slot: &'static Slot,
}

impl Guard {
    /// Register the map of `len` bytes at `start`; None when the table is full or the
    /// handler could not be installed (the caller must then not map the file).
    pub fn register(start: *const u8, len: usize) -> Option<Guard> {
        if !install() {
            return None;
        }
        Guard::register_in(&SLOTS, start, len)
    }

    /// [`Guard::register`] in `table` (the handler reads only the process's table).
    fn register_in(table: &'static [Slot], start: *const u8, len: usize) -> Option<Guard> {
        if start.is_null() || len == 0 {
            return None;
        }
        let slot = table.iter().find(|s| {
            s.taken
                .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
                .is_ok()
        })?;
        slot.first_fault.store(NO_FAULT, Ordering::Relaxed);
        slot.publish(start as usize, len);
        Some(Guard { slot })
    }

    /// The offset of the first page that faulted (and reads as zeros), if any did.
    pub fn first_fault(&self) -> Option<u64> {
        match self.slot.first_fault.load(Ordering::Acquire) {
            NO_FAULT => None,
            off => Some(off as u64),
        }
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        self.slot.publish(0, 0);
        self.slot.taken.store(false, Ordering::Release);
    }
}

/// Install the handler, once per process; whether it is in place.
fn install() -> bool {
    static INSTALLED: OnceLock<bool> = OnceLock::new();
    *INSTALLED.get_or_init(|| {
        // SAFETY: sysconf has no preconditions.
        let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
        let Some(page) = usize::try_from(page).ok().filter(|p| p.is_power_of_two()) else {
            return false;
        };
        PAGE_SIZE.store(page, Ordering::Relaxed);
        // SAFETY: both structures are zeroed plain data then filled in; `on_sigbus` has the
        // signature SA_SIGINFO asks for. The previous action is stored before ours takes
        // effect, so the handler always finds it.
        unsafe {
            let mut previous: libc::sigaction = std::mem::zeroed();
            if libc::sigaction(libc::SIGBUS, std::ptr::null(), &mut previous) != 0 {
                return false;
            }
            let _ = PREVIOUS.set(previous);
            let mut ours: libc::sigaction = std::mem::zeroed();
            ours.sa_sigaction = on_sigbus as *const () as usize;
            ours.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK;
            libc::sigemptyset(&mut ours.sa_mask);
            libc::sigaction(libc::SIGBUS, &ours, std::ptr::null_mut()) == 0
        }
    })
}

/// The address that faulted.
///
/// # Safety
/// `info` is the siginfo the kernel passed to an SA_SIGINFO handler for SIGBUS.
unsafe fn fault_address(info: *const libc::siginfo_t) -> usize {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    return (*info).si_addr() as usize;
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    return (*info).si_addr as usize;
}

/// The SIGBUS handler. Async-signal-safe: atomics, `mmap`, `sigaction` and `raise` only.
extern "C" fn on_sigbus(sig: libc::c_int, info: *mut libc::siginfo_t, ctx: *mut libc::c_void) {
    if !info.is_null() {
        // SAFETY: the kernel passes a valid siginfo to an SA_SIGINFO handler.
        let addr = unsafe { fault_address(info) };
        let page = PAGE_SIZE.load(Ordering::Relaxed);
        for slot in &SLOTS {
            let Some(off) = slot.offset_of(addr) else {
                continue;
            };
            let base = addr & !(page - 1);
            // SAFETY: `base` is the page that faulted, inside a registered map that its
            // owner keeps mapped until it deregisters (it cannot deregister while one of
            // its reads is faulting). MAP_FIXED replaces that page alone with a read-only
            // page of zeros; the owner's munmap of the whole map later removes it too.
            // mmap is a plain system call: safe in a signal handler on the platforms this
            // module is built for.
            let zeros = unsafe {
                libc::mmap(
                    base as *mut libc::c_void,
                    page,
                    libc::PROT_READ,
                    libc::MAP_FIXED | libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                    -1,
                    0,
                )
            };
            if zeros != libc::MAP_FAILED {
                let page_off = off - (addr - base).min(off);
                slot.first_fault.fetch_min(page_off, Ordering::AcqRel);
                return;
            }
            break;
        }
    }
    // SAFETY: forwarding the kernel's own arguments to the handler that was installed.
    unsafe { chain(sig, info, ctx) }
}

/// Hand a SIGBUS that is not ours to the action there was before: its handler, or the
/// default action (restored, and the signal raised again, so the process ends as it would
/// have without us).
///
/// # Safety
/// The arguments are those the kernel passed to `on_sigbus`.
unsafe fn chain(sig: libc::c_int, info: *mut libc::siginfo_t, ctx: *mut libc::c_void) {
    let previous = PREVIOUS.get();
    let handler = previous.map_or(libc::SIG_DFL, |p| p.sa_sigaction);
    match (handler, previous) {
        (libc::SIG_DFL | libc::SIG_IGN, _) | (_, None) => {
            let mut default: libc::sigaction = std::mem::zeroed();
            default.sa_sigaction = libc::SIG_DFL;
            libc::sigaction(sig, &default, std::ptr::null_mut());
            // Blocked until this handler returns, then delivered with the default action;
            // a fault would also recur when the access is retried.
            libc::raise(sig);
        }
        (h, Some(p)) if p.sa_flags & libc::SA_SIGINFO != 0 => {
            let f: extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void) =
                std::mem::transmute(h);
            f(sig, info, ctx);
        }
        (h, Some(_)) => {
            let f: extern "C" fn(libc::c_int) = std::mem::transmute(h);
            f(sig);
        }
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn a_registered_map_truncated_under_it_reads_zeros_and_records_the_offset() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("dump.bin");
        let size = 4 << 20;
        let mut f = std::fs::File::create(&path).unwrap();
        f.write_all(&vec![0x5au8; size]).unwrap();
        let file = std::fs::File::open(&path).unwrap();
        // SAFETY: a private read-only map of a file this test owns.
        let map = unsafe { memmap2::Mmap::map(&file) }.unwrap();
        let guard = Guard::register(map.as_ptr(), map.len()).expect("a free slot");
        assert_eq!(guard.first_fault(), None);
        assert_eq!(map[size - 1], 0x5a);
        // Shrink it to 1 MiB + 100 bytes: the page holding the new end still reads (zeros
        // after the end), the pages after it fault.
        let new_len = (1 << 20) + 100;
        f.set_len(new_len).unwrap();
        assert_eq!(
            map[(1 << 20) + 99],
            0x5a,
            "before the new end: the file's bytes"
        );
        assert_eq!(map[(3 << 20) + 7], 0, "past the new end: a page of zeros");
        assert_eq!(guard.first_fault(), Some(3 << 20));
        // A lower page faulting later lowers the offset; the first one stays zero.
        assert_eq!(map[(2 << 20) + 4096], 0);
        assert_eq!(guard.first_fault(), Some((2 << 20) + 4096));
        assert_eq!(map[(3 << 20) + 8], 0);
        // Deregistered: the slot is free and reads as no map.
        let slot = guard.slot;
        drop(guard);
        assert_eq!(slot.offset_of(map.as_ptr() as usize + 5), None);
        assert!(!slot.taken.load(Ordering::Acquire));
    }

    /// Set in the child process of the test below.
    const CHILD: &str = "BADALLOC_TEST_UNREGISTERED_FAULT";

    #[test]
    fn a_fault_outside_every_registered_map_still_ends_the_process() {
        let name =
            "source::fault::tests::a_fault_outside_every_registered_map_still_ends_the_process";
        if std::env::var_os(CHILD).is_some() {
            // The handler is installed (a map is registered), but this map is not.
            let buf = [0u8; 8];
            let _registered = Guard::register(buf.as_ptr(), buf.len()).expect("installed");
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("shrinks");
            std::fs::write(&path, vec![1u8; 1 << 20]).unwrap();
            let file = std::fs::File::options()
                .write(true)
                .read(true)
                .open(&path)
                .unwrap();
            // SAFETY: the fault is what this child is for.
            let map = unsafe { memmap2::Mmap::map(&file) }.unwrap();
            file.set_len(0).unwrap();
            let byte = std::hint::black_box(map[8192]);
            // Not reached: SIGBUS ends the process.
            std::process::exit(i32::from(byte) + 10);
        }
        let exe = std::env::current_exe().unwrap();
        let status = std::process::Command::new(exe)
            .args(["--exact", name, "--test-threads", "1", "--nocapture"])
            .env(CHILD, "1")
            .stdout(std::process::Stdio::null())
            .status()
            .unwrap();
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(status.signal(), Some(libc::SIGBUS), "{status:?}");
    }

    #[test]
    fn the_table_is_bounded_and_slots_are_reused() {
        // A table of its own (filling the process's would make other tests read, not map);
        // a buffer stands in for maps: registration only records addresses.
        static TABLE: [Slot; 3] = [const { Slot::new() }; 3];
        let buf = [0u8; 64];
        let first = Guard::register_in(&TABLE, buf.as_ptr(), buf.len()).expect("free");
        assert_eq!(first.slot.offset_of(buf.as_ptr() as usize + 10), Some(10));
        assert_eq!(first.slot.offset_of(buf.as_ptr() as usize + 64), None);
        assert_eq!(first.slot.offset_of(buf.as_ptr() as usize - 1), None);
        let mut held: Vec<Guard> = (0..2)
            .map(|_| Guard::register_in(&TABLE, buf.as_ptr(), 1).expect("free"))
            .collect();
        assert!(
            Guard::register_in(&TABLE, buf.as_ptr(), 1).is_none(),
            "full"
        );
        held.pop();
        let again = Guard::register_in(&TABLE, buf.as_ptr(), 1);
        assert!(again.is_some(), "a slot freed is reused");
        assert_eq!(
            again.and_then(|g| g.first_fault()),
            None,
            "with no fault of before"
        );
        drop(held);
        drop(first);
        assert!(Guard::register_in(&TABLE, std::ptr::null(), 1).is_none());
        assert!(Guard::register_in(&TABLE, buf.as_ptr(), 0).is_none());
    }
}
