//! UCL NRV2B decompression (the `ucl_nrv2b_decompress_8` stream format used by mkifs).
//!
//! Written from the public description of the format, not from libucl:
//! a stream interleaves whole literal bytes with control bits, read most significant bit
//! first from 8-bit "bit bytes" that are fetched from the stream whenever the previous one
//! is used up. A `1` bit means "copy one literal byte". A `0` bit starts a match: the offset
//! high part is an Elias-gamma-like code (pairs of data bit, stop bit); the value 2 means
//! "reuse the last offset", otherwise `(v - 3) * 256 + next byte` is the offset minus one,
//! and `0xffffffff` ends the stream. Two bits then give the length, with a gamma code for
//! longer matches; offsets above 0xd00 get one more byte of length.
//!
//! The decoder bounds its output, checks every offset, and never panics.

use super::DecodeError;

/// Reads control bits, MSB first, 8 at a time.
///
/// `bb` holds the unread bits of the current bit byte at its top, then a `1` marking their
/// end, then zeros: `0x8000_0000` means none are left. The count never needs keeping, and
/// "the next bit is a 0" or "two bits are left" are one test each.
struct Bits<'a> {
    src: &'a [u8],
    pos: usize,
    bb: u32,
}

/// `Bits::bb` with no bits left.
const EMPTY: u32 = 0x8000_0000;

impl<'a> Bits<'a> {
    /// Fetch the next bit byte (the current one is used up).
    #[inline(always)]
    fn refill(&mut self) -> Result<(), DecodeError> {
        self.bb = (u32::from(self.byte()?) << 24) | (1 << 23);
        Ok(())
    }

    #[inline(always)]
    fn bit(&mut self) -> Result<u32, DecodeError> {
        if self.bb == EMPTY {
            self.refill()?;
        }
        let bit = self.bb >> 31;
        self.bb <<= 1;
        Ok(bit)
    }

    /// True when at least two bits are left in the current bit byte.
    #[inline(always)]
    fn two_left(&self) -> bool {
        self.bb << 2 != 0
    }

    #[inline(always)]
    fn byte(&mut self) -> Result<u8, DecodeError> {
        match self.src.get(self.pos) {
            Some(&b) => {
                self.pos += 1;
                Ok(b)
            }
            None => Err(DecodeError::at(self.pos, "UCL input overrun")),
        }
    }

    /// The gamma code: `v = 1; do { v = 2v + bit } while next bit == 0`, capped.
    ///
    /// The pairs (data bit, stop bit) in the current bit byte are read at once through
    /// [`GAMMA`]. The cap is checked once per bit byte, not after each pair: `v` only grows
    /// and `pos` does not move within a bit byte, so the first pair past the cap fails with
    /// the same offset either way. `v` is 64-bit: up to four pairs past a value within the
    /// cap. `cap` is at least 31 (the callers' are 0x1000002 and 2^31 - 1).
    #[inline(always)]
    fn gamma(&mut self, cap: u32) -> Result<u32, DecodeError> {
        // Most codes end within the current bit byte, at v < 2^5: within the cap, and so was
        // each value before.
        let e = &GAMMA[(self.bb >> 23) as usize];
        if let GammaEnd::Stop = e.end {
            self.bb <<= e.used;
            return Ok((1 << e.shift) | u32::from(e.data));
        }
        let cap = u64::from(cap);
        let mut v: u64 = 1;
        loop {
            let e = &GAMMA[(self.bb >> 23) as usize];
            v = (v << e.shift) | u64::from(e.data);
            self.bb <<= e.used;
            match e.end {
                // The last pair stopped: the value before it is the last one checked.
                GammaEnd::Stop => {
                    if v >> 1 > cap {
                        return Err(DecodeError::at(self.pos, "UCL gamma code too long"));
                    }
                    return Ok(v as u32);
                }
                GammaEnd::More => {
                    if v > cap {
                        return Err(DecodeError::at(self.pos, "UCL gamma code too long"));
                    }
                    self.refill()?;
                }
                GammaEnd::StopBitNext => {
                    // The data bit of the last pair was the byte's last bit: its stop bit
                    // is the next bit byte's first.
                    if v >> 1 > cap {
                        return Err(DecodeError::at(self.pos, "UCL gamma code too long"));
                    }
                    self.refill()?;
                    let stop = self.bb >> 31;
                    self.bb <<= 1;
                    if stop == 1 {
                        return Ok(v as u32);
                    }
                    if v > cap {
                        return Err(DecodeError::at(self.pos, "UCL gamma code too long"));
                    }
                }
            }
        }
    }

    /// Two bits as a number, the first one high.
    #[inline(always)]
    fn two_bits(&mut self) -> Result<u32, DecodeError> {
        if self.two_left() {
            let m = self.bb >> 30;
            self.bb <<= 2;
            return Ok(m);
        }
        Ok((self.bit()? << 1) | self.bit()?)
    }
}

/// How the pairs of a gamma code end within one bit byte.
#[derive(Clone, Copy)]
enum GammaEnd {
    /// A stop bit: the code is complete.
    Stop,
    /// The byte is used up on a pair boundary (or was already): the code goes on in the
    /// next one.
    More,
    /// The byte ended after a data bit: its stop bit is the next byte's first.
    StopBitNext,
}

/// The gamma pairs of one bit byte's unread bits.
#[derive(Clone, Copy)]
struct GammaStep {
    /// Data bits read (the first one highest), and how many.
    data: u8,
    shift: u8,
    /// Bits consumed.
    used: u8,
    end: GammaEnd,
}

/// [`GammaStep`]s indexed by `bb >> 23`: the unread bits followed by their end marker.
static GAMMA: [GammaStep; 512] = {
    let mut t = [GammaStep {
        data: 0,
        shift: 0,
        used: 0,
        end: GammaEnd::More,
    }; 512];
    let mut i = 1;
    while i < 512 {
        // The unread bits: above the lowest set bit (the marker), left to right.
        let n = 8 - (i as u32).trailing_zeros();
        let bits = i >> (9 - n);
        let (mut left, mut data, mut shift, mut end) = (n, 0, 0, GammaEnd::More);
        while left >= 2 {
            data = (data << 1) | ((bits >> (left - 1)) & 1);
            shift += 1;
            left -= 2;
            if (bits >> left) & 1 == 1 {
                end = GammaEnd::Stop;
                break;
            }
        }
        if left == 1 && !matches!(end, GammaEnd::Stop) {
            data = (data << 1) | (bits & 1);
            shift += 1;
            left = 0;
            end = GammaEnd::StopBitNext;
        }
        t[i] = GammaStep {
            data: data as u8,
            shift,
            used: (n - left) as u8,
            end,
        };
        i += 1;
    }
    t
};

/// Decompress one NRV2B stream, appending to `out`. Fails if the output would grow by more
/// than `max_out` bytes, on any reference before the start of this stream's output, on
/// truncated input, and when input bytes remain after the end marker.
pub fn nrv2b_decompress_8(
    src: &[u8],
    out: &mut Vec<u8>,
    max_out: usize,
) -> Result<usize, DecodeError> {
    decode(src, super::LzOut::new(out, max_out))
}

/// Bit bytes of eight 1s, each followed by its eight literals: how mkifs codes
/// incompressible data (compressed payloads, media). Copied eight at a time without the bit
/// loop, from a bit byte at `pos` on; anything else (or an error) is left to the caller.
#[inline(never)]
fn literal_groups(b: &mut Bits<'_>, out: &mut super::LzOut<'_>) {
    while b.src.get(b.pos) == Some(&0xff) {
        if out.short_literals(b.src, b.pos + 1, 8) != Some(true) {
            break;
        }
        b.pos += 9;
    }
}

/// The decoder, writing through `out` (see `LzOut::new`, `LzOut::resume`).
pub(crate) fn decode(src: &[u8], out: super::LzOut<'_>) -> Result<usize, DecodeError> {
    // A local copy, so the writer's fields can live in registers.
    let mut out = out;
    let mut b = Bits {
        src,
        pos: 0,
        bb: EMPTY,
    };
    let mut last_m_off: usize = 1;
    loop {
        // Literals: a run of `1` bits left in the current bit byte is a run of literal
        // bytes that sit together in the stream, copied at once (images of code and data are
        // mostly literals, so this is the decoder's hot loop). A top bit of 0 is an unread 0
        // (the end marker of a used-up bit byte is a 1): a match.
        while b.bb >> 31 == 1 {
            if b.bb == EMPTY {
                if b.src.get(b.pos) == Some(&0xff) {
                    literal_groups(&mut b, &mut out);
                }
                b.refill()?;
                continue;
            }
            // Ones at the top of the unread bits (the end marker cleared, so the run stops
            // there): at least one.
            let run = (b.bb & b.bb.wrapping_sub(1)).leading_ones();
            match out.short_literals(b.src, b.pos, run as usize) {
                None => return Err(DecodeError::at(b.src.len(), "UCL input overrun")),
                Some(false) => return Err(out.stopped(b.pos, "UCL output overrun")),
                Some(true) => {}
            }
            b.pos += run as usize;
            b.bb <<= run;
        }
        b.bb <<= 1;
        // Offsets: the end marker has v = 0x1000002; nothing larger is meaningful.
        let v = b.gamma(0x0100_0002)?;
        let m_off: usize;
        if v == 2 {
            m_off = last_m_off;
        } else {
            let hi = v
                .checked_sub(3)
                .ok_or(DecodeError::at(b.pos, "UCL bad offset code"))?;
            let lo = b.byte()?;
            let off = (u64::from(hi) << 8) | u64::from(lo);
            if off >= 0xffff_ffff {
                if off == 0xffff_ffff {
                    break;
                }
                return Err(DecodeError::at(b.pos, "UCL offset out of range"));
            }
            m_off = (off as usize) + 1;
            last_m_off = m_off;
        }
        let mut m_len = b.two_bits()? as usize;
        if m_len == 0 {
            // Lengths are bounded by the output limit below; cap the code at 2^31.
            m_len = b.gamma(0x7fff_ffff)? as usize + 2;
        }
        if m_off > 0xd00 {
            m_len += 1;
        }
        let m_len = m_len + 1;
        match out.copy_match(m_off, m_len) {
            Ok(()) => {}
            Err(true) => {
                return Err(DecodeError::at(
                    b.pos,
                    "UCL match offset before start of output",
                ))
            }
            Err(false) => return Err(out.stopped(b.pos, "UCL output overrun")),
        }
    }
    if b.pos != src.len() {
        return Err(DecodeError::at(b.pos, "UCL input not fully consumed"));
    }
    Ok(out.produced())
}

/// A trivial NRV2B *encoder* that emits only literals (plus the end marker).
///
/// Its output is a valid NRV2B stream, larger than the input by one bit per byte. It exists
/// so tests can build UCL-compressed images without libucl.
pub fn nrv2b_encode_literals(src: &[u8]) -> Vec<u8> {
    let mut w = BitWriter::default();
    for &byte in src {
        w.bit(1);
        w.out.push(byte);
    }
    w.bit(0);
    w.gamma(0x0100_0002);
    w.out.push(0xff);
    w.out
}

/// A small NRV2B *encoder* for runs: bytes equal to the previous one are coded as matches at
/// offset 1 (so long runs compress to almost nothing), everything else as literals.
///
/// Test support: it makes valid streams that expand far beyond their size (64 KiB block
/// limits, decompression bombs) without libucl.
#[doc(hidden)]
pub fn nrv2b_encode_runs(src: &[u8]) -> Vec<u8> {
    let mut w = BitWriter::default();
    let mut i = 0;
    while i < src.len() {
        let run = if i == 0 {
            0
        } else {
            let prev = src[i - 1];
            src[i..].iter().take_while(|&&b| b == prev).count()
        };
        if run >= 2 {
            w.bit(0);
            // Offset code 2 = "last offset", which starts as 1.
            w.bit(0);
            w.bit(1);
            if run <= 4 {
                let m = (run - 1) as u32;
                w.bit(m >> 1);
                w.bit(m & 1);
            } else {
                w.bit(0);
                w.bit(0);
                w.gamma((run - 3) as u32);
            }
            i += run;
        } else {
            w.bit(1);
            w.out.push(src[i]);
            i += 1;
        }
    }
    w.bit(0);
    w.gamma(0x0100_0002);
    w.out.push(0xff);
    w.out
}

#[derive(Default)]
struct BitWriter {
    out: Vec<u8>,
    bb_pos: usize,
    bc: u32,
}

impl BitWriter {
    /// Gamma code for `v >= 2`: the bits after the leading 1, each followed by a stop bit.
    fn gamma(&mut self, v: u32) {
        let nbits = 32 - v.leading_zeros();
        for i in (0..nbits - 1).rev() {
            self.bit((v >> i) & 1);
            self.bit(u32::from(i == 0));
        }
    }

    fn bit(&mut self, bit: u32) {
        if self.bc == 0 {
            self.bb_pos = self.out.len();
            self.out.push(0);
            self.bc = 8;
        }
        self.bc -= 1;
        if bit != 0 {
            if let Some(b) = self.out.get_mut(self.bb_pos) {
                *b |= 1 << self.bc;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literal_round_trip() {
        for data in [&b""[..], b"a", b"hello world, hello world", &[0u8; 1000]] {
            let enc = nrv2b_encode_literals(data);
            let mut out = Vec::new();
            nrv2b_decompress_8(&enc, &mut out, 1 << 20).unwrap();
            assert_eq!(out, data);
        }
    }

    #[test]
    fn runs_round_trip() {
        let mut data = vec![1u8, 2, 2, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 5];
        data.extend(std::iter::repeat_n(9u8, 100_000));
        data.extend_from_slice(b"abc");
        let enc = nrv2b_encode_runs(&data);
        assert!(enc.len() < 100);
        let mut out = Vec::new();
        nrv2b_decompress_8(&enc, &mut out, 1 << 20).unwrap();
        assert_eq!(out, data);
    }

    #[test]
    fn bounded_output() {
        let enc = nrv2b_encode_literals(&[7u8; 100]);
        let mut out = Vec::new();
        let err = nrv2b_decompress_8(&enc, &mut out, 50).unwrap_err();
        assert!(err.message.contains("overrun"));
        assert!(out.len() <= 50);
    }

    #[test]
    fn groups_of_eight_literals_fail_where_the_input_or_output_ends() {
        // 100 literals: twelve bit bytes of eight 1s (the fast path) and four more.
        let data: Vec<u8> = (0..100u8).map(|i| i.wrapping_mul(37)).collect();
        let enc = nrv2b_encode_literals(&data);
        assert_eq!(enc[0], 0xff);
        // Cut anywhere before the end marker: the input ends where it was cut.
        for cut in 0..12 * 9 {
            let mut out = Vec::new();
            let err = nrv2b_decompress_8(&enc[..cut], &mut out, 1 << 16).unwrap_err();
            assert_eq!(
                (err.input_offset, err.message),
                (cut, "UCL input overrun"),
                "cut at {cut}"
            );
        }
        // An output limit inside a group: the group's bit byte is read, then its eight
        // literals do not fit.
        for max in [0usize, 7, 8, 50] {
            let mut out = Vec::new();
            let err = nrv2b_decompress_8(&enc, &mut out, max).unwrap_err();
            assert_eq!(err.message, "UCL output overrun", "limit {max}");
            assert_eq!(err.input_offset, max / 8 * 9 + 1, "limit {max}");
            assert_eq!(out, data[..max / 8 * 8], "limit {max}");
        }
    }

    #[test]
    fn gamma_codes_at_every_bit_alignment() {
        // Every value up to 2^12 and some larger ones, after 0 to 15 other control bits,
        // followed by a marker: the value comes back and the bits after it are where they
        // should be.
        let values = (2..1 << 12).chain((12..32).flat_map(|k| [1u32 << k, (1 << k) + 0x5a5]));
        for v in values {
            for lead in 0..16u32 {
                let mut w = BitWriter::default();
                for i in 0..lead {
                    w.bit(i & 1);
                }
                w.gamma(v);
                for bit in [1, 0, 1, 1, 0, 0, 1, 0, 1] {
                    w.bit(bit);
                }
                let mut b = Bits {
                    src: &w.out,
                    pos: 0,
                    bb: EMPTY,
                };
                for i in 0..lead {
                    assert_eq!(b.bit(), Ok(i & 1));
                }
                assert_eq!(b.gamma(u32::MAX >> 1), Ok(v), "v {v:#x} after {lead} bits");
                let after: Vec<u32> = (0..9).map(|_| b.bit().unwrap_or(9)).collect();
                assert_eq!(
                    after,
                    [1, 0, 1, 1, 0, 0, 1, 0, 1],
                    "v {v:#x} after {lead} bits"
                );
                assert_eq!(b.pos, w.out.len());
            }
        }
    }

    #[test]
    fn garbage_never_panics() {
        let mut refused = 0;
        let mut x: u32 = 12345;
        for len in 0..2000 {
            let data: Vec<u8> = (0..len % 97)
                .map(|_| {
                    x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
                    (x >> 16) as u8
                })
                .collect();
            let mut out = Vec::new();
            match nrv2b_decompress_8(&data, &mut out, 1 << 16) {
                Err(e) => {
                    assert!(e.input_offset <= data.len(), "{e:?}");
                    refused += 1;
                }
                Ok(n) => assert_eq!(n, out.len()),
            }
            assert!(out.len() <= 1 << 16);
        }
        // Random bytes are almost never a valid stream.
        assert!(refused > 1800, "{refused} refused");
    }

    /// The decoder as it was before the bit reading was batched (commit 6764f39), kept as
    /// the reference the differential tests compare against: control bits one at a time
    /// from a counter, literal runs and matches through a plain `Vec` with the same checks
    /// in the same order as `LzOut`. The 0xFF-group shortcut is left out: it takes the
    /// same steps as the literal-run path it shortcuts.
    mod reference {
        use super::super::DecodeError;

        pub struct Out {
            pub buf: Vec<u8>,
            base: usize,
            max: usize,
        }

        impl Out {
            pub fn new(prefix: &[u8], max: usize) -> Out {
                Out {
                    buf: prefix.to_vec(),
                    base: prefix.len(),
                    max,
                }
            }

            fn produced(&self) -> usize {
                self.buf.len() - self.base
            }

            fn fits(&self, n: usize) -> bool {
                self.produced()
                    .checked_add(n)
                    .is_some_and(|e| e <= self.max)
            }

            /// As `LzOut::short_literals`: the input is checked first, then the limit.
            fn literals(&mut self, src: &[u8], at: usize, n: usize) -> Option<bool> {
                let exact = src.get(at..at.checked_add(n)?)?;
                if !self.fits(n) {
                    return Some(false);
                }
                self.buf.extend_from_slice(exact);
                Some(true)
            }

            /// As `LzOut::copy_match`, byte by byte.
            fn copy_match(&mut self, dist: usize, len: usize) -> Result<(), bool> {
                if dist == 0 || dist > self.produced() {
                    return Err(true);
                }
                if !self.fits(len) {
                    return Err(false);
                }
                for _ in 0..len {
                    let b = self.buf[self.buf.len() - dist];
                    self.buf.push(b);
                }
                Ok(())
            }
        }

        struct Bits<'a> {
            src: &'a [u8],
            pos: usize,
            bb: u32,
            bc: u32,
        }

        impl Bits<'_> {
            fn bit(&mut self) -> Result<u32, DecodeError> {
                if self.bc == 0 {
                    self.bb = u32::from(self.byte()?);
                    self.bc = 8;
                }
                self.bc -= 1;
                Ok((self.bb >> self.bc) & 1)
            }

            fn byte(&mut self) -> Result<u8, DecodeError> {
                match self.src.get(self.pos) {
                    Some(&b) => {
                        self.pos += 1;
                        Ok(b)
                    }
                    None => Err(DecodeError::at(self.pos, "UCL input overrun")),
                }
            }

            fn gamma(&mut self, cap: u32) -> Result<u32, DecodeError> {
                let mut v: u32 = 1;
                loop {
                    v = (v << 1) | self.bit()?;
                    if self.bit()? == 1 {
                        return Ok(v);
                    }
                    if v > cap {
                        return Err(DecodeError::at(self.pos, "UCL gamma code too long"));
                    }
                }
            }
        }

        pub fn decode(src: &[u8], out: &mut Out) -> Result<usize, DecodeError> {
            let mut b = Bits {
                src,
                pos: 0,
                bb: 0,
                bc: 0,
            };
            let mut last_m_off: usize = 1;
            loop {
                loop {
                    if b.bc == 0 {
                        b.bb = u32::from(b.byte()?);
                        b.bc = 8;
                    }
                    let run = ((b.bb << (32 - b.bc)) | ((1u32 << (32 - b.bc)) - 1)).leading_ones();
                    let run = run.min(b.bc) as usize;
                    if run > 0 {
                        match out.literals(b.src, b.pos, run) {
                            None => return Err(DecodeError::at(b.src.len(), "UCL input overrun")),
                            Some(false) => {
                                return Err(DecodeError::at(b.pos, "UCL output overrun"))
                            }
                            Some(true) => {}
                        }
                        b.pos += run;
                        b.bc -= run as u32;
                    }
                    if b.bc > 0 {
                        b.bc -= 1;
                        break;
                    }
                }
                let v = b.gamma(0x0100_0002)?;
                let m_off: usize;
                if v == 2 {
                    m_off = last_m_off;
                } else {
                    let hi = v
                        .checked_sub(3)
                        .ok_or(DecodeError::at(b.pos, "UCL bad offset code"))?;
                    let lo = u32::from(b.byte()?);
                    let off = (u64::from(hi) << 8) | u64::from(lo);
                    if off == 0xffff_ffff {
                        break;
                    }
                    if off > 0xffff_ffff {
                        return Err(DecodeError::at(b.pos, "UCL offset out of range"));
                    }
                    m_off = (off as usize) + 1;
                    last_m_off = m_off;
                }
                let mut m_len = ((b.bit()? << 1) | b.bit()?) as usize;
                if m_len == 0 {
                    m_len = b.gamma(0x7fff_ffff)? as usize + 2;
                }
                if m_off > 0xd00 {
                    m_len += 1;
                }
                let m_len = m_len + 1;
                match out.copy_match(m_off, m_len) {
                    Ok(()) => {}
                    Err(true) => {
                        return Err(DecodeError::at(
                            b.pos,
                            "UCL match offset before start of output",
                        ))
                    }
                    Err(false) => return Err(DecodeError::at(b.pos, "UCL output overrun")),
                }
            }
            if b.pos != src.len() {
                return Err(DecodeError::at(b.pos, "UCL input not fully consumed"));
            }
            Ok(out.produced())
        }
    }

    /// Output limits each stream is decoded under: `big`, tight ones that end it early,
    /// and ones around its real size.
    fn limits(src: &[u8], big: usize) -> Vec<usize> {
        let mut out = Vec::new();
        let whole = reference::decode(src, &mut reference::Out::new(&[], big));
        let mut l = vec![0, 1, 7, 8, 9, 100, big];
        if let Ok(n) = whole {
            l.extend([n.saturating_sub(1), n, n + 1, n / 2]);
        }
        for m in l {
            if !out.contains(&m) {
                out.push(m);
            }
        }
        out
    }

    /// The decoder against the reference on `src` with output limit `max_out`: the same
    /// result (size, or error offset and message) and the same output, whole or partial;
    /// also when resumed into a buffer with room past its end, as the IFS reader decodes.
    /// Returns the error message ("ok" for none), so tests can check what they reached.
    fn same_as_reference(src: &[u8], max_out: usize) -> &'static str {
        let prefix = b"before";
        let mut want = reference::Out::new(prefix, max_out);
        let want_r = reference::decode(src, &mut want);
        let mut got = prefix.to_vec();
        let got_r = nrv2b_decompress_8(src, &mut got, max_out);
        assert_eq!(got_r, want_r, "limit {max_out}, stream {src:02x?}");
        assert!(
            got == want.buf,
            "output differs: limit {max_out}, stream {src:02x?}"
        );
        let mut buf = prefix.to_vec();
        buf.resize(prefix.len() + 40, 0x5a);
        let r = decode(
            src,
            super::super::LzOut::resume(&mut buf, prefix.len(), max_out, 0),
        );
        assert_eq!(r, want_r, "resumed: limit {max_out}, stream {src:02x?}");
        match r {
            Ok(n) => {
                assert!(
                    buf[..prefix.len() + n] == want.buf[..],
                    "resumed output differs"
                );
                "ok"
            }
            Err(e) => e.message,
        }
    }

    /// What the streams of a test reached (results by error message), and the largest
    /// output limit they are decoded under.
    struct Seen(std::collections::BTreeMap<&'static str, usize>, usize);

    impl Default for Seen {
        fn default() -> Seen {
            Seen(Default::default(), 1 << 24)
        }
    }

    impl Seen {
        fn add(&mut self, message: &'static str) {
            *self.0.entry(message).or_default() += 1;
        }

        /// `src` under each of its limits.
        fn check(&mut self, src: &[u8]) {
            for max in limits(src, self.1) {
                self.add(same_as_reference(src, max));
            }
        }

        fn cut(&mut self, src: &[u8], cut: usize) {
            self.add(same_as_reference(&src[..cut], self.1));
        }

        fn assert_reached(&self, messages: &[&str]) {
            for m in messages {
                assert!(self.0.contains_key(m), "never reached {m:?}: {:?}", self.0);
            }
        }
    }

    /// Reproducible pseudo-random numbers (xorshift).
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u32 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            (self.0 >> 32) as u32
        }

        fn below(&mut self, n: u32) -> u32 {
            self.next() % n.max(1)
        }

        fn bytes(&mut self, n: usize) -> Vec<u8> {
            (0..n).map(|_| self.next() as u8).collect()
        }
    }

    /// A test encoder for what the others leave out: matches at any offset and length
    /// (long gamma codes, offsets past 0xd00, the last offset again), valid or not, and
    /// raw control bits.
    #[derive(Default)]
    struct Enc {
        w: BitWriter,
        /// Output size and last offset, as the decoder will have them.
        produced: usize,
        last_off: u32,
    }

    impl Enc {
        fn literal(&mut self, b: u8) {
            self.w.bit(1);
            self.w.out.push(b);
            self.produced += 1;
        }

        /// A match `m_off` back (None: the last offset again) with length code `len`
        /// (1 to 3 in two bits, more as a gamma code of `len - 2`).
        fn matched(&mut self, m_off: Option<u32>, len: u32) {
            self.w.bit(0);
            match m_off {
                None => self.w.gamma(2),
                Some(m) => {
                    let off = m - 1;
                    self.w.gamma((off >> 8) + 3);
                    self.w.out.push(off as u8);
                    self.last_off = m;
                }
            }
            if len <= 3 {
                self.w.bit(len >> 1);
                self.w.bit(len & 1);
            } else {
                self.w.bit(0);
                self.w.bit(0);
                self.w.gamma(len - 2);
            }
            let last = self.last_off.max(1);
            self.produced += len as usize + 1 + usize::from(last > 0xd00);
        }

        fn end(mut self) -> Vec<u8> {
            self.w.bit(0);
            self.w.gamma(0x0100_0002);
            self.w.out.push(0xff);
            self.w.out
        }
    }

    /// A stream of `tokens` random literal runs and matches. `far`: long matches that make
    /// the output large, so offsets go past 0xd00 and their gamma codes get long; `valid`:
    /// no offset before the start of the output.
    fn random_stream(rng: &mut Rng, tokens: usize, far: bool, valid: bool) -> Vec<u8> {
        let mut e = Enc::default();
        for _ in 0..tokens {
            if e.produced == 0 || rng.below(3) == 0 {
                for _ in 0..1 + rng.below(12) {
                    let b = rng.next() as u8;
                    e.literal(b);
                }
                continue;
            }
            let produced = e.produced.min(u32::MAX as usize / 2) as u32;
            let m_off = match rng.below(12) {
                0 => None,
                1 if !valid => Some(produced + 1 + rng.below(1000)),
                2 => Some(1 + rng.below(produced.min(16))),
                3 if far => Some(produced - rng.below(produced.min(100))),
                _ => Some(1 + rng.below(produced)),
            };
            let len = match rng.below(16) {
                0..=8 => 1 + rng.below(3),
                9..=13 => 4 + rng.below(40),
                14 if far => 4 + rng.below(20_000),
                14 => 4 + rng.below(300),
                _ => 4 + (1u32 << rng.below(if far { 18 } else { 9 })) + rng.below(64),
            };
            e.matched(m_off, len);
        }
        e.end()
    }

    /// Gamma codes that run to and past their caps (offsets: 0x1000002, lengths: 2^31 - 1),
    /// at every bit alignment: `pairs` pairs without a stop bit, then a stop or more input.
    fn long_gamma_stream(rng: &mut Rng, lead: usize, length: bool, pairs: u32) -> Vec<u8> {
        let mut e = Enc::default();
        for _ in 0..lead.max(1) {
            e.literal(rng.next() as u8);
        }
        e.w.bit(0);
        if length {
            // Offset 1, then the length code: 00 and its gamma code.
            e.w.gamma(3);
            e.w.out.push(0);
            e.w.bit(0);
            e.w.bit(0);
        }
        // The first data bit is 0 or 1; the rest random: values across the cap.
        for i in 0..pairs {
            e.w.bit(if i == 0 { rng.below(2) } else { rng.next() & 1 });
            e.w.bit(0);
        }
        match rng.below(3) {
            0 => {
                e.w.bit(rng.next() & 1);
                e.w.bit(1);
                e.w.out.extend(rng.bytes(4));
            }
            1 => e.w.out.extend(rng.bytes(8)),
            _ => {}
        }
        e.w.out
    }

    /// `src` with one random change: a bit flipped, a byte replaced, dropped or added.
    fn mutate(rng: &mut Rng, src: &[u8]) -> Vec<u8> {
        let mut d = src.to_vec();
        if d.is_empty() {
            return rng.bytes(1);
        }
        let at = rng.below(d.len() as u32) as usize;
        match rng.below(4) {
            0 => d[at] ^= 1 << rng.below(8),
            1 => d[at] = rng.next() as u8,
            2 => {
                d.remove(at);
            }
            _ => d.insert(at, rng.next() as u8),
        }
        d
    }

    #[test]
    fn same_as_the_bit_by_bit_decoder_on_valid_streams_and_every_truncation() {
        let mut rng = Rng(0x22156);
        let mut streams = Vec::new();
        for i in 0..45 {
            let data = rng.bytes(i * 7 % 150);
            streams.push(nrv2b_encode_literals(&data));
            let runs: Vec<u8> = data.iter().map(|&b| b % 3).collect();
            streams.push(nrv2b_encode_runs(&runs));
            streams.push(random_stream(&mut rng, 1 + i % 40, false, true));
        }
        let mut seen = Seen::default();
        for src in &streams {
            seen.check(src);
            for cut in 0..src.len() {
                seen.cut(src, cut);
            }
            seen.add(same_as_reference(&[src, &b"!"[..]].concat(), 1 << 24));
            for _ in 0..20 {
                seen.add(same_as_reference(&mutate(&mut rng, src), 1 << 24));
            }
        }
        seen.assert_reached(&[
            "ok",
            "UCL input overrun",
            "UCL output overrun",
            "UCL match offset before start of output",
            "UCL input not fully consumed",
        ]);
    }

    #[test]
    fn same_as_the_bit_by_bit_decoder_on_long_matches_and_far_offsets() {
        let mut rng = Rng(0x00c0_ffee);
        let mut seen = Seen::default();
        let mut far = 0;
        for i in 0..30 {
            let src = random_stream(&mut rng, 30 + i * 4, true, i % 4 != 0);
            let mut out = Vec::new();
            if nrv2b_decompress_8(&src, &mut out, 1 << 24).is_ok() && out.len() > 0x10000 {
                far += 1;
            }
            seen.check(&src);
            for _ in 0..30 {
                seen.cut(&src, rng.below(src.len() as u32) as usize);
                seen.add(same_as_reference(&mutate(&mut rng, &src), 1 << 24));
            }
        }
        assert!(far >= 8, "only {far} streams went past 64 KiB");
        seen.assert_reached(&[
            "ok",
            "UCL input overrun",
            "UCL output overrun",
            "UCL match offset before start of output",
        ]);
    }

    #[test]
    fn same_as_the_bit_by_bit_decoder_at_the_gamma_caps() {
        let mut rng = Rng(0xbad_a110c);
        // Lengths near the cap fail on the output limit: a small one is as good as any.
        let mut seen = Seen(Default::default(), 1 << 12);
        for lead in 0..16 {
            for pairs in (20..=26).chain(28..=33) {
                for length in [false, true] {
                    let src = long_gamma_stream(&mut rng, lead, length, pairs);
                    seen.check(&src);
                    for cut in 0..src.len() {
                        seen.cut(&src, cut);
                    }
                }
            }
        }
        // Complete codes for values around the caps (and the end marker's 0x1000002).
        for v in [
            0x00ff_ffff,
            0x0100_0001,
            0x0100_0002,
            0x0100_0003,
            0x0100_0004,
            0x0200_0005,
            0x0200_0006,
            0x7fff_ffff,
            0x8000_0000,
            0xffff_ffff,
        ] {
            for lead in 0..9 {
                for length in [false, true] {
                    let mut e = Enc::default();
                    for _ in 0..lead.max(1) {
                        e.literal(lead as u8);
                    }
                    e.w.bit(0);
                    if length {
                        // Offset 1, length code 00 and the value.
                        e.w.gamma(3);
                        e.w.out.push(0);
                        e.w.bit(0);
                        e.w.bit(0);
                        e.w.gamma(v);
                    } else {
                        e.w.gamma(v);
                        e.w.out.push(0xff);
                        e.w.bit(1);
                        e.w.bit(1);
                    }
                    let src = e.end();
                    seen.check(&src);
                    for cut in 0..src.len() {
                        seen.cut(&src, cut);
                    }
                }
            }
        }
        seen.assert_reached(&[
            "ok",
            "UCL gamma code too long",
            "UCL offset out of range",
            "UCL input overrun",
            "UCL output overrun",
        ]);
    }

    #[test]
    fn same_as_the_bit_by_bit_decoder_on_garbage() {
        let mut rng = Rng(0x5eed);
        let mut seen = Seen::default();
        for len in 0..3000 {
            let mut src = rng.bytes(len % 131);
            // Mostly-ones bit bytes keep garbage decoding for longer.
            if len % 3 == 0 {
                for b in src.iter_mut().step_by(3) {
                    *b |= 0xf0;
                }
            }
            for max in [0, 5, 1 << 16] {
                seen.add(same_as_reference(&src, max));
            }
        }
        seen.assert_reached(&[
            "UCL input overrun",
            "UCL output overrun",
            "UCL match offset before start of output",
        ]);
    }

    #[test]
    fn same_as_the_bit_by_bit_decoder_on_libucl_streams() {
        let mut rng = Rng(99);
        let mut seen = Seen::default();
        for src in [
            &include_bytes!("../../../fixtures/compressors/text.ucl")[..],
            include_bytes!("../../../fixtures/compressors/random.ucl"),
            include_bytes!("../../../fixtures/compressors/zeros.ucl"),
            include_bytes!("../../../fixtures/compressors/one.ucl"),
            include_bytes!("../../../fixtures/compressors/elf.ucl"),
        ] {
            seen.check(src);
            let step = 1 + src.len() / 150;
            for cut in (0..src.len())
                .step_by(step)
                .chain(src.len().saturating_sub(40)..src.len())
            {
                seen.cut(src, cut);
            }
            for _ in 0..100 {
                seen.add(same_as_reference(&mutate(&mut rng, src), 1 << 24));
            }
        }
        seen.assert_reached(&["ok", "UCL input overrun", "UCL output overrun"]);
    }

    #[test]
    fn same_as_the_bit_by_bit_decoder_on_the_corpus_images() {
        // The UCL blocks of real mkifs images (../shared/corpus beside the checkout), whole
        // and damaged.
        use crate::test_skip::{corpus_dir, skip_missing, Lack};
        let dir = corpus_dir().join("qnx");
        let mut rng = Rng(0x1f5);
        for name in ["openqnx-641-x86.ifs", "sdp660-armle-omap5-sd.ifs"] {
            let Ok(d) = std::fs::read(dir.join(name)) else {
                skip_missing(Lack::Corpus, &format!("corpus image {name}"));
                continue;
            };
            let ifs = super::super::ifs::Ifs::open(&d, &super::super::Limits::default())
                .expect("corpus image opens");
            let sh = ifs.info().startup.clone().expect("startup header");
            let mut pos = (sh.offset + u64::from(sh.startup_size)) as usize;
            let mut seen = Seen::default();
            loop {
                let len = usize::from(u16::from_be_bytes([d[pos], d[pos + 1]]));
                pos += 2;
                if len == 0 {
                    break;
                }
                let block = &d[pos..pos + len];
                seen.add(same_as_reference(block, 1 << 16));
                for _ in 0..2 {
                    seen.cut(block, rng.below(len as u32) as usize);
                    seen.add(same_as_reference(&mutate(&mut rng, block), 1 << 16));
                }
                pos += len;
            }
            assert!(
                seen.0.get("ok").is_some_and(|&n| n > 10),
                "{name}: {:?}",
                seen.0
            );
        }
    }
}
