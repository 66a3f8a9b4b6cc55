//! LZO1X decompression, bounded and bounds-checked (the `lzo1x_decompress_safe` semantics).
//!
//! Written from the documented LZO1X stream format (instruction classes M1..M4 with the
//! two "state" bits that say how many literals follow each match). lzokay-native decodes the
//! same format but can panic and grows its output without limit on hostile input, so it is
//! used only as a *compressor* in tests.

use super::{DecodeError, LzOut};

struct Input<'a> {
    src: &'a [u8],
    pos: usize,
}

impl Input<'_> {
    #[inline(always)]
    fn byte(&mut self) -> Result<usize, DecodeError> {
        match self.src.get(self.pos) {
            Some(&b) => {
                self.pos += 1;
                Ok(usize::from(b))
            }
            None => Err(DecodeError::at(self.pos, "LZO input overrun")),
        }
    }

    #[inline(always)]
    fn le16(&mut self) -> Result<usize, DecodeError> {
        let lo = self.byte()?;
        let hi = self.byte()?;
        Ok(lo | (hi << 8))
    }

    /// A run of zero bytes (255 each) followed by a non-zero byte, added to `base`.
    fn long_len(&mut self, base: usize) -> Result<usize, DecodeError> {
        let mut len = base;
        loop {
            let b = self.byte()?;
            if b != 0 {
                return len
                    .checked_add(b)
                    .ok_or(DecodeError::at(self.pos, "LZO length overflow"));
            }
            len = len
                .checked_add(255)
                .ok_or(DecodeError::at(self.pos, "LZO length overflow"))?;
        }
    }

    fn literals(&mut self, n: usize, out: &mut LzOut) -> Result<(), DecodeError> {
        let end = self
            .pos
            .checked_add(n)
            .ok_or(DecodeError::at(self.pos, "LZO input overrun"))?;
        if n <= 8 {
            // The common case: 1 to 3 literals after a match.
            return match out.short_literals(self.src, self.pos, n) {
                None => Err(DecodeError::at(self.pos, "LZO input overrun")),
                Some(false) => Err(out.stopped(self.pos, "LZO output overrun")),
                Some(true) => {
                    self.pos = end;
                    Ok(())
                }
            };
        }
        match out.literals(self.src, self.pos, n) {
            None => return Err(DecodeError::at(self.pos, "LZO input overrun")),
            Some(false) => return Err(out.stopped(self.pos, "LZO output overrun")),
            Some(true) => {}
        }
        self.pos = end;
        Ok(())
    }
}

#[inline(always)]
fn copy_match(out: &mut LzOut, dist: usize, len: usize, pos: usize) -> Result<(), DecodeError> {
    match out.copy_match(dist, len) {
        Ok(()) => Ok(()),
        Err(true) => Err(DecodeError::at(pos, "LZO lookbehind overrun")),
        Err(false) => Err(out.stopped(pos, "LZO output overrun")),
    }
}

/// Decompress one LZO1X stream (as written by `lzo1x_1_compress` / `lzo1x_999_compress`),
/// appending to `out`; fails when the output would grow by more than `max_out`, on any
/// out-of-range reference, on truncation, and when input remains after the end marker.
pub fn lzo1x_decompress(
    src: &[u8],
    out: &mut Vec<u8>,
    max_out: usize,
) -> Result<usize, DecodeError> {
    decode(src, LzOut::new(out, max_out))
}

/// The decoder, writing through `out` (see `LzOut::new`, `LzOut::resume`).
pub(crate) fn decode(src: &[u8], mut out: LzOut<'_>) -> Result<usize, DecodeError> {
    let mut inp = Input { src, pos: 0 };
    // `state`: literals copied by the previous instruction (0..3, or 4 for a long run).
    let mut state: usize = 0;

    let first = *src.first().ok_or(DecodeError::at(0, "LZO input overrun"))? as usize;
    if first >= 22 {
        inp.pos = 1;
        inp.literals(first - 17, &mut out)?;
        state = 4;
    } else if first >= 18 {
        inp.pos = 1;
        state = first - 17;
        inp.literals(state, &mut out)?;
    }

    loop {
        let at = inp.pos;
        let inst = inp.byte()?;
        let (dist, len, next_state);
        if inst >= 64 {
            // M2: 1LLDDDSS HHHHHHHH (len 5..8) or 01LDDDSS HHHHHHHH (len 3..4).
            let h = inp.byte()?;
            dist = (h << 3) + ((inst >> 2) & 7) + 1;
            len = (inst >> 5) + 1;
            next_state = inst & 3;
        } else if inst >= 32 {
            // M3: 001LLLLL [len ext] DDDDDDDD DDDDDDSS, distance up to 16 KiB.
            len = if inst & 31 == 0 {
                inp.long_len(31)? + 2
            } else {
                (inst & 31) + 2
            };
            let d = inp.le16()?;
            dist = (d >> 2) + 1;
            next_state = d & 3;
        } else if inst >= 16 {
            // M4: 0001HLLL [len ext] DDDDDDDD DDDDDDSS, distance 16..48 KiB; end marker.
            len = if inst & 7 == 0 {
                inp.long_len(7)? + 2
            } else {
                (inst & 7) + 2
            };
            let d = inp.le16()?;
            let far = ((inst & 8) << 11) + (d >> 2);
            if far == 0 {
                // End of stream (distance 16384): must be the 3-byte marker 0x11 0x00 0x00.
                if len != 3 {
                    return Err(DecodeError::at(at, "LZO bad end-of-stream marker"));
                }
                break;
            }
            dist = far + 16384;
            next_state = d & 3;
        } else if state == 0 {
            // Long literal run: 0000LLLL [len ext].
            let n = if inst == 0 {
                inp.long_len(15)? + 3
            } else {
                inst + 3
            };
            inp.literals(n, &mut out)?;
            state = 4;
            continue;
        } else if state < 4 {
            // M1 after 1..3 literals: 2-byte match within 1 KiB.
            let h = inp.byte()?;
            dist = (h << 2) + (inst >> 2) + 1;
            len = 2;
            next_state = inst & 3;
        } else {
            // M1 after a long literal run: 3-byte match at 2..3 KiB.
            let h = inp.byte()?;
            dist = (h << 2) + (inst >> 2) + 2049;
            len = 3;
            next_state = inst & 3;
        }
        copy_match(&mut out, dist, len, at)?;
        state = next_state;
        if state > 0 {
            inp.literals(state, &mut out)?;
        }
    }
    if inp.pos != src.len() {
        return Err(DecodeError::at(inp.pos, "LZO input not fully consumed"));
    }
    Ok(out.produced())
}

/// Encode `src` as an LZO1X stream made of one literal run (for tests without liblzo).
pub fn lzo1x_encode_literals(src: &[u8]) -> Vec<u8> {
    let n = src.len();
    let mut out = Vec::with_capacity(n + n / 255 + 8);
    if n == 0 {
    } else if n <= 238 {
        out.push((n + 17) as u8);
    } else {
        // Instruction 0 with state 0: run of 3 + 15 + (zeros * 255) + last byte literals.
        out.push(0);
        let mut r = n - 18;
        while r > 255 {
            out.push(0);
            r -= 255;
        }
        if r == 0 {
            // Cannot encode a terminal zero: steal one 255 back.
            out.pop();
            r = 255;
        }
        out.push(r as u8);
    }
    out.extend_from_slice(src);
    out.extend_from_slice(&[0x11, 0, 0]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literal_round_trip() {
        for n in [1usize, 2, 3, 4, 17, 18, 238, 239, 300, 70000] {
            let data: Vec<u8> = (0..n).map(|i| (i * 7 % 251) as u8).collect();
            let enc = lzo1x_encode_literals(&data);
            let mut out = Vec::new();
            lzo1x_decompress(&enc, &mut out, 1 << 20).unwrap();
            assert_eq!(out, data, "n={n}");
        }
    }

    #[test]
    fn lzokay_round_trip() {
        let mut data = Vec::new();
        for i in 0..20000u32 {
            data.extend_from_slice(format!("line {} {}\n", i % 97, i % 13).as_bytes());
        }
        let enc = lzokay_native::compress(&data).unwrap();
        let mut out = Vec::new();
        lzo1x_decompress(&enc, &mut out, 1 << 24).unwrap();
        assert_eq!(out, data);
        // Bounded.
        let mut out = Vec::new();
        assert!(lzo1x_decompress(&enc, &mut out, 1000).is_err());
        assert!(out.len() <= 1000);
    }

    #[test]
    fn garbage_never_panics() {
        let mut refused = 0;
        let mut x: u32 = 99;
        for len in 0..3000 {
            let data: Vec<u8> = (0..len % 131)
                .map(|_| {
                    x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
                    (x >> 16) as u8
                })
                .collect();
            let mut out = Vec::new();
            match lzo1x_decompress(&data, &mut out, 1 << 16) {
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
}
