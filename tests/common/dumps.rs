//! Raw flash dumps for tests, built around file-system images: a NOR dump (a boot image,
//! then a partition, then erased flash) and a NAND dump (a loader block, erased blocks,
//! then the file system).

/// A NOR dump: `boot` in the first units (padded with erased flash to a unit boundary),
/// `partition` after it, then two erased units. Returns the dump and where the partition
/// starts.
pub fn nor_dump(boot: &[u8], partition: &[u8], unit: usize) -> (Vec<u8>, usize) {
    let mut d = boot.to_vec();
    d.resize(boot.len().next_multiple_of(unit), 0xff);
    let at = d.len();
    d.extend_from_slice(partition);
    d.resize(d.len() + 2 * unit, 0xff);
    (d, at)
}

/// Pseudo-random bytes (a loader's code, ECC, noise), the same for the same `seed`.
pub fn noise(len: usize, seed: u32) -> Vec<u8> {
    let mut x = seed;
    (0..len)
        .map(|_| {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
            (x >> 16) as u8
        })
        .collect()
}

/// A NAND dump: a loader block (`loader`, or noise when None: data and spare), three
/// erased blocks, then the ETFS image, each block `block` pages of `page` bytes. Returns
/// the dump and where the ETFS starts.
pub fn nand_dump(
    etfs: &[u8],
    page: usize,
    block: usize,
    loader: Option<&[u8]>,
) -> (Vec<u8>, usize) {
    let mut d = match loader {
        Some(l) => l.to_vec(),
        None => noise(page * block, 22156),
    };
    d.resize(page * block, 0xff);
    d.resize(d.len() + 3 * page * block, 0xff);
    let at = d.len();
    d.extend_from_slice(etfs);
    (d, at)
}
