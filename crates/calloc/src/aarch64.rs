//! AArch64 lifter (yaxpeax-arm a64).

use yaxpeax_arch::{Decoder, U8Reader};
use yaxpeax_arm::armv8::a64::{InstDecoder, Instruction, Opcode, Operand, ShiftStyle, SizeCode};

use smallvec::smallvec;

use super::ir::{ArgLoc, Cond, Insn, Lifter, Op, Opnd, Ops, Reg, Target};
use badalloc_elf::ElfFile;

const SP: Reg = 31;
/// Pseudo register for xzr/wzr: reads as 0, writes vanish.
const ZR: Reg = 32;
/// Scratch register for shifted-register operands (`cmp xzr, x2, lsr #32`).
const TMP: Reg = 34;
const CALLER_SAVED: [Reg; 21] = [
    0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 30, 34,
];

pub struct A64<'e> {
    elf: &'e ElfFile<'e>,
    dec: InstDecoder,
}

fn cond(c: u8) -> Cond {
    match c & 0xf {
        0 => Cond::Eq,
        1 => Cond::Ne,
        2 => Cond::Uge,
        3 => Cond::Ult,
        8 => Cond::Ugt,
        9 => Cond::Ule,
        10 => Cond::Sge,
        11 => Cond::Slt,
        12 => Cond::Sgt,
        13 => Cond::Sle,
        _ => Cond::Other,
    }
}

impl<'e> A64<'e> {
    pub fn new(elf: &'e ElfFile<'e>) -> A64<'e> {
        A64 {
            elf,
            dec: InstDecoder::default(),
        }
    }

    fn decode(&self, addr: u64) -> Result<Instruction, String> {
        let b = self
            .elf
            .code_at(addr)
            .ok_or_else(|| format!("{addr:#x} is outside the executable segments"))?;
        let b = b
            .get(..4)
            .ok_or_else(|| format!("truncated instruction at {addr:#x}"))?;
        // AArch64 instructions are always little-endian.
        let mut r = U8Reader::new(b);
        self.dec
            .decode(&mut r)
            .map_err(|e| format!("undecodable AArch64 instruction at {addr:#x}: {e}"))
    }

    /// Operand as a value (reads).
    fn src(&self, o: &Operand) -> Opnd {
        match o {
            Operand::Register(_, 31) => Opnd::Imm(0),
            Operand::Register(_, r) | Operand::RegisterOrSP(_, r) => Opnd::Reg(*r),
            Operand::Immediate(v) => Opnd::Imm(u64::from(*v)),
            Operand::Imm64(v) => Opnd::Imm(*v),
            Operand::Imm16(v) => Opnd::Imm(u64::from(*v)),
            Operand::ImmShift(v, s) => Opnd::Imm(u64::from(*v) << (u32::from(*s) & 63)),
            Operand::RegShift(ShiftStyle::LSL, 0, _, r) => {
                if *r == 31 {
                    Opnd::Imm(0)
                } else {
                    Opnd::Reg(*r)
                }
            }
            Operand::RegShift(ShiftStyle::UXTX | ShiftStyle::UXTW, 0, _, r) => Opnd::Reg(*r),
            _ => Opnd::Unknown,
        }
    }

    /// Operand as a destination (writes).
    fn dst(o: &Operand) -> Opnd {
        match o {
            Operand::Register(_, 31) => Opnd::Unknown,
            Operand::Register(_, r) | Operand::RegisterOrSP(_, r) => Opnd::Reg(*r),
            _ => Opnd::Unknown,
        }
    }

    fn is_zr(o: &Operand) -> bool {
        matches!(o, Operand::Register(_, 31))
    }

    fn wide(o: &Operand) -> bool {
        matches!(
            o,
            Operand::Register(SizeCode::X, _) | Operand::RegisterOrSP(SizeCode::X, _)
        )
    }

    fn mem(o: &Operand) -> Option<(Reg, i64, bool, bool)> {
        match o {
            Operand::RegPreIndex(r, off, wb) => Some((*r, i64::from(*off), *wb, false)),
            Operand::RegPostIndex(r, off) => Some((*r, i64::from(*off), true, true)),
            _ => None,
        }
    }

    fn read_u64(&self, a: u64) -> Option<u64> {
        let b = self.elf.bytes_at(a)?;
        let w: [u8; 8] = b.get(..8)?.try_into().ok()?;
        Some(u64::from_le_bytes(w))
    }

    fn lift_ops(&self, addr: u64, i: &Instruction) -> Ops {
        let o = &i.operands;
        let d = Self::dst(&o[0]);
        use Opcode as O;
        let wmask = |v: u64| {
            if Self::wide(&o[0]) {
                v
            } else {
                v & 0xffff_ffff
            }
        };
        match i.opcode {
            O::ORR if Self::is_zr(&o[1]) => smallvec![Op::Move {
                dst: d,
                src: self.src(&o[2]),
            }],
            O::ORR => smallvec![Op::Or {
                dst: d,
                a: self.src(&o[1]),
                b: self.src(&o[2]),
            }],
            O::MOVZ => match self.src(&o[1]) {
                Opnd::Imm(v) => smallvec![Op::Move {
                    dst: d,
                    src: Opnd::Imm(wmask(v)),
                }],
                _ => smallvec![Op::Clobber { dst: d }],
            },
            O::MOVN => match self.src(&o[1]) {
                Opnd::Imm(v) => smallvec![Op::Move {
                    dst: d,
                    src: Opnd::Imm(wmask(!v)),
                }],
                _ => smallvec![Op::Clobber { dst: d }],
            },
            O::ADD | O::SUB | O::ADDS | O::SUBS => {
                let a = self.src(&o[1]);
                let mut v = Ops::new();
                let b = match o[2] {
                    Operand::RegShift(ShiftStyle::LSR, k, _, r) if k > 0 => {
                        v.push(Op::Shr {
                            dst: Opnd::Reg(TMP),
                            a: if r == 31 { Opnd::Imm(0) } else { Opnd::Reg(r) },
                            amount: u32::from(k),
                        });
                        Opnd::Reg(TMP)
                    }
                    _ => self.src(&o[2]),
                };
                let sub = matches!(i.opcode, O::SUB | O::SUBS);
                if i.opcode == O::SUBS {
                    v.push(Op::Cmp { fl: 0, a, b });
                }
                v.push(Op::Add { dst: d, a, b, sub });
                if i.opcode == O::ADDS {
                    v.push(Op::FlagsClobber);
                }
                v
            }
            O::AND | O::ANDS => {
                let a = self.src(&o[1]);
                let mut v = Ops::new();
                let b = match o[2] {
                    Operand::RegShift(ShiftStyle::LSR, k, _, r) if k > 0 => {
                        v.push(Op::Shr {
                            dst: Opnd::Reg(TMP),
                            a: if r == 31 { Opnd::Imm(0) } else { Opnd::Reg(r) },
                            amount: u32::from(k),
                        });
                        Opnd::Reg(TMP)
                    }
                    _ => self.src(&o[2]),
                };
                if i.opcode == O::ANDS {
                    v.push(Op::Test { fl: 0, a, b });
                }
                v.push(Op::And { dst: d, a, b });
                v
            }
            O::UBFM => {
                let (immr, imms) = match (&o[2], &o[3]) {
                    (Operand::Immediate(r), Operand::Immediate(s)) => (*r, *s),
                    _ => return smallvec![Op::Clobber { dst: d }],
                };
                let top = if Self::wide(&o[0]) { 63 } else { 31 };
                if imms == top {
                    smallvec![Op::Shr {
                        dst: d,
                        a: self.src(&o[1]),
                        amount: immr,
                    }]
                } else if immr == 0 && (imms == 7 || imms == 15 || imms == 31) {
                    smallvec![Op::Move {
                        dst: d,
                        src: self.src(&o[1]),
                    }]
                } else {
                    smallvec![Op::Clobber { dst: d }]
                }
            }
            O::MADD if Self::is_zr(&o[3]) => smallvec![Op::Mul {
                lo: Some(d),
                hi: None,
                a: self.src(&o[1]),
                b: self.src(&o[2]),
                hi_unsigned: false,
                flags_ovf: false,
            }],
            // `madd d, a, b, c` = a*b + c: gcc -O0 adds the cross terms of a 128-bit product
            // into its high word this way (they fold to 0 when a factor's high half is 0).
            O::MADD => smallvec![
                Op::Mul {
                    lo: Some(Opnd::Reg(TMP)),
                    hi: None,
                    a: self.src(&o[1]),
                    b: self.src(&o[2]),
                    hi_unsigned: false,
                    flags_ovf: false,
                },
                Op::Add {
                    dst: d,
                    a: Opnd::Reg(TMP),
                    b: self.src(&o[3]),
                    sub: false,
                },
            ],
            O::UMULH => smallvec![Op::Mul {
                lo: None,
                hi: Some(d),
                a: self.src(&o[1]),
                b: self.src(&o[2]),
                hi_unsigned: true,
                flags_ovf: false,
            }],
            O::UDIV => smallvec![Op::Div {
                quot: Some(d),
                rem: None,
                num: self.src(&o[1]),
                num_hi: None,
                den: self.src(&o[2]),
            }],
            O::CSINC if Self::is_zr(&o[1]) && Self::is_zr(&o[2]) => match o[3] {
                // cset rd, cond  ==  csinc rd, zr, zr, !cond
                Operand::ConditionCode(c) => smallvec![Op::SetCond {
                    dst: d,
                    fl: 0,
                    cond: cond(c).negate(),
                }],
                _ => smallvec![Op::Clobber { dst: d }],
            },
            O::CCMP => match (&o[2], &o[3]) {
                (Operand::Immediate(nzcv), Operand::ConditionCode(c)) => smallvec![Op::Ccmp {
                    a: self.src(&o[0]),
                    b: self.src(&o[1]),
                    nzcv: (*nzcv & 0xf) as u8,
                    cond: cond(*c),
                }],
                _ => smallvec![Op::FlagsClobber],
            },
            O::CCMN => smallvec![Op::FlagsClobber],
            O::ADRP => match o[1] {
                Operand::PCOffset(off) => smallvec![Op::Move {
                    dst: d,
                    src: Opnd::Imm((addr & !0xfff).wrapping_add(off as u64)),
                }],
                _ => smallvec![Op::Clobber { dst: d }],
            },
            O::ADR => match o[1] {
                Operand::PCOffset(off) => smallvec![Op::Move {
                    dst: d,
                    src: Opnd::Imm(addr.wrapping_add(off as u64)),
                }],
                _ => smallvec![Op::Clobber { dst: d }],
            },
            O::LDR
            | O::LDUR
            | O::LDRB
            | O::LDRH
            | O::LDURB
            | O::LDURH
            | O::LDRSW
            | O::LDURSW
            | O::LDRSB
            | O::LDRSH => {
                if let Operand::PCOffset(off) = o[1] {
                    let lit = addr.wrapping_add(off as u64);
                    return match (i.opcode, self.read_u64(lit)) {
                        (O::LDR, Some(v)) => smallvec![Op::Move {
                            dst: d,
                            src: Opnd::Imm(wmask(v)),
                        }],
                        _ => smallvec![Op::Clobber { dst: d }],
                    };
                }
                let Some((base, off, wb, post)) = Self::mem(&o[1]) else {
                    return smallvec![Op::Clobber { dst: d }];
                };
                let mut v = smallvec![Op::Move {
                    dst: d,
                    src: Opnd::Mem {
                        base,
                        disp: if post { 0 } else { off },
                    },
                }];
                if wb {
                    v.push(Op::Add {
                        dst: Opnd::Reg(base),
                        a: Opnd::Reg(base),
                        b: Opnd::Imm(off as u64),
                        sub: false,
                    });
                }
                v
            }
            O::STR | O::STUR | O::STRB | O::STRH | O::STURB | O::STURH => {
                let Some((base, off, wb, post)) = Self::mem(&o[1]) else {
                    return smallvec![];
                };
                let mut v = smallvec![Op::Move {
                    dst: Opnd::Mem {
                        base,
                        disp: if post { 0 } else { off },
                    },
                    src: self.src(&o[0]),
                }];
                if wb {
                    v.push(Op::Add {
                        dst: Opnd::Reg(base),
                        a: Opnd::Reg(base),
                        b: Opnd::Imm(off as u64),
                        sub: false,
                    });
                }
                v
            }
            O::LDP | O::STP => {
                let Some((base, off, wb, post)) = Self::mem(&o[2]) else {
                    return if i.opcode == O::LDP {
                        smallvec![
                            Op::Clobber { dst: d },
                            Op::Clobber {
                                dst: Self::dst(&o[1]),
                            },
                        ]
                    } else {
                        smallvec![]
                    };
                };
                let size = if Self::wide(&o[0]) { 8 } else { 4 };
                let first = if post { 0 } else { off };
                let m1 = Opnd::Mem { base, disp: first };
                let m2 = Opnd::Mem {
                    base,
                    disp: first + size,
                };
                let mut v = if i.opcode == O::LDP {
                    smallvec![
                        Op::Move { dst: d, src: m1 },
                        Op::Move {
                            dst: Self::dst(&o[1]),
                            src: m2,
                        },
                    ]
                } else {
                    smallvec![
                        Op::Move {
                            dst: m1,
                            src: self.src(&o[0]),
                        },
                        Op::Move {
                            dst: m2,
                            src: self.src(&o[1]),
                        },
                    ]
                };
                if wb {
                    v.push(Op::Add {
                        dst: Opnd::Reg(base),
                        a: Opnd::Reg(base),
                        b: Opnd::Imm(off as u64),
                        sub: false,
                    });
                }
                v
            }
            O::B => match o[0] {
                Operand::PCOffset(off) => smallvec![Op::Jump {
                    target: addr.wrapping_add(off as u64),
                }],
                _ => smallvec![Op::JumpIndirect],
            },
            O::Bcc(c) => match o[0] {
                Operand::PCOffset(off) => smallvec![Op::Branch {
                    fl: 0,
                    cond: cond(c),
                    target: addr.wrapping_add(off as u64),
                }],
                _ => smallvec![Op::JumpIndirect],
            },
            O::CBZ | O::CBNZ => match o[1] {
                Operand::PCOffset(off) => smallvec![Op::BranchCmp {
                    cond: if i.opcode == O::CBZ {
                        Cond::Eq
                    } else {
                        Cond::Ne
                    },
                    a: self.src(&o[0]),
                    b: Opnd::Imm(0),
                    target: addr.wrapping_add(off as u64),
                }],
                _ => smallvec![Op::JumpIndirect],
            },
            O::TBZ | O::TBNZ => match o[2] {
                Operand::PCOffset(off) => smallvec![Op::BranchCmp {
                    cond: Cond::Other,
                    a: self.src(&o[0]),
                    b: Opnd::Imm(0),
                    target: addr.wrapping_add(off as u64),
                }],
                _ => smallvec![Op::JumpIndirect],
            },
            O::BL => match o[0] {
                Operand::PCOffset(off) => smallvec![Op::Call {
                    target: Target::Direct(addr.wrapping_add(off as u64)),
                }],
                _ => smallvec![Op::Call {
                    target: Target::Indirect,
                }],
            },
            O::BLR => smallvec![Op::Call {
                target: Target::Indirect,
            }],
            O::BR => smallvec![Op::JumpIndirect],
            O::RET => smallvec![Op::Ret],
            O::HINT | O::ISB | O::DSB(_) | O::DMB(_) | O::CLREX => smallvec![],
            O::BRK | O::HLT | O::UDF => smallvec![Op::Trap],
            O::ADCS | O::SBCS | O::BICS | O::FCMP | O::FCMPE | O::FCCMP | O::FCCMPE => {
                let mut v = smallvec![Op::FlagsClobber];
                if d != Opnd::Unknown {
                    v.push(Op::Clobber { dst: d });
                }
                v
            }
            _ => {
                if d != Opnd::Unknown {
                    smallvec![Op::Clobber { dst: d }]
                } else {
                    smallvec![]
                }
            }
        }
    }
}

impl Lifter for A64<'_> {
    fn lift(&self, addr: u64) -> Result<Insn, String> {
        if addr & 3 != 0 {
            return Err(format!("misaligned AArch64 code address {addr:#x}"));
        }
        let i = self.decode(addr)?;
        let ops = self.lift_ops(addr, &i);
        let want_text = super::ir::text_wanted();
        let mut text = if want_text {
            format!("{i}")
        } else {
            String::new()
        };
        for op in &ops {
            if let Op::Branch { target, .. }
            | Op::BranchCmp { target, .. }
            | Op::Jump { target }
            | Op::Call {
                target: Target::Direct(target),
            } = op
            {
                if !want_text {
                    continue;
                }
                text = format!("{i} -> {target:#x}");
                if let Some(n) = self.elf.function_at(*target) {
                    text.push_str(&format!(" <{}>", n.name));
                }
            }
        }
        Ok(Insn {
            addr,
            len: 4,
            text,
            ops,
        })
    }
    fn sp(&self) -> Reg {
        SP
    }
    fn word_bits(&self) -> u32 {
        64
    }
    fn arg(&self, i: usize) -> ArgLoc {
        if i < 8 {
            ArgLoc::Reg(i as Reg)
        } else {
            ArgLoc::Stack(8 * (i as i64 - 8))
        }
    }
    fn call_push(&self) -> i64 {
        0
    }
    fn ret_reg(&self) -> Reg {
        0
    }
    fn caller_saved(&self) -> &[Reg] {
        &CALLER_SAVED
    }
    fn plt_slot(&self, addr: u64) -> Option<u64> {
        // [bti c;] adrp x16, page; ldr x17, [x16, #off]; add x16, x16, #off; br x17
        let mut x16: Option<u64> = None;
        let mut a = addr;
        for _ in 0..4 {
            let i = self.decode(a).ok()?;
            match (i.opcode, &i.operands) {
                (Opcode::HINT, _) => {}
                (Opcode::ADRP, [Operand::Register(_, 16), Operand::PCOffset(off), ..]) => {
                    x16 = Some((a & !0xfff).wrapping_add(*off as u64));
                }
                (
                    Opcode::LDR,
                    [Operand::Register(_, 17), Operand::RegPreIndex(16, off, false), ..],
                ) => {
                    let slot = x16?.wrapping_add(*off as i64 as u64);
                    return self.elf.slot_symbol(slot).map(|_| slot);
                }
                _ => return None,
            }
            a = a.checked_add(4)?;
        }
        None
    }
}

// `ZR` is reserved for lifters that want an explicit zero register.
#[allow(dead_code)]
const _ZR: Reg = ZR;
