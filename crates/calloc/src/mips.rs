//! MIPS32 lifter (both byte orders). The forms that matter are decoded from the instruction
//! word (the encoding is regular); rabbitizer renders text. Branch delay slots are folded
//! into the branch: the compare operands are read first, then the delay-slot instruction
//! runs, then the branch/call happens.

use rabbitizer::{InstructionDisplayFlags, InstructionFlags, IsaVersion, Vram};

use smallvec::smallvec;

use super::ir::{ArgLoc, Cond, Insn, Lifter, Op, Opnd, Ops, Reg, Target};
use badalloc_elf::ElfFile;

const SP: Reg = 29;
const T9: Reg = 25;
const RA: Reg = 31;
const HI: Reg = 32;
const LO: Reg = 33;
/// Flag set used for MIPS compare-and-branch (MIPS has no flags of its own).
const FL: u8 = 0;
const CALLER_SAVED: [Reg; 22] = [
    1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 24, 25, 31, HI, LO, 26, 27,
];

pub struct Mips<'e> {
    elf: &'e ElfFile<'e>,
}

fn sext16(w: u32) -> u64 {
    i64::from(w as u16 as i16) as u64 & 0xffff_ffff
}

/// How an instruction changes control flow (decided before lifting the delay slot).
enum Kind {
    Plain,
    /// Conditional branch: compare ops, condition, target
    Cond(Ops, Cond, u64),
    Jump(u64),
    Call(Target),
    /// Return / tail call / indirect jump (the final op)
    End(Op),
}

impl<'e> Mips<'e> {
    pub fn new(elf: &'e ElfFile<'e>) -> Mips<'e> {
        Mips { elf }
    }

    fn word(&self, addr: u64) -> Result<u32, String> {
        self.elf.code_word(addr, 4, "MIPS")
    }

    fn text(w: u32, addr: u64) -> String {
        if !super::ir::text_wanted() {
            return String::new();
        }
        let i = rabbitizer::Instruction::new(
            w,
            Vram::new(addr as u32),
            InstructionFlags::new(IsaVersion::MIPS_I),
        );
        let f = InstructionDisplayFlags::new();
        let s = i.display::<&str>(&f, None, 0).to_string();
        s.split_whitespace().collect::<Vec<_>>().join(" ")
    }

    /// A register read ($zero reads 0).
    fn r(x: u32) -> Opnd {
        if x == 0 {
            Opnd::Imm(0)
        } else {
            Opnd::Reg(x as Reg)
        }
    }

    /// A register write ($zero discards).
    fn w(x: u32) -> Opnd {
        if x == 0 {
            Opnd::Unknown
        } else {
            Opnd::Reg(x as Reg)
        }
    }

    fn mem(base: u32, w: u32) -> Opnd {
        if base == 0 {
            Opnd::Abs(sext16(w))
        } else {
            Opnd::Mem {
                base: base as Reg,
                disp: i64::from(w as u16 as i16),
            }
        }
    }

    fn kind(addr: u64, w: u32) -> Kind {
        let op = w >> 26;
        let rs = (w >> 21) & 31;
        let rt = (w >> 16) & 31;
        let off = addr
            .wrapping_add(4)
            .wrapping_add((i64::from(w as u16 as i16) << 2) as u64)
            & 0xffff_ffff;
        let cmp = |a: Opnd, b: Opnd| smallvec![Op::Cmp { fl: FL, a, b }];
        let scmp = |a: Opnd| {
            smallvec![Op::CmpSigned {
                fl: FL,
                a,
                b: Opnd::Imm(0),
            }]
        };
        match op {
            0 => match w & 0x3f {
                0x08 if rs == RA as u32 => Kind::End(Op::Ret),
                0x08 => Kind::End(Op::TailCall {
                    target: Target::Reg(rs as Reg),
                }),
                0x09 => Kind::Call(Target::Reg(rs as Reg)),
                _ => Kind::Plain,
            },
            2 => {
                Kind::Jump((addr.wrapping_add(4) & 0xf000_0000) | (u64::from(w & 0x03ff_ffff) << 2))
            }
            3 => Kind::Call(Target::Direct(
                (addr.wrapping_add(4) & 0xf000_0000) | (u64::from(w & 0x03ff_ffff) << 2),
            )),
            4 | 0x14 if rs == 0 && rt == 0 => Kind::Jump(off),
            4 | 0x14 => Kind::Cond(cmp(Self::r(rs), Self::r(rt)), Cond::Eq, off),
            5 | 0x15 => Kind::Cond(cmp(Self::r(rs), Self::r(rt)), Cond::Ne, off),
            6 | 0x16 => Kind::Cond(scmp(Self::r(rs)), Cond::Sle, off),
            7 | 0x17 => Kind::Cond(scmp(Self::r(rs)), Cond::Sgt, off),
            1 => match rt {
                0 | 2 => Kind::Cond(scmp(Self::r(rs)), Cond::Slt, off),
                1 | 3 if rs == 0 => Kind::Jump(off),
                1 | 3 => Kind::Cond(scmp(Self::r(rs)), Cond::Sge, off),
                0x11 if rs == 0 => Kind::Call(Target::Direct(off)), // bal
                0x10 | 0x11 => Kind::Call(Target::Direct(off)),
                _ => Kind::Plain,
            },
            _ => Kind::Plain,
        }
    }

    /// Ops of a non-branch instruction.
    fn plain(&self, w: u32) -> Ops {
        let op = w >> 26;
        let rs = (w >> 21) & 31;
        let rt = (w >> 16) & 31;
        let rd = (w >> 11) & 31;
        let sa = (w >> 6) & 31;
        let (r, wr) = (Self::r, Self::w);
        match op {
            0 => match w & 0x3f {
                0x00 if w == 0 => smallvec![],
                0x00 if sa == 0 => smallvec![Op::Move {
                    dst: wr(rd),
                    src: r(rt),
                }],
                0x02 if rs == 0 => smallvec![Op::Shr {
                    dst: wr(rd),
                    a: r(rt),
                    amount: sa,
                }],
                0x10 => smallvec![Op::Move {
                    dst: wr(rd),
                    src: Opnd::Reg(HI),
                }],
                0x12 => smallvec![Op::Move {
                    dst: wr(rd),
                    src: Opnd::Reg(LO),
                }],
                0x11 => smallvec![Op::Move {
                    dst: Opnd::Reg(HI),
                    src: r(rs),
                }],
                0x13 => smallvec![Op::Move {
                    dst: Opnd::Reg(LO),
                    src: r(rs),
                }],
                0x18 | 0x19 => smallvec![Op::Mul {
                    lo: Some(Opnd::Reg(LO)),
                    hi: Some(Opnd::Reg(HI)),
                    a: r(rs),
                    b: r(rt),
                    hi_unsigned: w & 0x3f == 0x19,
                    flags_ovf: false,
                }],
                0x1b => smallvec![Op::Div {
                    quot: Some(Opnd::Reg(LO)),
                    rem: Some(Opnd::Reg(HI)),
                    num: r(rs),
                    num_hi: None,
                    den: r(rt),
                }],
                0x1a => smallvec![
                    Op::Clobber { dst: Opnd::Reg(HI) },
                    Op::Clobber { dst: Opnd::Reg(LO) },
                ],
                0x20..=0x23 => smallvec![Op::Add {
                    dst: wr(rd),
                    a: r(rs),
                    b: r(rt),
                    sub: w & 0x3f >= 0x22,
                }],
                0x24 => smallvec![Op::And {
                    dst: wr(rd),
                    a: r(rs),
                    b: r(rt),
                }],
                0x25 => smallvec![Op::Or {
                    dst: wr(rd),
                    a: r(rs),
                    b: r(rt),
                }],
                0x2b => smallvec![Op::SetCmp {
                    dst: wr(rd),
                    cond: Cond::Ult,
                    a: r(rs),
                    b: r(rt),
                }],
                0x0a | 0x0b => smallvec![Op::Predicated {
                    fl: 255,
                    cond: Cond::Other,
                    ops: vec![Op::Move {
                        dst: wr(rd),
                        src: r(rs),
                    }],
                }],
                0x0c | 0x0f | 0x30..=0x36 => smallvec![], // syscall, sync, traps
                0x0d => smallvec![Op::Trap],
                _ => smallvec![Op::Clobber { dst: wr(rd) }],
            },
            0x1c if w & 0x3f == 0x02 => smallvec![
                Op::Mul {
                    lo: Some(wr(rd)),
                    hi: None,
                    a: r(rs),
                    b: r(rt),
                    hi_unsigned: false,
                    flags_ovf: false,
                },
                Op::Clobber { dst: Opnd::Reg(HI) },
                Op::Clobber { dst: Opnd::Reg(LO) },
            ],
            0x08 | 0x09 => smallvec![Op::Add {
                dst: wr(rt),
                a: r(rs),
                b: Opnd::Imm(sext16(w)),
                sub: false,
            }],
            0x0b => smallvec![Op::SetCmp {
                dst: wr(rt),
                cond: Cond::Ult,
                a: r(rs),
                b: Opnd::Imm(sext16(w)),
            }],
            0x0c => smallvec![Op::And {
                dst: wr(rt),
                a: r(rs),
                b: Opnd::Imm(u64::from(w & 0xffff)),
            }],
            0x0d => smallvec![Op::Or {
                dst: wr(rt),
                a: r(rs),
                b: Opnd::Imm(u64::from(w & 0xffff)),
            }],
            0x0f => smallvec![Op::Move {
                dst: wr(rt),
                src: Opnd::Imm(u64::from(w & 0xffff) << 16),
            }],
            0x20 | 0x21 | 0x23 | 0x24 | 0x25 => smallvec![Op::Move {
                dst: wr(rt),
                src: Self::mem(rs, w),
            }],
            0x28 | 0x29 | 0x2b => smallvec![Op::Move {
                dst: Self::mem(rs, w),
                src: r(rt),
            }],
            0x2a | 0x2e | 0x2f | 0x33 | 0x39 | 0x3d | 0x11 => smallvec![],
            0x1f => smallvec![Op::Clobber { dst: wr(rt) }, Op::Clobber { dst: wr(rd) }],
            _ => smallvec![Op::Clobber { dst: wr(rt) }],
        }
    }

    /// Non-PIC PLT entries: `lui t7, %hi(slot); lw t9, %lo(slot)(t7); [addiu t8, ...;] jr t9`.
    fn stub(&self, addr: u64) -> Option<u64> {
        let w0 = self.word(addr).ok()?;
        let w1 = self.word(addr.checked_add(4)?).ok()?;
        if w0 >> 26 != 0x0f || w1 >> 26 != 0x23 {
            return None;
        }
        let rt0 = (w0 >> 16) & 31;
        if (w1 >> 21) & 31 != rt0 || (w1 >> 16) & 31 != u32::from(T9) {
            return None;
        }
        let slot = ((u64::from(w0 & 0xffff) << 16).wrapping_add(sext16(w1))) & 0xffff_ffff;
        self.elf.slot_symbol(slot).map(|_| slot)
    }
}

impl Lifter for Mips<'_> {
    fn lift(&self, addr: u64) -> Result<Insn, String> {
        let w = self.word(addr)?;
        let kind = Self::kind(addr, w);
        if matches!(kind, Kind::Plain) {
            return Ok(Insn {
                addr,
                len: 4,
                text: Self::text(w, addr),
                ops: self.plain(w),
            });
        }
        let slot_addr = addr.wrapping_add(4);
        let sw = self.word(slot_addr)?;
        if !matches!(Self::kind(slot_addr, sw), Kind::Plain) {
            return Err(format!("branch in a delay slot at {slot_addr:#x}"));
        }
        let slot_ops = self.plain(sw);
        let mut text = Self::text(w, addr);
        let ops = match kind {
            Kind::Plain => Ops::new(),
            Kind::Cond(mut cmp, cond, t) => {
                text = insn_fmt!("{text} -> {t:#x}");
                cmp.extend(slot_ops);
                cmp.push(Op::Branch {
                    fl: FL,
                    cond,
                    target: t,
                });
                cmp
            }
            Kind::Jump(t) => {
                text = insn_fmt!("{text} -> {t:#x}");
                let mut v = slot_ops;
                v.push(Op::Jump { target: t });
                v
            }
            Kind::Call(Target::Direct(t)) if t == addr.wrapping_add(8) => {
                // `bal .+8`: loads the PC into ra (old PIC prologues)
                let mut v = slot_ops;
                v.push(Op::Move {
                    dst: Opnd::Reg(RA),
                    src: Opnd::Imm(t),
                });
                v
            }
            Kind::Call(target) => {
                if let Target::Direct(t) = target {
                    text = insn_fmt!("{text} -> {t:#x}");
                }
                let mut v = slot_ops;
                v.push(Op::Call { target });
                v
            }
            Kind::End(op) => {
                let mut v = slot_ops;
                v.push(op);
                v
            }
        };
        if sw != 0 {
            text = insn_fmt!("{text} ; delay: {}", Self::text(sw, slot_addr));
        }
        Ok(Insn {
            addr,
            len: 8,
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
            ArgLoc::Reg(4 + i as Reg)
        } else {
            ArgLoc::Stack(4 * i as i64)
        }
    }
    fn call_push(&self) -> i64 {
        0
    }
    fn ret_reg(&self) -> Reg {
        2
    }
    fn caller_saved(&self) -> &[Reg] {
        &CALLER_SAVED
    }
    fn plt_slot(&self, addr: u64) -> Option<u64> {
        self.stub(addr)
    }
    fn entry_consts(&self, entry: u64) -> Vec<(Reg, u64)> {
        // o32 PIC: callers jump through t9, which holds the callee's address
        vec![(T9, entry)]
    }
}
