//! ARM A32 and Thumb-2 lifter (yaxpeax-arm). Code addresses carry the Thumb bit (bit 0).

use yaxpeax_arch::{Decoder, U8Reader};
use yaxpeax_arm::armv7::{
    ConditionCode, InstDecoder, Instruction, Opcode, Operand, RegShiftStyle, ShiftStyle,
};

use smallvec::smallvec;

use super::ir::{ArgLoc, Cond, Insn, Lifter, Op, Opnd, Ops, Reg, Target};
use badalloc_elf::ElfFile;

const SP: Reg = 13;
const LR: Reg = 14;
const PC: Reg = 15;
const CALLER_SAVED: [Reg; 6] = [0, 1, 2, 3, 12, 14];

pub struct Arm<'e> {
    elf: &'e ElfFile<'e>,
    arm: InstDecoder,
    thumb: InstDecoder,
}

fn cond(c: ConditionCode) -> Cond {
    match c {
        ConditionCode::EQ => Cond::Eq,
        ConditionCode::NE => Cond::Ne,
        ConditionCode::HS => Cond::Uge,
        ConditionCode::LO => Cond::Ult,
        ConditionCode::HI => Cond::Ugt,
        ConditionCode::LS => Cond::Ule,
        ConditionCode::GE => Cond::Sge,
        ConditionCode::LT => Cond::Slt,
        ConditionCode::GT => Cond::Sgt,
        ConditionCode::LE => Cond::Sle,
        _ => Cond::Other,
    }
}

/// Condition from the 4-bit encoding (IT blocks).
fn cond_bits(b: u8) -> Cond {
    match b & 0xf {
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

impl<'e> Arm<'e> {
    pub fn new(elf: &'e ElfFile<'e>) -> Arm<'e> {
        Arm {
            elf,
            arm: InstDecoder::default(),
            thumb: InstDecoder::default_thumb(),
        }
    }

    fn decode(&self, addr: u64) -> Result<(Instruction, u32), String> {
        let thumb = addr & 1 == 1;
        let a = addr & !1;
        let bytes = self
            .elf
            .code_at(a)
            .ok_or_else(|| format!("{a:#x} is outside the executable segments"))?;
        let bytes = bytes.get(..bytes.len().min(4)).unwrap_or(bytes);
        let mut rd = U8Reader::new(bytes);
        let d = if thumb { &self.thumb } else { &self.arm };
        // yaxpeax-arm 0.5 panics on some encodings ("register number out of range"): contained.
        let i = badalloc_elf::guard::contain(|| d.decode(&mut rd))
            .ok_or_else(|| format!("undecodable ARM instruction at {a:#x} (decoder failure)"))?
            .map_err(|e| format!("undecodable ARM instruction at {a:#x}: {e}"))?;
        let len = if thumb {
            // yaxpeax does not mark every 32-bit Thumb instruction `wide` (blx): use the
            // first halfword's prefix.
            let hw = u16::from_le_bytes([
                bytes.first().copied().unwrap_or(0),
                bytes.get(1).copied().unwrap_or(0),
            ]);
            if matches!(hw >> 11, 0b11101..=0b11111) {
                4
            } else {
                2
            }
        } else {
            4
        };
        Ok((i, len))
    }

    /// An instruction yaxpeax cannot decode (some A32 media and Thumb-2 forms): treated as
    /// "other", clobbering the usual destination fields. None when even that is unsafe.
    fn fallback(&self, addr: u64) -> Option<Insn> {
        let a = addr & !1;
        let b = self.elf.code_at(a)?;
        if addr & 1 == 1 {
            let hw1 = u16::from_le_bytes([*b.first()?, *b.get(1)?]);
            if !matches!(hw1 >> 11, 0b11101..=0b11111) {
                return None;
            }
            let hw2 = u16::from_le_bytes([*b.get(2)?, *b.get(3)?]);
            // 32-bit branches and loads of pc are never "other"
            if hw1 >> 11 == 0b11110 && hw2 & 0x8000 != 0 {
                return None;
            }
            // (32-bit Thumb writes to pc are branches and loads, which the decoder knows)
            let mut ops = smallvec![Op::FlagsClobber];
            for r in [Reg::from((hw2 >> 8) & 0xf), Reg::from((hw2 >> 12) & 0xf)] {
                if r != PC {
                    ops.push(Op::Clobber { dst: Opnd::Reg(r) });
                }
            }
            return Some(Insn {
                addr,
                len: 4,
                text: format!("(unrecognised thumb2 {hw1:04x} {hw2:04x})"),
                ops,
            });
        }
        let w = u32::from_le_bytes([*b.first()?, *b.get(1)?, *b.get(2)?, *b.get(3)?]);
        // data processing / media / load-store only (bits 27..26 = 00 or 01); not pc
        let rd = Reg::from(((w >> 12) & 0xf) as u16);
        if (w >> 28) == 0xf || (w >> 26) & 3 > 1 || rd == PC {
            return None;
        }
        // uxtb/uxth/sxtb/sxth rd, rm (no rotation): a move for our purposes
        if matches!(
            w & 0x0fff_0ff0,
            0x06ef_0070 | 0x06ff_0070 | 0x06af_0070 | 0x06bf_0070
        ) {
            let rm = Reg::from((w & 0xf) as u16);
            let name = match (w >> 20) & 0xff {
                0x6e => "uxtb",
                0x6f => "uxth",
                0x6a => "sxtb",
                _ => "sxth",
            };
            return Some(Insn {
                addr,
                len: 4,
                text: format!("{name} r{rd}, r{rm}"),
                ops: smallvec![Op::Move {
                    dst: Opnd::Reg(rd),
                    src: Opnd::Reg(rm),
                }],
            });
        }
        Some(Insn {
            addr,
            len: 4,
            text: format!("(unrecognised arm {w:08x})"),
            ops: smallvec![Op::Clobber { dst: Opnd::Reg(rd) }, Op::FlagsClobber],
        })
    }

    /// The value of PC as an operand of the instruction at `addr`.
    fn pc_val(addr: u64) -> u64 {
        if addr & 1 == 1 {
            (addr & !1).wrapping_add(4)
        } else {
            addr.wrapping_add(8)
        }
    }

    /// Is the Thumb instruction at `addr` inside an IT block? Returns its condition.
    fn it_cond(&self, addr: u64) -> Option<Cond> {
        if addr & 1 == 0 {
            return None;
        }
        let a = addr & !1;
        for back in 1..=8u64 {
            let it_at = a.checked_sub(2 * back)?;
            let b = self.elf.code_at(it_at)?;
            let (lo, hi) = (*b.first()?, *b.get(1)?);
            if hi != 0xbf || lo & 0x0f == 0 {
                continue;
            }
            let firstcond = lo >> 4;
            let mask = lo & 0x0f;
            let count = 4 - mask.trailing_zeros() as usize;
            // walk the block
            let mut p = it_at + 2;
            for k in 0..count {
                if p == a {
                    let c = if k == 0 {
                        firstcond
                    } else {
                        let bit = (mask >> (4 - k)) & 1;
                        (firstcond & 0xe) | bit
                    };
                    return Some(cond_bits(c));
                }
                let (_, len) = self.decode(p | 1).ok()?;
                p += u64::from(len);
            }
        }
        None
    }

    fn reg(o: &Operand) -> Option<Reg> {
        match o {
            Operand::Reg(r) | Operand::RegWBack(r, _) => Some(Reg::from(r.number())),
            _ => None,
        }
    }

    /// A data-processing second operand.
    fn op2(&self, addr: u64, o: &Operand) -> Opnd {
        match o {
            Operand::Reg(r) if r.number() == 15 => Opnd::Imm(Self::pc_val(addr)),
            Operand::Reg(r) => Opnd::Reg(Reg::from(r.number())),
            Operand::Imm12(v) => Opnd::Imm(u64::from(*v)),
            Operand::Imm32(v) => Opnd::Imm(u64::from(*v)),
            Operand::RegShift(rs) => match rs.into_shift() {
                RegShiftStyle::RegImm(s) if s.imm() == 0 && s.stype() == ShiftStyle::LSL => {
                    Opnd::Reg(Reg::from(s.shiftee().number()))
                }
                _ => Opnd::Unknown,
            },
            _ => Opnd::Unknown,
        }
    }

    /// (base, offset, writeback, post-index) of a memory operand.
    fn mem(o: &Operand) -> Option<(Reg, i64, bool, bool)> {
        let sgn = |v: u16, add: bool| {
            if add {
                i64::from(v)
            } else {
                -i64::from(v)
            }
        };
        match o {
            Operand::RegDeref(r) => Some((Reg::from(r.number()), 0, false, false)),
            Operand::RegDerefPreindexOffset(r, v, add, wb) => {
                Some((Reg::from(r.number()), sgn(*v, *add), *wb, false))
            }
            Operand::RegDerefPostindexOffset(r, v, add, _) => {
                Some((Reg::from(r.number()), sgn(*v, *add), true, true))
            }
            _ => None,
        }
    }

    fn read_word(&self, a: u64) -> Option<u64> {
        let b = self.elf.bytes_at(a)?;
        let w: [u8; 4] = b.get(..4)?.try_into().ok()?;
        Some(u64::from(match self.elf.endian {
            badalloc_elf::Endian::Little => u32::from_le_bytes(w),
            badalloc_elf::Endian::Big => u32::from_be_bytes(w),
        }))
    }

    fn branch_target(addr: u64, i: &Instruction) -> Option<u64> {
        let thumb = addr & 1 == 1;
        let a = addr & !1;
        match i.operands[0] {
            Operand::BranchOffset(off) => {
                // yaxpeax folds the A32 pipeline offset (+8) into the operand
                let t = a.wrapping_add(((off as i64) << 2) as u64);
                Some(t | u64::from(thumb))
            }
            Operand::BranchThumbOffset(off) => {
                if i.opcode == Opcode::BLX {
                    if thumb {
                        // Thumb → ARM
                        let base = (a.wrapping_add(4)) & !3;
                        Some(base.wrapping_add(((off as i64) << 1) as u64) & !1)
                    } else {
                        Some(a.wrapping_add(8).wrapping_add(((off as i64) << 1) as u64) | 1)
                    }
                } else {
                    // yaxpeax adds one halfword to the offset of 16-bit conditional branches
                    let fix = if thumb
                        && i.opcode == Opcode::B
                        && i.condition != ConditionCode::AL
                        && !i.wide
                    {
                        2
                    } else {
                        0
                    };
                    Some(
                        Self::pc_val(addr)
                            .wrapping_add(((off as i64) << 1) as u64)
                            .wrapping_sub(fix)
                            | u64::from(thumb),
                    )
                }
            }
            _ => None,
        }
    }

    fn lift_ops(&self, addr: u64, i: &Instruction) -> Ops {
        let ops = &i.operands;
        let rd = Self::reg(&ops[0]);
        let d = rd.map(Opnd::Reg).unwrap_or(Opnd::Unknown);
        let thumb = addr & 1 == 1;
        use Opcode as O;
        let test_d = || Op::Test { fl: 0, a: d, b: d };
        match i.opcode {
            O::MOV => {
                let src = self.op2(addr, &ops[1]);
                if ops[2] != Operand::Nothing {
                    // shift forms with a register amount, etc.
                    return smallvec![Op::Clobber { dst: d }, Op::FlagsClobber];
                }
                let mut v = match (&ops[1], rd) {
                    (_, Some(PC)) if Self::reg(&ops[1]) == Some(LR) => return smallvec![Op::Ret],
                    (_, Some(PC)) => return smallvec![Op::JumpIndirect],
                    (Operand::RegShift(rs), _) => match rs.into_shift() {
                        RegShiftStyle::RegImm(s) if s.stype() == ShiftStyle::LSR => {
                            smallvec![Op::Shr {
                                dst: d,
                                a: Opnd::Reg(Reg::from(s.shiftee().number())),
                                amount: u32::from(s.imm()),
                            }]
                        }
                        _ if src == Opnd::Unknown => smallvec![Op::Clobber { dst: d }],
                        _ => smallvec![Op::Move { dst: d, src }],
                    },
                    _ => smallvec![Op::Move { dst: d, src }],
                };
                if i.s {
                    v.push(test_d());
                }
                v
            }
            O::MVN => {
                let last = if ops[2] != Operand::Nothing {
                    &ops[2]
                } else {
                    &ops[1]
                };
                let v = match self.op2(addr, last) {
                    Opnd::Imm(k) => Op::Move {
                        dst: d,
                        src: Opnd::Imm(!k & 0xffff_ffff),
                    },
                    _ => Op::Clobber { dst: d },
                };
                if i.s {
                    smallvec![v, test_d()]
                } else {
                    smallvec![v]
                }
            }
            O::LSR | O::LSL => {
                let src = self.op2(addr, &ops[1]);
                let v = match self.op2(addr, &ops[2]) {
                    // `movs r0, r3` is encoded as `lsls r0, r3, #0`
                    Opnd::Imm(0) => Op::Move { dst: d, src },
                    Opnd::Imm(_) if i.opcode == O::LSL => Op::Clobber { dst: d },
                    Opnd::Imm(k) => Op::Shr {
                        dst: d,
                        a: src,
                        amount: k as u32,
                    },
                    _ => Op::Clobber { dst: d },
                };
                if i.s {
                    smallvec![v, test_d()]
                } else {
                    smallvec![v]
                }
            }
            O::ADD | O::SUB | O::ADR => {
                if rd == Some(PC) {
                    return smallvec![Op::JumpIndirect];
                }
                // two-operand Thumb forms: add rd, rm
                let (a, b) = if ops[2] == Operand::Nothing {
                    (d, self.op2(addr, &ops[1]))
                } else {
                    (self.op2(addr, &ops[1]), self.op2(addr, &ops[2]))
                };
                let sub = i.opcode == O::SUB;
                let mut v = Ops::new();
                if i.s && sub {
                    v.push(Op::Cmp { fl: 0, a, b });
                }
                v.push(Op::Add { dst: d, a, b, sub });
                if i.s && !sub {
                    v.push(Op::FlagsClobber);
                }
                v
            }
            O::ORR | O::AND => {
                let (a, b) = if ops[2] == Operand::Nothing {
                    (d, self.op2(addr, &ops[1]))
                } else {
                    (self.op2(addr, &ops[1]), self.op2(addr, &ops[2]))
                };
                let op = if i.opcode == O::ORR {
                    Op::Or { dst: d, a, b }
                } else {
                    Op::And { dst: d, a, b }
                };
                if i.s {
                    smallvec![op, test_d()]
                } else {
                    smallvec![op]
                }
            }
            O::CMP => smallvec![Op::Cmp {
                fl: 0,
                a: self.op2(addr, &ops[0]),
                b: self.op2(addr, &ops[1]),
            }],
            O::TST => smallvec![Op::Test {
                fl: 0,
                a: self.op2(addr, &ops[0]),
                b: self.op2(addr, &ops[1]),
            }],
            O::CMN | O::TEQ => smallvec![Op::FlagsClobber],
            O::MUL => {
                let (a, b) = if ops[2] == Operand::Nothing {
                    (d, self.op2(addr, &ops[1]))
                } else {
                    (self.op2(addr, &ops[1]), self.op2(addr, &ops[2]))
                };
                let mut v = smallvec![Op::Mul {
                    lo: Some(d),
                    hi: None,
                    a,
                    b,
                    hi_unsigned: false,
                    flags_ovf: false,
                }];
                if i.s {
                    v.push(test_d());
                }
                v
            }
            O::UMULL | O::SMULL => smallvec![Op::Mul {
                lo: Some(d),
                hi: Some(self.op2(addr, &ops[1])),
                a: self.op2(addr, &ops[2]),
                b: self.op2(addr, &ops[3]),
                hi_unsigned: i.opcode == O::UMULL,
                flags_ovf: false,
            }],
            O::UMLAL | O::SMLAL | O::UMAAL => smallvec![
                Op::Clobber { dst: d },
                Op::Clobber {
                    dst: self.op2(addr, &ops[1]),
                },
            ],
            O::UDIV => smallvec![Op::Div {
                quot: Some(d),
                rem: None,
                num: self.op2(addr, &ops[1]),
                num_hi: None,
                den: self.op2(addr, &ops[2]),
            }],
            O::LDR | O::LDRB | O::LDRH | O::LDRSB | O::LDRSH => {
                let Some((base, off, wb, post)) = Self::mem(&ops[1]) else {
                    if rd == Some(PC) {
                        return smallvec![Op::JumpIndirect];
                    }
                    return smallvec![Op::Clobber { dst: d }];
                };
                if base == PC {
                    let lit = (Self::pc_val(addr) & !3).wrapping_add(off as u64);
                    if rd == Some(PC) {
                        return smallvec![Op::TailCall {
                            target: Target::Slot(lit),
                        }];
                    }
                    return match (i.opcode, self.read_word(lit)) {
                        (O::LDR, Some(w)) => smallvec![Op::Move {
                            dst: d,
                            src: Opnd::Imm(w),
                        }],
                        _ => smallvec![Op::Clobber { dst: d }],
                    };
                }
                let src = Opnd::Mem {
                    base,
                    disp: if post { 0 } else { off },
                };
                let mut v = smallvec![Op::Move { dst: d, src }];
                if wb {
                    v.push(Op::Add {
                        dst: Opnd::Reg(base),
                        a: Opnd::Reg(base),
                        b: Opnd::Imm(off as u64 & 0xffff_ffff),
                        sub: false,
                    });
                }
                if rd == Some(PC) {
                    v.push(if base == SP {
                        Op::Ret
                    } else {
                        Op::JumpIndirect
                    });
                }
                v
            }
            O::STR | O::STRB | O::STRH => {
                let Some((base, off, wb, post)) = Self::mem(&ops[1]) else {
                    return smallvec![];
                };
                let mut v = smallvec![Op::Move {
                    dst: Opnd::Mem {
                        base,
                        disp: if post { 0 } else { off },
                    },
                    src: d,
                }];
                if wb {
                    v.push(Op::Add {
                        dst: Opnd::Reg(base),
                        a: Opnd::Reg(base),
                        b: Opnd::Imm(off as u64 & 0xffff_ffff),
                        sub: false,
                    });
                }
                v
            }
            O::LDRD | O::STRD => {
                let r2 = self.op2(addr, &ops[1]);
                let Some((base, off, wb, post)) = Self::mem(&ops[2]) else {
                    return if i.opcode == O::LDRD {
                        smallvec![Op::Clobber { dst: d }, Op::Clobber { dst: r2 }]
                    } else {
                        smallvec![]
                    };
                };
                let o = if post { 0 } else { off };
                let m1 = Opnd::Mem { base, disp: o };
                let m2 = Opnd::Mem { base, disp: o + 4 };
                let mut v = if i.opcode == O::LDRD {
                    smallvec![Op::Move { dst: d, src: m1 }, Op::Move { dst: r2, src: m2 }]
                } else {
                    smallvec![Op::Move { dst: m1, src: d }, Op::Move { dst: m2, src: r2 }]
                };
                if wb {
                    v.push(Op::Add {
                        dst: Opnd::Reg(base),
                        a: Opnd::Reg(base),
                        b: Opnd::Imm(off as u64 & 0xffff_ffff),
                        sub: false,
                    });
                }
                v
            }
            O::PUSH | O::POP | O::LDM(..) | O::STM(..) => self.lift_multi(i),
            O::B => match Self::branch_target(addr, i) {
                Some(t) if i.condition == ConditionCode::AL => smallvec![Op::Jump { target: t }],
                Some(t) => smallvec![Op::Branch {
                    fl: 0,
                    cond: cond(i.condition),
                    target: t,
                }],
                None => smallvec![Op::JumpIndirect],
            },
            O::BL | O::BLX => match Self::branch_target(addr, i) {
                Some(t) => smallvec![Op::Call {
                    target: Target::Direct(t),
                }],
                None => smallvec![Op::Call {
                    target: Target::Indirect,
                }],
            },
            O::BX => {
                if Self::reg(&ops[0]) == Some(LR) {
                    smallvec![Op::Ret]
                } else if thumb && Self::reg(&ops[0]) == Some(PC) {
                    // Thumb `bx pc` (interworking veneers): ARM code at the next word
                    smallvec![Op::Jump {
                        target: (addr & !1).wrapping_add(4) & !3,
                    }]
                } else {
                    smallvec![Op::TailCall {
                        target: Target::Indirect,
                    }]
                }
            }
            O::CBZ | O::CBNZ => {
                let t = match ops[1] {
                    // yaxpeax adds one halfword to cbz/cbnz offsets
                    Operand::BranchThumbOffset(off) => {
                        Self::pc_val(addr)
                            .wrapping_add(((off as i64) << 1) as u64)
                            .wrapping_sub(2)
                            | 1
                    }
                    _ => return smallvec![Op::JumpIndirect],
                };
                smallvec![Op::BranchCmp {
                    cond: if i.opcode == O::CBZ {
                        Cond::Eq
                    } else {
                        Cond::Ne
                    },
                    a: self.op2(addr, &ops[0]),
                    b: Opnd::Imm(0),
                    target: t,
                }]
            }
            O::IT | O::NOP | O::HINT | O::PLD | O::PLI | O::DMB | O::DSB | O::ISB | O::YIELD => {
                smallvec![]
            }
            O::UDF | O::BKPT | O::SVC => smallvec![Op::Trap],
            O::TBB | O::TBH => smallvec![Op::JumpIndirect],
            O::UXTB | O::UXTH | O::SXTB | O::SXTH => smallvec![Op::Move {
                dst: d,
                src: self.op2(addr, &ops[1]),
            }],
            _ => {
                let _ = thumb;
                let mut v = Ops::new();
                if rd == Some(PC) {
                    return smallvec![Op::JumpIndirect];
                }
                if rd.is_some() {
                    v.push(Op::Clobber { dst: d });
                }
                if i.s || matches!(i.opcode, O::MSR) {
                    v.push(Op::FlagsClobber);
                }
                v
            }
        }
    }

    /// push/pop/ldm/stm
    fn lift_multi(&self, i: &Instruction) -> Ops {
        use Opcode as O;
        let (base, wb, list) = match (i.opcode, &i.operands[0], &i.operands[1]) {
            (O::PUSH | O::POP, Operand::RegList(l), _) => (SP, true, *l),
            (_, Operand::RegWBack(r, wb), Operand::RegList(l)) => (Reg::from(r.number()), *wb, *l),
            (_, Operand::Reg(r), Operand::RegList(l)) => (Reg::from(r.number()), false, *l),
            _ => return smallvec![Op::FlagsClobber],
        };
        let n = i64::from(list.count_ones());
        let regs: Vec<Reg> = (0..16).filter(|b| list & (1 << b) != 0).collect();
        let sp_adj = |delta: i64| Op::Add {
            dst: Opnd::Reg(base),
            a: Opnd::Reg(base),
            b: Opnd::Imm(delta as u64 & 0xffff_ffff),
            sub: false,
        };
        let mut v = Ops::new();
        let store = matches!(i.opcode, O::PUSH | O::STM(..));
        // PUSH = STMDB; POP = LDMIA.
        let (add, pre) = match i.opcode {
            O::PUSH => (false, true),
            O::POP => (true, false),
            O::LDM(a, p, _, _) | O::STM(a, p, _, _) => (a, p),
            _ => (true, false),
        };
        let descending = !add;
        for (k, r) in regs.iter().enumerate() {
            let k = k as i64;
            let disp = match (add, pre) {
                (true, false) => 4 * k,
                (true, true) => 4 * k + 4,
                (false, true) => 4 * k - 4 * n,
                (false, false) => 4 * k - 4 * n + 4,
            };
            let m = Opnd::Mem { base, disp };
            if store {
                v.push(Op::Move {
                    dst: m,
                    src: Opnd::Reg(*r),
                });
            } else if *r != PC {
                v.push(Op::Move {
                    dst: Opnd::Reg(*r),
                    src: m,
                });
            }
        }
        if wb {
            v.push(sp_adj(if descending { -4 * n } else { 4 * n }));
        }
        if !store && list & (1 << 15) != 0 {
            v.push(if base == SP {
                Op::Ret
            } else {
                Op::JumpIndirect
            });
        }
        v
    }

    /// Inside an IT block 16-bit data-processing instructions do not set flags, but the
    /// decoder (which does not track IT state) marks them `s`.
    fn strip_it_flags(i: &Instruction, len: u32, ops: &mut Ops) {
        if len == 2 && !matches!(i.opcode, Opcode::CMP | Opcode::CMN | Opcode::TST) {
            ops.retain(|o| !matches!(o, Op::Test { .. } | Op::Cmp { .. } | Op::FlagsClobber));
        }
    }

    /// `mov<!c> rd, #k'` directly followed by `mov<c> rd, #k` with {k, k'} = {0, 1}: the pair
    /// is `rd = c ? k : k'`, a boolean of the flags.
    fn predicated_pair(&self, addr: u64, c: Cond, ops: &[Op]) -> Option<Op> {
        let [Op::Move {
            dst: Opnd::Reg(rd),
            src: Opnd::Imm(k),
        }] = ops
        else {
            return None;
        };
        if *k > 1 {
            return None;
        }
        let backs: &[u64] = if addr & 1 == 1 { &[2, 4] } else { &[4] };
        for &b in backs {
            let prev = (addr & !1).checked_sub(b)? | (addr & 1);
            let Ok((pi, plen)) = self.decode(prev) else {
                continue;
            };
            if u64::from(plen) != b {
                continue;
            }
            let pc = if prev & 1 == 0 {
                (pi.condition != ConditionCode::AL).then(|| cond(pi.condition))
            } else {
                self.it_cond(prev)
            };
            if pc != Some(c.negate()) {
                continue;
            }
            let mut pops = self.lift_ops(prev, &pi);
            if prev & 1 == 1 {
                Self::strip_it_flags(&pi, plen, &mut pops);
            }
            if let [Op::Move {
                dst: Opnd::Reg(pr),
                src: Opnd::Imm(pk),
            }] = pops.as_slice()
            {
                if pr == rd && *pk == 1 - *k {
                    return Some(Op::SetCond {
                        dst: Opnd::Reg(*rd),
                        fl: 0,
                        cond: if *k == 1 { c } else { c.negate() },
                    });
                }
            }
        }
        None
    }

    /// Mini evaluator for PLT stubs: ip/lr arithmetic on pc, then `ldr pc, [ip, #off]`.
    fn stub_slot(&self, addr: u64) -> Option<u64> {
        let mut regs: [Option<u64>; 16] = [None; 16];
        let mut a = addr;
        for _ in 0..6 {
            let (i, len) = self.decode(a).ok()?;
            let ops = &i.operands;
            let val = |o: &Operand, regs: &[Option<u64>; 16]| -> Option<u64> {
                match o {
                    Operand::Reg(r) if r.number() == 15 => Some(Self::pc_val(a)),
                    Operand::Reg(r) => regs.get(usize::from(r.number())).copied().flatten(),
                    Operand::Imm12(v) => Some(u64::from(*v)),
                    Operand::Imm32(v) => Some(u64::from(*v)),
                    _ => None,
                }
            };
            let rd = Self::reg(&ops[0]).map(usize::from);
            match i.opcode {
                Opcode::BX if a & 1 == 1 && Self::reg(&ops[0]) == Some(PC) => {
                    // Thumb `bx pc; nop` prefix: continue in ARM at the next word
                    a = ((a & !1).wrapping_add(4)) & !3;
                    continue;
                }
                Opcode::NOP => {}
                Opcode::ADD | Opcode::ADR => {
                    let (x, y) = if ops[2] == Operand::Nothing {
                        (
                            rd.and_then(|r| regs.get(r).copied().flatten()),
                            val(&ops[1], &regs),
                        )
                    } else {
                        (val(&ops[1], &regs), val(&ops[2], &regs))
                    };
                    let r = rd?;
                    *regs.get_mut(r)? = Some(x?.wrapping_add(y?) & 0xffff_ffff);
                }
                Opcode::MOV => {
                    let r = rd?;
                    *regs.get_mut(r)? = val(&ops[1], &regs);
                }
                Opcode::MOVT => {
                    let r = rd?;
                    let lo = regs.get(r).copied().flatten()? & 0xffff;
                    *regs.get_mut(r)? = Some(lo | (val(&ops[1], &regs)? << 16));
                }
                Opcode::LDR => {
                    let (base, off, _, post) = Self::mem(&ops[1])?;
                    let b = if base == PC {
                        Self::pc_val(a) & !3
                    } else {
                        regs.get(usize::from(base)).copied().flatten()?
                    };
                    let slot = b.wrapping_add(if post { 0 } else { off } as u64) & 0xffff_ffff;
                    if rd == Some(usize::from(PC)) {
                        return self.elf.slot_symbol(slot).map(|_| slot);
                    }
                    let r = rd?;
                    *regs.get_mut(r)? = self.read_word(slot);
                }
                _ => return None,
            }
            a = a.wrapping_add(u64::from(len));
        }
        None
    }
}

impl Lifter for Arm<'_> {
    fn lift(&self, addr: u64) -> Result<Insn, String> {
        let (i, len) = match self.decode(addr) {
            Ok(x) => x,
            Err(e) => return self.fallback(addr).ok_or(e),
        };
        let want_text = super::ir::text_wanted();
        let mut text = if want_text {
            format!("{i}")
        } else {
            String::new()
        };
        let mut ops = self.lift_ops(addr, &i);
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
                text = format!("{i} -> {:#x}", target & !1);
                if let Some(n) = self.elf.function_at(target & !1) {
                    text.push_str(&format!(" <{}>", n.name));
                }
            }
        }
        // Conditional execution (A32 condition field or a Thumb IT block).
        let c = if addr & 1 == 0 {
            (i.condition != ConditionCode::AL).then(|| cond(i.condition))
        } else if i.opcode == Opcode::IT {
            None
        } else {
            self.it_cond(addr)
        };
        if let Some(c) = c {
            if addr & 1 == 1 {
                Self::strip_it_flags(&i, len, &mut ops);
            }
            let is_branch = matches!(ops.last(), Some(Op::Branch { .. } | Op::Jump { .. }));
            if i.opcode == Opcode::B {
                if let Some(Op::Jump { target }) = ops.last().cloned() {
                    ops = smallvec![Op::Branch {
                        fl: 0,
                        cond: c,
                        target,
                    }];
                }
            } else if let Some(setc) = self.predicated_pair(addr, c, &ops) {
                ops = smallvec![setc];
            } else if !is_branch {
                let ends_flow = matches!(
                    ops.last(),
                    Some(Op::Ret | Op::JumpIndirect | Op::TailCall { .. } | Op::Trap)
                );
                let calls = matches!(ops.last(), Some(Op::Call { .. }));
                if matches!(ops.last(), Some(Op::Ret)) {
                    // conditional return (`popeq {r4, pc}`): the fall-through path
                    // continues; the return stays visible, predicated, to the search for
                    // calloc (a return on the null side of a test of the allocation)
                    ops = smallvec![Op::Predicated {
                        fl: 0,
                        cond: c,
                        ops: vec![Op::Ret],
                    }];
                } else if ends_flow {
                    // conditional exit: the fall-through path continues
                    ops.clear();
                } else if !calls {
                    ops = smallvec![Op::Predicated {
                        fl: 0,
                        cond: c,
                        ops: ops.into_vec(),
                    }];
                }
            }
        }
        Ok(Insn {
            addr,
            len,
            text,
            ops,
        })
    }
    fn sp(&self) -> Reg {
        SP
    }
    fn word_bits(&self) -> u32 {
        32
    }
    fn arg(&self, i: usize) -> ArgLoc {
        if i < 4 {
            ArgLoc::Reg(i as Reg)
        } else {
            ArgLoc::Stack(4 * (i as i64 - 4))
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
        self.stub_slot(addr)
    }
    fn display_addr(&self, addr: u64) -> u64 {
        addr & !1
    }
}
