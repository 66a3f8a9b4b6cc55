use yaxpeax_arch::{Decoder, U8Reader};
use yaxpeax_arm::armv7::InstDecoder;
fn main() {
    for w in [0xe28fc600u32, 0xe28cca01, 0xe5bcfe50] {
        let b = w.to_le_bytes();
        let mut r = U8Reader::new(&b);
        let i = InstDecoder::default().decode(&mut r);
        println!("{:?}", i.map(|i| (i.opcode, i.operands, i.s)));
    }
}
