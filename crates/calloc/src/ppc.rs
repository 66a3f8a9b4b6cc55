//! PowerPC 32-bit (big-endian) lifter. The handful of forms that matter are decoded from the
//! instruction word directly (the encoding is regular); the `powerpc` crate renders text.
//! Everything else clobbers its destination field.

use powerpc::{Extensions, Ins};

use smallvec::smallvec;

use super::ir::{ArgLoc, Cond, Insn, Lifter, Op, Opnd, Ops, Reg, Target};
use badalloc_elf::ElfFile;

const SP: Reg = 1;
/// Pseudo registers for LR and CTR.
const LR: Reg = 64;
const CTR: Reg = 65;
const CALLER_SAVED: [Reg; 13] = [0, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, LR, CTR];

pub struct Ppc<'e> {
    elf: &'e ElfFile<'e>,
}

fn simm(w: u32) -> u64 {
    i64::from(w as u16 as i16) as u64 & 0xffff_ffff
}

/// The mask of `rlwinm` bits MB..ME (big-endian bit numbering, wrapping).
fn rlw_mask(mb: u32, me: u32) -> u64 {
    let mut m = 0u64;
    let mut i = mb;
    for _ in 0..32 {
        m |= 1 << (31 - i);
        if i == me {
            break;
        }
        i = (i + 1) % 32;
    }
    m
}

impl<'e> Ppc<'e> {
    pub fn new(elf: &'e ElfFile<'e>) -> Ppc<'e> {
        Ppc { elf }
    }

    fn word(&self, addr: u64) -> Result<u32, String> {
        self.elf.code_word(addr, 4, "PowerPC")
    }

    /// A general register as a source; `rA = 0` in address and addi forms reads as 0.
    fn ra0(r: u32) -> Opnd {
        if r == 0 {
            Opnd::Imm(0)
        } else {
            Opnd::Reg(r as Reg)
        }
    }

    fn lift_word(&self, addr: u64, w: u32) -> Ops {
        let op = w >> 26;
        let rd = (w >> 21) & 31;
        let ra = (w >> 16) & 31;
        let rb = (w >> 11) & 31;
        let rc = w & 1 == 1;
        let r = |x: u32| Opnd::Reg(x as Reg);
        let test_cr0 = |x: u32| Op::Test {
            fl: 0,
            a: r(x),
            b: r(x),
        };
        let with_rc = |mut v: Ops, x: u32| {
            if rc {
                v.push(test_cr0(x));
            }
            v
        };
        match op {
            14 | 15 => smallvec![Op::Add {
                dst: r(rd),
                a: Self::ra0(ra),
                b: Opnd::Imm(if op == 15 {
                    (simm(w) << 16) & 0xffff_ffff
                } else {
                    simm(w)
                }),
                sub: false,
            }],
            12 | 13 => {
                let mut v = smallvec![Op::Add {
                    dst: r(rd),
                    a: r(ra),
                    b: Opnd::Imm(simm(w)),
                    sub: false,
                }];
                if op == 13 {
                    v.push(test_cr0(rd));
                }
                v
            }
            24 | 25 => {
                let k = u64::from(w & 0xffff) << if op == 25 { 16 } else { 0 };
                smallvec![Op::Or {
                    dst: r(ra),
                    a: r(rd),
                    b: Opnd::Imm(k),
                }]
            }
            28 | 29 => {
                let k = u64::from(w & 0xffff) << if op == 29 { 16 } else { 0 };
                smallvec![
                    Op::And {
                        dst: r(ra),
                        a: r(rd),
                        b: Opnd::Imm(k),
                    },
                    test_cr0(ra),
                ]
            }
            7 => smallvec![Op::Mul {
                lo: Some(r(rd)),
                hi: None,
                a: r(ra),
                b: Opnd::Imm(simm(w)),
                hi_unsigned: false,
                flags_ovf: false,
            }],
            10 | 11 => {
                let crf = (rd >> 2) as u8;
                let (a, b) = (
                    r(ra),
                    Opnd::Imm(if op == 10 {
                        u64::from(w & 0xffff)
                    } else {
                        simm(w)
                    }),
                );
                if op == 10 {
                    smallvec![Op::Cmp { fl: crf, a, b }]
                } else {
                    smallvec![Op::CmpSigned { fl: crf, a, b }]
                }
            }
            21 => {
                // rlwinm rA, rS, SH, MB, ME
                let sh = rb;
                let mb = (w >> 6) & 31;
                let me = (w >> 1) & 31;
                let v = if me == 31 && sh != 0 && sh + mb == 32 {
                    smallvec![Op::Shr {
                        dst: r(ra),
                        a: r(rd),
                        amount: mb,
                    }]
                } else if sh == 0 {
                    smallvec![Op::And {
                        dst: r(ra),
                        a: r(rd),
                        b: Opnd::Imm(rlw_mask(mb, me)),
                    }]
                } else {
                    smallvec![Op::Clobber { dst: r(ra) }]
                };
                with_rc(v, ra)
            }
            32..=35 | 40..=43 => {
                // lwz lwzu lbz lbzu lhz lhzu lha lhau
                let mut v = smallvec![Op::Move {
                    dst: r(rd),
                    src: self.mem(ra, simm(w)),
                }];
                if op & 1 == 1 && ra != 0 {
                    v.push(Op::Add {
                        dst: r(ra),
                        a: r(ra),
                        b: Opnd::Imm(simm(w)),
                        sub: false,
                    });
                }
                v
            }
            36..=39 | 44 | 45 => {
                // stw stwu stb stbu sth sthu
                let mut v = smallvec![Op::Move {
                    dst: self.mem(ra, simm(w)),
                    src: r(rd),
                }];
                if op & 1 == 1 && ra != 0 {
                    v.push(Op::Add {
                        dst: r(ra),
                        a: r(ra),
                        b: Opnd::Imm(simm(w)),
                        sub: false,
                    });
                }
                v
            }
            46 | 47 => {
                // lmw / stmw rD..r31
                let base = simm(w) as i64 as i32 as i64;
                (rd..32)
                    .map(|k| {
                        let m = match ra {
                            0 => Opnd::Unknown,
                            _ => Opnd::Mem {
                                base: ra as Reg,
                                disp: base + 4 * i64::from(k - rd),
                            },
                        };
                        if op == 46 {
                            Op::Move { dst: r(k), src: m }
                        } else {
                            Op::Move { dst: m, src: r(k) }
                        }
                    })
                    .collect()
            }
            48..=55 => smallvec![],
            18 => {
                let li = ((w & 0x03ff_fffc) as i32) << 6 >> 6;
                let aa = w & 2 != 0;
                let t = if aa { 0 } else { addr }.wrapping_add(i64::from(li) as u64) & 0xffff_ffff;
                if w & 1 == 1 {
                    smallvec![Op::Call {
                        target: Target::Direct(t),
                    }]
                } else {
                    smallvec![Op::Jump { target: t }]
                }
            }
            16 => {
                let bo = rd;
                let bi = ra;
                let bd = i64::from((w & 0xfffc) as u16 as i16);
                let t = if w & 2 != 0 { 0 } else { addr }.wrapping_add(bd as u64) & 0xffff_ffff;
                let lk = w & 1 == 1;
                let always = bo & 0x14 == 0x14;
                if lk {
                    // `bcl 20,31,.+4` loads the PC into LR (PIC prologues)
                    return smallvec![Op::Move {
                        dst: Opnd::Reg(LR),
                        src: Opnd::Imm(addr.wrapping_add(4)),
                    }];
                }
                if always {
                    return smallvec![Op::Jump { target: t }];
                }
                let cond = if bo & 0x04 == 0 {
                    Cond::Other // decrements CTR
                } else {
                    let on_true = bo & 0x08 != 0;
                    let c = match bi & 3 {
                        0 => Cond::Ult,
                        1 => Cond::Ugt,
                        2 => Cond::Eq,
                        _ => Cond::Other,
                    };
                    if on_true {
                        c
                    } else {
                        c.negate()
                    }
                };
                smallvec![Op::Branch {
                    fl: (bi >> 2) as u8,
                    cond,
                    target: t,
                }]
            }
            19 => {
                let xo = (w >> 1) & 0x3ff;
                let always = rd & 0x14 == 0x14;
                let lk = w & 1 == 1;
                match xo {
                    16 if lk => smallvec![Op::Call {
                        target: Target::Indirect,
                    }],
                    16 if always => smallvec![Op::Ret],
                    16 => smallvec![], // conditional return: the fall-through continues
                    528 if lk => smallvec![Op::Call {
                        target: Target::Indirect,
                    }],
                    528 if always => smallvec![Op::TailCall {
                        target: Target::Indirect,
                    }],
                    528 => smallvec![],
                    _ => smallvec![], // cr logical ops, isync
                }
            }
            31 => self.lift_x(w, rd, ra, rb, rc),
            3 | 17 => smallvec![],
            _ => smallvec![Op::Clobber { dst: r(rd) }, Op::FlagsClobber],
        }
    }

    fn mem(&self, ra: u32, d: u64) -> Opnd {
        if ra == 0 {
            Opnd::Abs(d)
        } else {
            Opnd::Mem {
                base: ra as Reg,
                disp: d as u32 as i32 as i64,
            }
        }
    }

    fn lift_x(&self, w: u32, rd: u32, ra: u32, rb: u32, rc: bool) -> Ops {
        let xo = (w >> 1) & 0x3ff;
        let r = |x: u32| Opnd::Reg(x as Reg);
        let test = |x: u32| Op::Test {
            fl: 0,
            a: r(x),
            b: r(x),
        };
        let with_rc = |mut v: Ops, x: u32| {
            if rc {
                v.push(test(x));
            }
            v
        };
        // XO-form arithmetic uses a 9-bit XO (bit 21 is OE)
        let xo9 = xo & 0x1ff;
        match (xo, xo9) {
            (_, 266) => with_rc(
                smallvec![Op::Add {
                    dst: r(rd),
                    a: r(ra),
                    b: r(rb),
                    sub: false,
                }],
                rd,
            ),
            (_, 40) => with_rc(
                smallvec![Op::Add {
                    dst: r(rd),
                    a: r(rb),
                    b: r(ra),
                    sub: true,
                }],
                rd,
            ),
            (_, 235) => with_rc(
                smallvec![Op::Mul {
                    lo: Some(r(rd)),
                    hi: None,
                    a: r(ra),
                    b: r(rb),
                    hi_unsigned: false,
                    flags_ovf: false,
                }],
                rd,
            ),
            (_, 11) | (_, 75) => with_rc(
                smallvec![Op::Mul {
                    lo: None,
                    hi: Some(r(rd)),
                    a: r(ra),
                    b: r(rb),
                    hi_unsigned: xo9 == 11,
                    flags_ovf: false,
                }],
                rd,
            ),
            (_, 459) => with_rc(
                smallvec![Op::Div {
                    quot: Some(r(rd)),
                    rem: None,
                    num: r(ra),
                    num_hi: None,
                    den: r(rb),
                }],
                rd,
            ),
            (444, _) => with_rc(
                if rd == rb {
                    smallvec![Op::Move {
                        dst: r(ra),
                        src: r(rd),
                    }]
                } else {
                    smallvec![Op::Or {
                        dst: r(ra),
                        a: r(rd),
                        b: r(rb),
                    }]
                },
                ra,
            ),
            (28, _) => with_rc(
                smallvec![Op::And {
                    dst: r(ra),
                    a: r(rd),
                    b: r(rb),
                }],
                ra,
            ),
            (0, _) => smallvec![Op::CmpSigned {
                fl: (rd >> 2) as u8,
                a: r(ra),
                b: r(rb),
            }],
            (32, _) => smallvec![Op::Cmp {
                fl: (rd >> 2) as u8,
                a: r(ra),
                b: r(rb),
            }],
            (339, _) => {
                let spr = ((w >> 16) & 31) | (((w >> 11) & 31) << 5);
                match spr {
                    8 => smallvec![Op::Move {
                        dst: r(rd),
                        src: Opnd::Reg(LR),
                    }],
                    9 => smallvec![Op::Move {
                        dst: r(rd),
                        src: Opnd::Reg(CTR),
                    }],
                    _ => smallvec![Op::Clobber { dst: r(rd) }],
                }
            }
            (467, _) => {
                let spr = ((w >> 16) & 31) | (((w >> 11) & 31) << 5);
                match spr {
                    8 => smallvec![Op::Move {
                        dst: Opnd::Reg(LR),
                        src: r(rd),
                    }],
                    9 => smallvec![Op::Move {
                        dst: Opnd::Reg(CTR),
                        src: r(rd),
                    }],
                    _ => smallvec![],
                }
            }
            // stores: rS is a source
            (151 | 183 | 215 | 247 | 407 | 439 | 662 | 918 | 150 | 727 | 759 | 663 | 695, _) => {
                smallvec![]
            }
            (4, _)
            | (86, _)
            | (54, _)
            | (278, _)
            | (246, _)
            | (1014, _)
            | (598, _)
            | (854, _)
            | (982, _) => smallvec![],
            // other logical/shift forms write rA; loads write rD: clobber both (a source may
            // lose its meaning, which only makes the analysis more cautious)
            _ => {
                let mut v = smallvec![Op::Clobber { dst: r(rd) }, Op::Clobber { dst: r(ra) }];
                if rc {
                    v.push(Op::FlagsClobber);
                }
                v
            }
        }
    }

    /// Secure-PLT call stubs: `[addis r11, rX, hi;] lwz r11, lo(rX|r11); mtctr r11; bctr`,
    /// with rX = r30 (PIC GOT pointer of the caller) or 0 (absolute `lis`).
    fn stub(&self, addr: u64, reg: &dyn Fn(Reg) -> Option<u64>) -> Option<u64> {
        if self.elf.slot_symbol(addr).is_some_and(|b| b.plt) {
            // BSS-PLT: the JMP_SLOT relocation points at the PLT entry itself
            return Some(addr);
        }
        let mut r11: Option<u64> = None;
        let mut slot = None;
        let mut a = addr;
        for _ in 0..4 {
            let w = self.word(a).ok()?;
            let (op, rd, ra) = (w >> 26, (w >> 21) & 31, (w >> 16) & 31);
            let base = |x: u32| -> Option<u64> {
                if x == 0 {
                    Some(0)
                } else if x == 11 {
                    r11
                } else {
                    reg(x as Reg)
                }
            };
            match op {
                15 if rd == 11 => r11 = Some(base(ra)?.wrapping_add(simm(w) << 16) & 0xffff_ffff),
                32 if rd == 11 => {
                    let s = base(ra)?.wrapping_add(simm(w)) & 0xffff_ffff;
                    slot = Some(s);
                    r11 = None;
                }
                31 if (w >> 1) & 0x3ff == 467 => {}
                19 if (w >> 1) & 0x3ff == 528 => {
                    let s = slot?;
                    return self.elf.slot_symbol(s).map(|_| s);
                }
                _ => return None,
            }
            a = a.checked_add(4)?;
        }
        None
    }
}

impl Lifter for Ppc<'_> {
    fn lift(&self, addr: u64) -> Result<Insn, String> {
        let w = self.word(addr)?;
        let mut ops = self.lift_word(addr, w);
        // `addic rT, rA, -1; subfe rD, rT, rA` computes rD = (rA != 0)
        if w >> 26 == 31 && (w >> 1) & 0x1ff == 136 {
            if let Some(p) = addr.checked_sub(4).and_then(|pa| self.word(pa).ok()) {
                let (rd, rt, ra) = ((w >> 21) & 31, (w >> 16) & 31, (w >> 11) & 31);
                if p >> 26 == 12
                    && (p >> 21) & 31 == rt
                    && (p >> 16) & 31 == ra
                    && p & 0xffff == 0xffff
                {
                    ops = smallvec![Op::SetCmp {
                        dst: Opnd::Reg(rd as Reg),
                        cond: Cond::Ne,
                        a: Opnd::Reg(ra as Reg),
                        b: Opnd::Imm(0),
                    }];
                }
            }
        }
        let mut text = if super::ir::text_wanted() {
            format!("{}", Ins::new(w, Extensions::none()).simplified())
        } else {
            String::new()
        };
        for op in &ops {
            if let Op::Branch { target, .. }
            | Op::Jump { target }
            | Op::Call {
                target: Target::Direct(target),
            } = op
            {
                text = insn_fmt!("{text} -> {target:#x}");
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
        32
    }
    fn arg(&self, i: usize) -> ArgLoc {
        if i < 8 {
            ArgLoc::Reg(3 + i as Reg)
        } else {
            ArgLoc::Stack(8 + 4 * (i as i64 - 8))
        }
    }
    fn call_push(&self) -> i64 {
        0
    }
    fn ret_reg(&self) -> Reg {
        3
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
