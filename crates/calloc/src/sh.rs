//! SuperH (SH-4) lifter: a small hand-written decoder for the 16-bit forms that matter; every
//! other encoding clobbers its Rn field and the T bit. The T bit is modelled as a register
//! holding the compare result (so `cmp/hs` and `tst` keep their own sense), and `bt`/`bf`
//! branch on it being non-zero/zero. Delay slots are folded into the branch.

use smallvec::smallvec;

use super::ir::{ArgLoc, Cond, Insn, Lifter, Op, Opnd, Ops, Reg, Target};
use badalloc_elf::{ElfFile, Endian};

const SP: Reg = 15;
const T: Reg = 40;
const TMP: Reg = 41;
const TSAVE: Reg = 42;
const MACH: Reg = 43;
const MACL: Reg = 44;
const PR: Reg = 45;
const CALLER_SAVED: [Reg; 13] = [0, 1, 2, 3, 4, 5, 6, 7, T, MACH, MACL, PR, TMP];

pub struct Sh<'e> {
    elf: &'e ElfFile<'e>,
}

enum Flow {
    Plain,
    /// bt/bf (no delay slot): branch when T is set (`true`) or clear
    Cond(bool, u64, bool),
    Jump(u64),
    Call(Target),
    End(Op),
}

fn r(x: u16) -> Opnd {
    Opnd::Reg(x)
}

impl<'e> Sh<'e> {
    pub fn new(elf: &'e ElfFile<'e>) -> Sh<'e> {
        Sh { elf }
    }

    fn half(&self, addr: u64) -> Result<u16, String> {
        self.elf.code_word(addr, 2, "SH").map(|w| w as u16)
    }

    fn lit32(&self, a: u64) -> Option<u64> {
        let b = self.elf.bytes_at(a)?;
        let b: [u8; 4] = b.get(..4)?.try_into().ok()?;
        Some(u64::from(match self.elf.endian {
            Endian::Big => u32::from_be_bytes(b),
            Endian::Little => u32::from_le_bytes(b),
        }))
    }

    fn lit16(&self, a: u64) -> Option<u64> {
        let b = self.elf.bytes_at(a)?;
        let b: [u8; 2] = b.get(..2)?.try_into().ok()?;
        let v = match self.elf.endian {
            Endian::Big => i16::from_be_bytes(b),
            Endian::Little => i16::from_le_bytes(b),
        };
        Some(i64::from(v) as u64 & 0xffff_ffff)
    }

    fn flow(addr: u64, w: u16) -> Flow {
        let n = (w >> 8) & 0xf;
        let d8 = i64::from(w as u8 as i8);
        let d12 = i64::from(((w & 0xfff) as i16) << 4 >> 4);
        let t8 = addr.wrapping_add(4).wrapping_add((d8 * 2) as u64) & 0xffff_ffff;
        let t12 = addr.wrapping_add(4).wrapping_add((d12 * 2) as u64) & 0xffff_ffff;
        match w >> 8 {
            0x89 => return Flow::Cond(true, t8, false),
            0x8b => return Flow::Cond(false, t8, false),
            0x8d => return Flow::Cond(true, t8, true),
            0x8f => return Flow::Cond(false, t8, true),
            _ => {}
        }
        match w >> 12 {
            0xa => return Flow::Jump(t12),
            0xb => return Flow::Call(Target::Direct(t12)),
            _ => {}
        }
        let base = addr.wrapping_add(4);
        match (w >> 12, w & 0xff) {
            (0x0, 0x0b) if w == 0x000b => Flow::End(Op::Ret),
            (0x0, 0x23) => Flow::End(Op::TailCall {
                target: Target::RegOffset(n, base),
            }),
            (0x0, 0x03) => Flow::Call(Target::RegOffset(n, base)),
            (0x4, 0x2b) => Flow::End(Op::TailCall {
                target: Target::Reg(n),
            }),
            (0x4, 0x0b) => Flow::Call(Target::Reg(n)),
            _ => Flow::Plain,
        }
    }

    fn plain(&self, addr: u64, w: u16) -> (Ops, String) {
        let n = (w >> 8) & 0xf;
        let m = (w >> 4) & 0xf;
        let d4 = i64::from(w & 0xf);
        let imm8 = i64::from(w as u8 as i8) as u64 & 0xffff_ffff;
        let u8v = u64::from(w & 0xff);
        let set_t = |cond: Cond, a: Opnd, b: Opnd| Op::SetCmp {
            dst: r(T),
            cond,
            a,
            b,
        };
        let clob_t = Op::Clobber { dst: r(T) };
        let push = |reg: Opnd, base: u16| {
            smallvec![
                Op::Add {
                    dst: r(base),
                    a: r(base),
                    b: Opnd::Imm(4),
                    sub: true,
                },
                Op::Move {
                    dst: Opnd::Mem { base, disp: 0 },
                    src: reg,
                },
            ]
        };
        let pop = |reg: Opnd, base: u16, size: u64| {
            smallvec![
                Op::Move {
                    dst: reg,
                    src: Opnd::Mem { base, disp: 0 },
                },
                Op::Add {
                    dst: r(base),
                    a: r(base),
                    b: Opnd::Imm(size),
                    sub: false,
                },
            ]
        };
        let pc4 = (addr & !3).wrapping_add(4);
        let t = |s: String| s;
        match (w >> 12, w & 0xf) {
            (0x6, 0x3) => (
                smallvec![Op::Move {
                    dst: r(n),
                    src: r(m),
                }],
                t(insn_fmt!("mov r{m},r{n}")),
            ),
            (0xe, _) => (
                smallvec![Op::Move {
                    dst: r(n),
                    src: Opnd::Imm(imm8),
                }],
                insn_fmt!("mov #{},r{n}", imm8 as u32 as i32),
            ),
            (0x9, _) => {
                let a = addr.wrapping_add(4).wrapping_add(u8v * 2);
                let v = self.lit16(a);
                (
                    smallvec![match v {
                        Some(v) => Op::Move {
                            dst: r(n),
                            src: Opnd::Imm(v),
                        },
                        None => Op::Clobber { dst: r(n) },
                    }],
                    insn_fmt!("mov.w @({a:#x}),r{n}"),
                )
            }
            (0xd, _) => {
                let a = pc4.wrapping_add(u8v * 4);
                let v = self.lit32(a);
                (
                    smallvec![match v {
                        Some(v) => Op::Move {
                            dst: r(n),
                            src: Opnd::Imm(v),
                        },
                        None => Op::Clobber { dst: r(n) },
                    }],
                    insn_fmt!("mov.l @({a:#x}),r{n}  ! {:#x}", v.unwrap_or(0)),
                )
            }
            (0xc, _) if n == 7 => {
                let a = pc4.wrapping_add(u8v * 4);
                (
                    smallvec![Op::Move {
                        dst: r(0),
                        src: Opnd::Imm(a),
                    }],
                    insn_fmt!("mova @({a:#x}),r0"),
                )
            }
            (0x2, 0x2) | (0x2, 0x0) | (0x2, 0x1) => (
                smallvec![Op::Move {
                    dst: Opnd::Mem { base: n, disp: 0 },
                    src: r(m),
                }],
                insn_fmt!("mov.{} r{m},@r{n}", ["b", "w", "l"][usize::from(w & 3)]),
            ),
            (0x6, 0x2) | (0x6, 0x0) | (0x6, 0x1) => (
                smallvec![Op::Move {
                    dst: r(n),
                    src: Opnd::Mem { base: m, disp: 0 },
                }],
                insn_fmt!("mov.{} @r{m},r{n}", ["b", "w", "l"][usize::from(w & 3)]),
            ),
            (0x2, 0x6) | (0x2, 0x4) | (0x2, 0x5) => (push(r(m), n), insn_fmt!("mov r{m},@-r{n}")),
            (0x6, 0x6) | (0x6, 0x4) | (0x6, 0x5) => {
                let size = [1, 2, 4][usize::from(w & 3).min(2)];
                let mut v = pop(r(n), m, size);
                if n == m {
                    v.truncate(1);
                }
                (v, insn_fmt!("mov @r{m}+,r{n}"))
            }
            (0x1, _) => (
                smallvec![Op::Move {
                    dst: Opnd::Mem {
                        base: n,
                        disp: d4 * 4,
                    },
                    src: r(m),
                }],
                insn_fmt!("mov.l r{m},@({},r{n})", d4 * 4),
            ),
            (0x5, _) => (
                smallvec![Op::Move {
                    dst: r(n),
                    src: Opnd::Mem {
                        base: m,
                        disp: d4 * 4,
                    },
                }],
                insn_fmt!("mov.l @({},r{m}),r{n}", d4 * 4),
            ),
            (0x0, 0xe) | (0x0, 0xc) | (0x0, 0xd) => (
                smallvec![
                    Op::Add {
                        dst: r(TMP),
                        a: r(0),
                        b: r(m),
                        sub: false,
                    },
                    Op::Move {
                        dst: r(n),
                        src: Opnd::Mem { base: TMP, disp: 0 },
                    },
                ],
                insn_fmt!("mov.l @(r0,r{m}),r{n}"),
            ),
            (0x0, 0x6) | (0x0, 0x4) | (0x0, 0x5) => {
                (smallvec![], insn_fmt!("mov.l r{m},@(r0,r{n})"))
            }
            (0x3, 0xc) => (
                smallvec![Op::Add {
                    dst: r(n),
                    a: r(n),
                    b: r(m),
                    sub: false,
                }],
                insn_fmt!("add r{m},r{n}"),
            ),
            (0x7, _) => (
                smallvec![Op::Add {
                    dst: r(n),
                    a: r(n),
                    b: Opnd::Imm(imm8),
                    sub: false,
                }],
                insn_fmt!("add #{},r{n}", imm8 as u32 as i32),
            ),
            (0x3, 0x8) => (
                smallvec![Op::Add {
                    dst: r(n),
                    a: r(n),
                    b: r(m),
                    sub: true,
                }],
                insn_fmt!("sub r{m},r{n}"),
            ),
            (0x2, 0xb) => (
                smallvec![Op::Or {
                    dst: r(n),
                    a: r(n),
                    b: r(m),
                }],
                insn_fmt!("or r{m},r{n}"),
            ),
            (0x2, 0x9) => (
                smallvec![Op::And {
                    dst: r(n),
                    a: r(n),
                    b: r(m),
                }],
                insn_fmt!("and r{m},r{n}"),
            ),
            (0x2, 0xa) if n == m => (
                smallvec![Op::Move {
                    dst: r(n),
                    src: Opnd::Imm(0),
                }],
                insn_fmt!("xor r{m},r{n}"),
            ),
            (0x2, 0x8) => {
                let v = if n == m {
                    smallvec![set_t(Cond::Eq, r(n), Opnd::Imm(0))]
                } else {
                    smallvec![
                        Op::And {
                            dst: r(TMP),
                            a: r(n),
                            b: r(m),
                        },
                        set_t(Cond::Eq, r(TMP), Opnd::Imm(0)),
                    ]
                };
                (v, insn_fmt!("tst r{m},r{n}"))
            }
            (0x3, 0x0) => (
                smallvec![set_t(Cond::Eq, r(n), r(m))],
                insn_fmt!("cmp/eq r{m},r{n}"),
            ),
            (0x3, 0x2) => (
                smallvec![set_t(Cond::Uge, r(n), r(m))],
                insn_fmt!("cmp/hs r{m},r{n}"),
            ),
            (0x3, 0x6) => (
                smallvec![set_t(Cond::Ugt, r(n), r(m))],
                insn_fmt!("cmp/hi r{m},r{n}"),
            ),
            (0x3, 0x3) | (0x3, 0x7) => (smallvec![clob_t], insn_fmt!("cmp/g? r{m},r{n}")),
            (0x0, 0x7) => (
                smallvec![Op::Mul {
                    lo: Some(r(MACL)),
                    hi: None,
                    a: r(n),
                    b: r(m),
                    hi_unsigned: false,
                    flags_ovf: false,
                }],
                insn_fmt!("mul.l r{m},r{n}"),
            ),
            (0x3, 0x5) | (0x3, 0xd) => (
                smallvec![Op::Mul {
                    lo: Some(r(MACL)),
                    hi: Some(r(MACH)),
                    a: r(n),
                    b: r(m),
                    hi_unsigned: w & 0xf == 0x5,
                    flags_ovf: false,
                }],
                insn_fmt!("dmul{}.l r{m},r{n}", if w & 0xf == 5 { "u" } else { "s" }),
            ),
            (0x6, 0xa) => (
                smallvec![
                    Op::NegcBool {
                        dst: r(TMP),
                        src: r(T),
                        rm: r(m),
                    },
                    Op::Move {
                        dst: r(n),
                        src: r(TMP),
                    },
                    Op::Clobber { dst: r(T) },
                ],
                insn_fmt!("negc r{m},r{n}"),
            ),
            (0x6, 0xc) | (0x6, 0xd) | (0x6, 0xe) | (0x6, 0xf) => (
                smallvec![Op::Move {
                    dst: r(n),
                    src: r(m),
                }],
                insn_fmt!("ext r{m},r{n}"),
            ),
            _ => self.plain_by_low_byte(w, n, u8v, imm8),
        }
    }

    fn plain_by_low_byte(&self, w: u16, n: u16, u8v: u64, imm8: u64) -> (Ops, String) {
        let set_t = |cond: Cond, a: Opnd, b: Opnd| Op::SetCmp {
            dst: r(T),
            cond,
            a,
            b,
        };
        match (w >> 12, w & 0xff) {
            (0x0, 0x0a) => (
                smallvec![Op::Move {
                    dst: r(n),
                    src: r(MACH),
                }],
                insn_fmt!("sts mach,r{n}"),
            ),
            (0x0, 0x1a) => (
                smallvec![Op::Move {
                    dst: r(n),
                    src: r(MACL),
                }],
                insn_fmt!("sts macl,r{n}"),
            ),
            (0x0, 0x2a) => (
                smallvec![Op::Move {
                    dst: r(n),
                    src: r(PR),
                }],
                insn_fmt!("sts pr,r{n}"),
            ),
            (0x0, 0x29) => (
                smallvec![Op::Move {
                    dst: r(n),
                    src: r(T),
                }],
                insn_fmt!("movt r{n}"),
            ),
            (0x4, 0x02) | (0x4, 0x12) | (0x4, 0x22) => {
                let src = [MACH, MACL, PR][usize::from((w >> 4) & 0xf).min(2)];
                (
                    smallvec![
                        Op::Add {
                            dst: r(n),
                            a: r(n),
                            b: Opnd::Imm(4),
                            sub: true,
                        },
                        Op::Move {
                            dst: Opnd::Mem { base: n, disp: 0 },
                            src: r(src),
                        },
                    ],
                    insn_fmt!("sts.l ?,@-r{n}"),
                )
            }
            (0x4, 0x06) | (0x4, 0x16) | (0x4, 0x26) => {
                let dst = [MACH, MACL, PR][usize::from((w >> 4) & 0xf).min(2)];
                (
                    smallvec![
                        Op::Move {
                            dst: r(dst),
                            src: Opnd::Mem { base: n, disp: 0 },
                        },
                        Op::Add {
                            dst: r(n),
                            a: r(n),
                            b: Opnd::Imm(4),
                            sub: false,
                        },
                    ],
                    insn_fmt!("lds.l @r{n}+,?"),
                )
            }
            (0x4, 0x0a) | (0x4, 0x1a) | (0x4, 0x2a) => {
                let dst = [MACH, MACL, PR][usize::from((w >> 4) & 0xf).min(2)];
                (
                    smallvec![Op::Move {
                        dst: r(dst),
                        src: r(n),
                    }],
                    insn_fmt!("lds r{n},?"),
                )
            }
            (0x4, 0x09) | (0x4, 0x19) | (0x4, 0x29) | (0x4, 0x01) => {
                let amount = match w & 0xff {
                    0x09 => 2,
                    0x19 => 8,
                    0x29 => 16,
                    _ => 1,
                };
                let mut v = smallvec![Op::Shr {
                    dst: r(n),
                    a: r(n),
                    amount,
                }];
                if amount == 1 {
                    v.push(Op::Clobber { dst: r(T) });
                }
                (v, insn_fmt!("shlr{amount} r{n}"))
            }
            (0x4, 0x10) => (
                smallvec![
                    Op::Add {
                        dst: r(n),
                        a: r(n),
                        b: Opnd::Imm(1),
                        sub: true,
                    },
                    set_t(Cond::Eq, r(n), Opnd::Imm(0)),
                ],
                insn_fmt!("dt r{n}"),
            ),
            (0x4, 0x11) | (0x4, 0x15) => (
                smallvec![Op::Clobber { dst: r(T) }],
                insn_fmt!("cmp/p? r{n}"),
            ),
            (0x8, _) if n == 8 => (
                smallvec![set_t(Cond::Eq, r(0), Opnd::Imm(imm8))],
                insn_fmt!("cmp/eq #{},r0", imm8 as u32 as i32),
            ),
            (0xc, _) if n == 0xb => (
                smallvec![Op::Or {
                    dst: r(0),
                    a: r(0),
                    b: Opnd::Imm(u8v),
                }],
                insn_fmt!("or #{u8v:#x},r0"),
            ),
            (0xc, _) if n == 0x9 => (
                smallvec![Op::And {
                    dst: r(0),
                    a: r(0),
                    b: Opnd::Imm(u8v),
                }],
                insn_fmt!("and #{u8v:#x},r0"),
            ),
            (0xc, _) if n == 0x8 => (
                smallvec![
                    Op::And {
                        dst: r(TMP),
                        a: r(0),
                        b: Opnd::Imm(u8v),
                    },
                    set_t(Cond::Eq, r(TMP), Opnd::Imm(0)),
                ],
                insn_fmt!("tst #{u8v:#x},r0"),
            ),
            (0xc, _) if n == 0x3 => (smallvec![Op::Trap], insn_fmt!("trapa #{u8v}")),
            (0xc, _) if (4..=6).contains(&n) => (
                smallvec![Op::Clobber { dst: r(0) }],
                "mov.x @(d,gbr),r0".into(),
            ),
            (0xc, _) if n <= 2 => (smallvec![], "mov.x r0,@(d,gbr)".into()),
            (0x8, _) if n == 0 || n == 1 => (smallvec![], "mov.x r0,@(d,rn)".into()),
            (0x8, _) if n == 4 || n == 5 => (
                smallvec![Op::Clobber { dst: r(0) }],
                "mov.x @(d,rm),r0".into(),
            ),
            (0x0, 0x09) => (smallvec![], "nop".into()),
            (0x0, 0x08) if n == 0 => (
                smallvec![Op::Move {
                    dst: r(T),
                    src: Opnd::Imm(0),
                }],
                "clrt".into(),
            ),
            (0x0, 0x18) if n == 0 => (
                smallvec![Op::Move {
                    dst: r(T),
                    src: Opnd::Imm(1),
                }],
                "sett".into(),
            ),
            (0x0, 0x28) if n == 0 => (
                smallvec![Op::Clobber { dst: r(MACH) }, Op::Clobber { dst: r(MACL) }],
                "clrmac".into(),
            ),
            (0x4, 0x1e) | (0x4, 0x0e) | (0x0, 0x83) | (0xf, _) => {
                (smallvec![], insn_fmt!(".word {w:#06x}"))
            }
            _ => (
                smallvec![Op::Clobber { dst: r(n) }, Op::Clobber { dst: r(T) }],
                insn_fmt!(".word {w:#06x}"),
            ),
        }
    }

    /// PLT entries: `mov.l @(d,pc),r0; mov.l @(r0,r12),r0 | mov.l @r0,r0; jmp @r0`.
    fn stub(&self, addr: u64, reg: &dyn Fn(Reg) -> Option<u64>) -> Option<u64> {
        let w0 = self.half(addr).ok()?;
        let w1 = self.half(addr.checked_add(2)?).ok()?;
        let w2 = self.half(addr.checked_add(4)?).ok()?;
        if w0 >> 8 != 0xd0 || w2 != 0x402b {
            return None;
        }
        let lit = self.lit32(
            (addr & !3)
                .wrapping_add(4)
                .wrapping_add(u64::from(w0 & 0xff) * 4),
        )?;
        let slot = match w1 {
            0x00ce => lit.wrapping_add(reg(12)?) & 0xffff_ffff,
            0x6002 => lit,
            _ => return None,
        };
        self.elf.slot_symbol(slot).map(|_| slot)
    }
}

impl Lifter for Sh<'_> {
    fn lift(&self, addr: u64) -> Result<Insn, String> {
        let w = self.half(addr)?;
        let flow = Self::flow(addr, w);
        if let Flow::Plain = flow {
            let (ops, text) = self.plain(addr, w);
            return Ok(Insn {
                addr,
                len: 2,
                text,
                ops,
            });
        }
        let branch_on = |on_t: bool, target: u64| Op::BranchCmp {
            cond: if on_t { Cond::Ne } else { Cond::Eq },
            a: r(TSAVE),
            b: Opnd::Imm(0),
            target,
        };
        if let Flow::Cond(on_t, target, false) = flow {
            return Ok(Insn {
                addr,
                len: 2,
                text: insn_fmt!("b{} {target:#x}", if on_t { "t" } else { "f" }),
                ops: smallvec![
                    Op::Move {
                        dst: r(TSAVE),
                        src: r(T),
                    },
                    branch_on(on_t, target),
                ],
            });
        }
        // delayed branches
        let slot_addr = addr.wrapping_add(2);
        let sw = self.half(slot_addr)?;
        if !matches!(Self::flow(slot_addr, sw), Flow::Plain) {
            return Err(format!("branch in a delay slot at {slot_addr:#x}"));
        }
        let (slot_ops, slot_text) = self.plain(slot_addr, sw);
        let mut ops = smallvec![Op::Move {
            dst: r(TSAVE),
            src: r(T),
        }];
        ops.extend(slot_ops);
        let text;
        match flow {
            Flow::Cond(on_t, target, true) => {
                text = insn_fmt!("b{}/s {target:#x}", if on_t { "t" } else { "f" });
                ops.push(branch_on(on_t, target));
            }
            Flow::Jump(t) => {
                text = insn_fmt!("bra {t:#x}");
                ops.push(Op::Jump { target: t });
            }
            Flow::Call(target) => {
                text = match target {
                    Target::Direct(t) => insn_fmt!("bsr {t:#x}"),
                    Target::RegOffset(n, _) => insn_fmt!("bsrf r{n}"),
                    Target::Reg(n) => insn_fmt!("jsr @r{n}"),
                    _ => "call".into(),
                };
                ops.push(Op::Call { target });
            }
            Flow::End(op) => {
                text = match &op {
                    Op::Ret => "rts".to_string(),
                    _ => "jmp".to_string(),
                };
                ops.push(op);
            }
            _ => return Err(format!("unexpected flow at {addr:#x}")),
        }
        Ok(Insn {
            addr,
            len: 4,
            text: insn_fmt!("{text} ; delay: {slot_text}"),
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
        self.stub(addr, &|_| None)
    }
    fn plt_slot_in(&self, addr: u64, reg: &dyn Fn(Reg) -> Option<u64>) -> Option<u64> {
        self.stub(addr, reg)
    }
}
