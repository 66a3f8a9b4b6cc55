//! The kernel's release string: procnto formats `_NTO_VERSION` as "X.Y.Z" and stores it,
//! NUL-terminated, next to its NUL-terminated link timestamp `YYYY/MM/DD-HH:MM:SSTZ`, in
//! either order (6.4.1 x86: timestamp then release; 6.6.0: release then timestamp). It is
//! what `uname -r` prints, so it is the device's release.

use memchr::memmem;

/// The kernel's release string and its link timestamp, as found next to each other.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KernelRelease {
    pub release: String,
    pub timestamp: String,
    pub offset: u64,
}

/// The format string every procnto carries; it marks a file as the kernel when its name
/// does not (kernels are renamed in custom boot images).
const KERNEL_BANNER: &[u8] = b"QNX Version %s Release %s";

/// Search `data` for the release string. Files not named `procnto*` must carry the kernel
/// banner first, so random static binaries with dates in them are not taken for the kernel.
pub fn find_kernel_release(data: &[u8], named_like_kernel: bool) -> Option<KernelRelease> {
    if !named_like_kernel && memmem::find(data, KERNEL_BANNER).is_none() {
        return None;
    }
    // Timestamps contain "/DD/DD-DD:DD:DD"; find each '-' preceded by a date and followed by a time.
    for dash in memchr::memchr_iter(b'-', data) {
        let Some(start) = dash.checked_sub(10) else {
            continue;
        };
        if !is_timestamp_at(data, start) {
            continue;
        }
        let ts_end = match data[start..].iter().position(|&b| b == 0) {
            Some(n) if n <= 32 => start + n,
            _ => continue,
        };
        let timestamp = String::from_utf8_lossy(&data[start..ts_end]).into_owned();
        // Release after the timestamp's NUL...
        if let Some(rel) = release_at(data, ts_end + 1) {
            return Some(KernelRelease {
                release: rel.0,
                timestamp,
                offset: (ts_end + 1) as u64,
            });
        }
        // ...or before it: "X.Y.Z\0" ending right where the timestamp starts. What precedes
        // the release need not be a NUL (6.6.0 ARM: a pointer), so walk back over its characters.
        if start >= 2 && data[start - 1] == 0 {
            let mut rel_start = start - 1;
            while rel_start > 0
                && start - 1 - rel_start < 11
                && matches!(data[rel_start - 1], b'0'..=b'9' | b'.')
            {
                rel_start -= 1;
            }
            if let Some(rel) = release_at(data, rel_start).filter(|r| r.1 == start - 1) {
                return Some(KernelRelease {
                    release: rel.0,
                    timestamp,
                    offset: rel_start as u64,
                });
            }
        }
    }
    None
}

/// `YYYY/MM/DD-HH:MM:SS` at `at`.
fn is_timestamp_at(data: &[u8], at: usize) -> bool {
    const SHAPE: &[u8] = b"dddd/dd/dd-dd:dd:dd";
    let Some(s) = data.get(at..at + SHAPE.len()) else {
        return false;
    };
    s.iter().zip(SHAPE).all(|(&b, &p)| {
        if p == b'd' {
            b.is_ascii_digit()
        } else {
            b == p
        }
    })
}

/// A NUL-terminated `X.Y.Z` (digits, exactly two dots) at `at`: returns it and the NUL's index.
fn release_at(data: &[u8], at: usize) -> Option<(String, usize)> {
    let rest = data.get(at..)?;
    let n = rest.iter().take(12).position(|&b| b == 0)?;
    let s = std::str::from_utf8(&rest[..n]).ok()?;
    let parts: Vec<&str> = s.split('.').collect();
    let ok = parts.len() == 3
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.len() <= 3 && p.bytes().all(|b| b.is_ascii_digit()));
    ok.then(|| (s.to_string(), at + n))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn release_after_timestamp_like_641() {
        let blob = b"\x00junk\x002009/06/08-15:47:40CEST\x006.4.1\x00more";
        let k = find_kernel_release(blob, true).unwrap();
        assert_eq!(k.release, "6.4.1");
        assert_eq!(k.timestamp, "2009/06/08-15:47:40CEST");
    }

    #[test]
    fn release_before_timestamp_like_660() {
        let blob = b"\x00\x00\x006.6.0\x002014/02/22-18:29:26EST\x00\x00";
        let k = find_kernel_release(blob, true).unwrap();
        assert_eq!(k.release, "6.6.0");
        assert_eq!(k.offset, 3);
    }

    #[test]
    fn release_after_a_pointer_like_660_arm() {
        let blob = b"\x00\x00\xc8\x3e\x08\xfe6.6.0\x002014/02/22-19:07:53EST\x00\x00";
        let k = find_kernel_release(blob, true).unwrap();
        assert_eq!(k.release, "6.6.0");
        assert_eq!(k.offset, 6);
    }

    #[test]
    fn needs_banner_unless_named_procnto() {
        let blob = b"\x006.6.0\x002014/02/22-18:29:26EST\x00";
        assert!(find_kernel_release(blob, false).is_none());
        let mut with_banner = blob.to_vec();
        with_banner.extend_from_slice(b"QNX Version %s Release %s\0");
        assert!(find_kernel_release(&with_banner, false).is_some());
    }

    #[test]
    fn rejects_near_misses() {
        assert!(find_kernel_release(b"\x002014/02/22-18:29:26EST\x006.6\x00", true).is_none());
        assert!(find_kernel_release(b"\x002014/02/22-18:29:26EST\x00abc.d.e\x00", true).is_none());
        assert!(find_kernel_release(b"-", true).is_none());
    }
}
