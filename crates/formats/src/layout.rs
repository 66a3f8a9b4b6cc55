//! The declared byte layouts of the container headers (IFS startup and image headers and
//! directory entries, QNX4 inodes, QNX6 superblocks and tree roots, EFS and ETFS
//! structures), read with nom's endian-aware number parsers and combinators: each format's
//! `parse_*` functions state a layout field by field, in order, instead of computing offsets
//! by hand. What a layout parser gives is then checked by its reader as before; these
//! parsers only say whether the bytes are there (`None`: the input is too short, or a
//! `verify` of a magic failed). Hot loops (decoders, carving scans) do not use them.

use nom::number::complete::{u16, u32, u64};
use nom::number::Endianness;
use nom::Parser;

use crate::Endian;

/// What a layout parser returns: the rest of the input and the value; no error detail (the
/// readers locate their errors themselves, at the structure's offset).
pub(crate) type Parsed<'a, T> = nom::IResult<&'a [u8], T, ()>;

impl From<Endian> for Endianness {
    fn from(e: Endian) -> Endianness {
        match e {
            Endian::Little => Endianness::Little,
            Endian::Big => Endianness::Big,
        }
    }
}

/// Run a layout parser on `input`; the value, when the layout fits.
pub(crate) fn parse_with<'a, T>(
    input: &'a [u8],
    mut parser: impl Parser<&'a [u8], Output = T, Error = ()>,
) -> Option<T> {
    parser.parse(input).ok().map(|(_, v)| v)
}

/// A `u16` in byte order `e`.
pub(crate) fn u16_in<'a>(e: Endian) -> impl Fn(&'a [u8]) -> Parsed<'a, u16> + Clone {
    move |input| u16(Endianness::from(e))(input)
}

/// A `u32` in byte order `e`.
pub(crate) fn u32_in<'a>(e: Endian) -> impl Fn(&'a [u8]) -> Parsed<'a, u32> + Clone {
    move |input| u32(Endianness::from(e))(input)
}

/// A `u64` in byte order `e`.
pub(crate) fn u64_in<'a>(e: Endian) -> impl Fn(&'a [u8]) -> Parsed<'a, u64> + Clone {
    move |input| u64(Endianness::from(e))(input)
}

/// `N` consecutive `u32` in byte order `e`.
pub(crate) fn u32s<'a, const N: usize>(e: Endian) -> impl Fn(&'a [u8]) -> Parsed<'a, [u32; N]> {
    move |input| {
        let mut out = [0u32; N];
        let (rest, ()) = nom::multi::fill(u32_in(e), &mut out).parse(input)?;
        Ok((rest, out))
    }
}

/// Skip `n` bytes (reserved or unused fields of a layout).
pub(crate) fn skip<'a>(n: usize) -> impl Parser<&'a [u8], Output = &'a [u8], Error = ()> {
    nom::bytes::complete::take(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_follow_the_byte_order_and_short_input_fails() {
        let b = [1u8, 2, 3, 4, 5, 6, 7, 8, 9];
        assert_eq!(parse_with(&b, u32_in(Endian::Little)), Some(0x0403_0201));
        assert_eq!(parse_with(&b, u32_in(Endian::Big)), Some(0x0102_0304));
        assert_eq!(parse_with(&b, u16_in(Endian::Big)), Some(0x0102));
        assert_eq!(
            parse_with(&b, u64_in(Endian::Little)),
            Some(0x0807_0605_0403_0201)
        );
        assert_eq!(
            parse_with(&b, u32s::<2>(Endian::Big)),
            Some([0x0102_0304, 0x0506_0708])
        );
        assert_eq!(parse_with(&b, u32s::<3>(Endian::Big)), None);
        assert_eq!(parse_with(&b, (skip(8), u16_in(Endian::Little))), None);
    }
}
