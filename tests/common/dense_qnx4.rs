// A dump dense with file-system signatures (issue 16.2). Also included by
// `crates/audit/src/examine.rs`'s unit tests, hence no inner doc comment here.

/// `kib` KiB of a 1 KiB pattern holding eight minimal QNX4 roots (each a signature the
/// carver validates) and eight `.` entries.
pub fn dense_qnx4(kib: usize) -> Vec<u8> {
    let mut root = [0u8; 64];
    root[0] = b'/';
    root[16..20].copy_from_slice(&64u32.to_le_bytes());
    root[20..24].copy_from_slice(&3u32.to_le_bytes());
    root[24..28].copy_from_slice(&1u32.to_le_bytes());
    root[48..50].copy_from_slice(&1u16.to_le_bytes());
    root[50..52].copy_from_slice(&0o40755u16.to_le_bytes());
    root[63] = 1;
    let mut dot = [0u8; 64];
    dot[0] = b'.';
    dot[50..52].copy_from_slice(&0o40755u16.to_le_bytes());
    dot[63] = 1;
    let mut pattern = Vec::new();
    for _ in 0..8 {
        pattern.extend_from_slice(&root);
    }
    for _ in 0..8 {
        pattern.extend_from_slice(&dot);
    }
    pattern.repeat(kib)
}
