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
struct Bits<'a> {
    src: &'a [u8],
    pos: usize,
    bb: u32,
    bc: u32,
}

impl<'a> Bits<'a> {
    #[inline(always)]
    fn bit(&mut self) -> Result<u32, DecodeError> {
        if self.bc == 0 {
            self.bb = u32::from(self.byte()?);
            self.bc = 8;
        }
        self.bc -= 1;
        Ok((self.bb >> self.bc) & 1)
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
    #[inline(always)]
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

/// The decoder, writing through `out` (see `LzOut::new`, `LzOut::resume`).
pub(crate) fn decode(src: &[u8], mut out: super::LzOut<'_>) -> Result<usize, DecodeError> {
    let mut b = Bits {
        src,
        pos: 0,
        bb: 0,
        bc: 0,
    };
    let mut last_m_off: usize = 1;
    loop {
        // Literals: a run of `1` bits left in the current bit byte is a run of literal
        // bytes that sit together in the stream, copied at once (images of code and data
        // are mostly literals, so this is the decoder's hot loop).
        loop {
            if b.bc == 0 {
                // Bit bytes of eight 1s, each followed by its eight literals: how mkifs
                // codes incompressible data (compressed payloads, media). Copied eight at a
                // time without the bit loop; anything else (or an error) takes the path below.
                while b.src.get(b.pos) == Some(&0xff) {
                    if out.short_literals(b.src, b.pos + 1, 8) != Some(true) {
                        break;
                    }
                    b.pos += 9;
                }
                b.bb = u32::from(b.byte()?);
                b.bc = 8;
            }
            // Ones at the top of the `bc` unread bits.
            let run = ((b.bb << (32 - b.bc)) | ((1u32 << (32 - b.bc)) - 1)).leading_ones();
            let run = run.min(b.bc) as usize;
            if run > 0 {
                match out.short_literals(b.src, b.pos, run) {
                    None => return Err(DecodeError::at(b.src.len(), "UCL input overrun")),
                    Some(false) => return Err(DecodeError::at(b.pos, "UCL output overrun")),
                    Some(true) => {}
                }
                b.pos += run;
                b.bc -= run as u32;
            }
            if b.bc > 0 {
                // The next bit is a 0: a match follows.
                b.bc -= 1;
                break;
            }
        }
        // Offsets: the end marker has v = 0x1000002; nothing larger is meaningful.
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
            Err(false) => return Err(DecodeError::at(b.pos, "UCL output overrun")),
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
    fn garbage_never_panics() {
        let mut x: u32 = 12345;
        for len in 0..2000 {
            let data: Vec<u8> = (0..len % 97)
                .map(|_| {
                    x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
                    (x >> 16) as u8
                })
                .collect();
            let mut out = Vec::new();
            let _ = nrv2b_decompress_8(&data, &mut out, 1 << 16);
            assert!(out.len() <= 1 << 16);
        }
    }
}
