//! x86 and x86_64 lifter (iced-x86).

use std::cell::RefCell;

use iced_x86::{
    ConditionCode, Decoder, DecoderOptions, Formatter, Instruction, IntelFormatter, Mnemonic,
    OpKind, Register,
};

use smallvec::smallvec;

use super::ir::{ArgLoc, Cond, Insn, Lifter, Op, Opnd, Ops, Reg, Target};
use badalloc_elf::{Arch, ElfFile};

pub struct X86<'e> {
    elf: &'e ElfFile<'e>,
    bits: u32,
    /// Made on first use: a scan renders text only for its evidence lines.
    fmt: RefCell<Option<IntelFormatter>>,
    /// One decoder per stretch of code bytes, repositioned for each instruction: making a
    /// decoder copies its state, which cost more than the decoding when the search for
    /// calloc decodes a whole program's function entries.
    decoders: RefCell<Vec<(&'e [u8], Decoder<'e>)>>,
}

/// Segments whose decoders are kept (programs have one or two executable segments).
const MAX_DECODERS: usize = 8;

fn r(reg: Register) -> Reg {
    reg.full_register() as Reg
}

const CALLER_SAVED_32: [Register; 3] = [Register::RAX, Register::RCX, Register::RDX];
const CALLER_SAVED_64: [Register; 9] = [
    Register::RAX,
    Register::RCX,
    Register::RDX,
    Register::RSI,
    Register::RDI,
    Register::R8,
    Register::R9,
    Register::R10,
    Register::R11,
];

impl<'e> X86<'e> {
    pub fn new(elf: &'e ElfFile<'e>) -> X86<'e> {
        X86 {
            elf,
            bits: if elf.arch == Arch::X86_64 { 64 } else { 32 },
            fmt: RefCell::new(None),
            decoders: RefCell::new(Vec::new()),
        }
    }

    fn formatter() -> IntelFormatter {
        let mut fmt = IntelFormatter::new();
        fmt.options_mut().set_branch_leading_zeros(false);
        fmt.options_mut().set_hex_prefix("0x");
        fmt.options_mut().set_hex_suffix("");
        fmt.options_mut().set_uppercase_hex(false);
        fmt
    }

    fn decode(&self, addr: u64) -> Result<Instruction, String> {
        let bytes = self
            .elf
            .code_at(addr)
            .ok_or_else(|| format!("{addr:#x} is outside the executable segments"))?;
        let i = self.decode_in(bytes, addr);
        if i.is_invalid() {
            return Err(format!("invalid x86 instruction at {addr:#x}"));
        }
        Ok(i)
    }

    /// Decode the instruction at the start of `bytes` (the code from `addr` to the end of
    /// its segment) with the decoder of the whole segment, made on first use.
    fn decode_in(&self, bytes: &'e [u8], addr: u64) -> Instruction {
        let mut decoders = self.decoders.borrow_mut();
        let pos = |data: &[u8]| {
            let at = (bytes.as_ptr() as usize).checked_sub(data.as_ptr() as usize)?;
            (data.as_ptr_range().end == bytes.as_ptr_range().end).then_some(at)
        };
        if !decoders.iter().any(|(data, _)| pos(data).is_some()) {
            // The executable segment the bytes lie in, from its first byte.
            let whole = self.elf.segments.iter().find_map(|seg| {
                let data = self.elf.code_at(seg.vaddr).filter(|_| seg.executable)?;
                pos(data).map(|_| data)
            });
            if let Some(data) = whole.filter(|_| decoders.len() < MAX_DECODERS) {
                let d = Decoder::with_ip(self.bits, data, addr, DecoderOptions::NONE);
                decoders.push((data, d));
            }
        }
        let cached = decoders
            .iter_mut()
            .find_map(|(data, d)| pos(data).map(|at| (d, at)));
        if let Some((d, at)) = cached {
            if d.set_position(at).is_ok() {
                d.set_ip(addr);
                return d.decode();
            }
        }
        Decoder::with_ip(self.bits, bytes, addr, DecoderOptions::NONE).decode()
    }

    fn disp(&self, i: &Instruction) -> i64 {
        let d = i.memory_displacement64();
        if self.bits == 32 {
            i64::from(d as u32 as i32)
        } else {
            d as i64
        }
    }

    fn mem(&self, i: &Instruction) -> Opnd {
        if i.is_ip_rel_memory_operand() {
            return Opnd::Abs(i.ip_rel_memory_address());
        }
        if i.memory_index() != Register::None {
            return Opnd::Unknown;
        }
        match i.memory_base() {
            Register::None => Opnd::Abs(self.disp(i) as u64 & self.word_mask()),
            b => Opnd::Mem {
                base: r(b),
                disp: self.disp(i),
            },
        }
    }

    fn word_mask(&self) -> u64 {
        if self.bits == 64 {
            u64::MAX
        } else {
            0xffff_ffff
        }
    }

    fn opnd(&self, i: &Instruction, n: u32) -> Opnd {
        match i.op_kind(n) {
            OpKind::Register => Opnd::Reg(r(i.op_register(n))),
            OpKind::Memory => self.mem(i),
            OpKind::Immediate8
            | OpKind::Immediate8_2nd
            | OpKind::Immediate16
            | OpKind::Immediate32
            | OpKind::Immediate64
            | OpKind::Immediate8to16
            | OpKind::Immediate8to32
            | OpKind::Immediate8to64
            | OpKind::Immediate32to64 => {
                let v = i.try_immediate(n).unwrap_or(0);
                // Mask to the destination size (`or eax, -1` is 0xffffffff).
                let size = if i.op_kind(0) == OpKind::Register {
                    i.op_register(0).size()
                } else {
                    (self.bits / 8) as usize
                };
                let m = match size {
                    1 => 0xff,
                    2 => 0xffff,
                    4 => 0xffff_ffff,
                    _ => u64::MAX,
                };
                Opnd::Imm(v & m)
            }
            _ => Opnd::Unknown,
        }
    }

    fn operand_bytes(&self, i: &Instruction, n: u32) -> usize {
        match i.op_kind(n) {
            OpKind::Register => i.op_register(n).size(),
            OpKind::Memory => i.memory_size().size(),
            _ => 0,
        }
    }

    fn cond(cc: ConditionCode) -> Cond {
        match cc {
            ConditionCode::o => Cond::Ovf,
            ConditionCode::no => Cond::NoOvf,
            ConditionCode::b => Cond::Ult,
            ConditionCode::ae => Cond::Uge,
            ConditionCode::e => Cond::Eq,
            ConditionCode::ne => Cond::Ne,
            ConditionCode::be => Cond::Ule,
            ConditionCode::a => Cond::Ugt,
            ConditionCode::l => Cond::Slt,
            ConditionCode::ge => Cond::Sge,
            ConditionCode::le => Cond::Sle,
            ConditionCode::g => Cond::Sgt,
            _ => Cond::Other,
        }
    }

    fn lift_ops(&self, i: &Instruction) -> Ops {
        let w = i64::from(self.bits / 8);
        let sp = r(Register::RSP);
        let ax = Opnd::Reg(r(Register::RAX));
        let dx = Opnd::Reg(r(Register::RDX));
        let o0 = self.opnd(i, 0);
        let o1 = if i.op_count() > 1 {
            self.opnd(i, 1)
        } else {
            Opnd::Unknown
        };
        let word_sized = |n| self.operand_bytes(i, n) == (self.bits / 8) as usize;
        use Mnemonic as M;
        match i.mnemonic() {
            M::Mov | M::Movzx | M::Movsx | M::Movsxd => smallvec![Op::Move { dst: o0, src: o1 }],
            M::Lea => {
                if i.is_ip_rel_memory_operand() {
                    smallvec![Op::Move {
                        dst: o0,
                        src: Opnd::Imm(i.ip_rel_memory_address()),
                    }]
                } else if i.memory_index() == Register::None && i.memory_base() != Register::None {
                    smallvec![Op::Add {
                        dst: o0,
                        a: Opnd::Reg(r(i.memory_base())),
                        b: Opnd::Imm(self.disp(i) as u64 & self.word_mask()),
                        sub: false,
                    }]
                } else if i.memory_base() != Register::None
                    && i.memory_index_scale() == 1
                    && self.disp(i) == 0
                {
                    // `lea ecx, [edi+edx]`: how gcc -O0 adds up the high word of a wide product
                    smallvec![Op::Add {
                        dst: o0,
                        a: Opnd::Reg(r(i.memory_base())),
                        b: Opnd::Reg(r(i.memory_index())),
                        sub: false,
                    }]
                } else {
                    smallvec![Op::Clobber { dst: o0 }]
                }
            }
            M::Push => smallvec![
                Op::Move {
                    dst: Opnd::Mem { base: sp, disp: -w },
                    src: o0,
                },
                Op::Add {
                    dst: Opnd::Reg(sp),
                    a: Opnd::Reg(sp),
                    b: Opnd::Imm(w as u64),
                    sub: true,
                },
            ],
            M::Pop => smallvec![
                Op::Move {
                    dst: o0,
                    src: Opnd::Mem { base: sp, disp: 0 },
                },
                Op::Add {
                    dst: Opnd::Reg(sp),
                    a: Opnd::Reg(sp),
                    b: Opnd::Imm(w as u64),
                    sub: false,
                },
            ],
            M::Leave => {
                let bp = r(Register::RBP);
                smallvec![
                    Op::Move {
                        dst: Opnd::Reg(sp),
                        src: Opnd::Reg(bp),
                    },
                    Op::Move {
                        dst: Opnd::Reg(bp),
                        src: Opnd::Mem { base: sp, disp: 0 },
                    },
                    Op::Add {
                        dst: Opnd::Reg(sp),
                        a: Opnd::Reg(sp),
                        b: Opnd::Imm(w as u64),
                        sub: false,
                    },
                ]
            }
            M::Add | M::Sub => smallvec![
                Op::Add {
                    dst: o0,
                    a: o0,
                    b: o1,
                    sub: i.mnemonic() == M::Sub,
                },
                Op::Test {
                    fl: 0,
                    a: o0,
                    b: o0,
                },
            ],
            M::Inc | M::Dec => smallvec![
                Op::Add {
                    dst: o0,
                    a: o0,
                    b: Opnd::Imm(1),
                    sub: i.mnemonic() == M::Dec,
                },
                Op::FlagsClobber,
            ],
            M::Xor if o0 == o1 && matches!(o0, Opnd::Reg(_)) => smallvec![
                Op::Move {
                    dst: o0,
                    src: Opnd::Imm(0),
                },
                Op::FlagsClobber,
            ],
            M::Or => smallvec![
                Op::Or {
                    dst: o0,
                    a: o0,
                    b: o1,
                },
                Op::Test {
                    fl: 0,
                    a: o0,
                    b: o0,
                },
            ],
            M::And => smallvec![
                Op::And {
                    dst: o0,
                    a: o0,
                    b: o1,
                },
                Op::Test {
                    fl: 0,
                    a: o0,
                    b: o0,
                },
            ],
            M::Shr if i.op_kind(1) != OpKind::Register => {
                let amount = (i.try_immediate(1).unwrap_or(0) & 0x3f) as u32;
                smallvec![
                    Op::Shr {
                        dst: o0,
                        a: o0,
                        amount,
                    },
                    Op::Test {
                        fl: 0,
                        a: o0,
                        b: o0,
                    },
                ]
            }
            M::Test => smallvec![Op::Test {
                fl: 0,
                a: o0,
                b: o1,
            }],
            M::Cmp => smallvec![Op::Cmp {
                fl: 0,
                a: o0,
                b: o1,
            }],
            M::Mul if i.op_count() == 1 && word_sized(0) => smallvec![Op::Mul {
                lo: Some(ax),
                hi: Some(dx),
                a: ax,
                b: o0,
                hi_unsigned: true,
                flags_ovf: true,
            }],
            M::Imul => match i.op_count() {
                1 => smallvec![Op::Mul {
                    lo: Some(ax),
                    hi: Some(dx),
                    a: ax,
                    b: o0,
                    hi_unsigned: false,
                    flags_ovf: false,
                }],
                2 => smallvec![Op::Mul {
                    lo: Some(o0),
                    hi: None,
                    a: o0,
                    b: o1,
                    hi_unsigned: false,
                    flags_ovf: false,
                }],
                _ => smallvec![Op::Mul {
                    lo: Some(o0),
                    hi: None,
                    a: o1,
                    b: self.opnd(i, 2),
                    hi_unsigned: false,
                    flags_ovf: false,
                }],
            },
            M::Div if word_sized(0) => smallvec![
                Op::Div {
                    quot: Some(ax),
                    rem: Some(dx),
                    num: ax,
                    num_hi: Some(dx),
                    den: o0,
                },
                Op::FlagsClobber,
            ],
            M::Mul | M::Div | M::Idiv | M::Cdq | M::Cqo | M::Cwd => smallvec![
                Op::Clobber { dst: ax },
                Op::Clobber { dst: dx },
                Op::FlagsClobber,
            ],
            M::Seto
            | M::Setno
            | M::Setb
            | M::Setae
            | M::Sete
            | M::Setne
            | M::Setbe
            | M::Seta
            | M::Setl
            | M::Setge
            | M::Setle
            | M::Setg
            | M::Sets
            | M::Setns
            | M::Setp
            | M::Setnp => smallvec![Op::SetCond {
                dst: o0,
                fl: 0,
                cond: Self::cond(i.condition_code()),
            }],
            M::Jo
            | M::Jno
            | M::Jb
            | M::Jae
            | M::Je
            | M::Jne
            | M::Jbe
            | M::Ja
            | M::Js
            | M::Jns
            | M::Jp
            | M::Jnp
            | M::Jl
            | M::Jge
            | M::Jle
            | M::Jg => smallvec![Op::Branch {
                fl: 0,
                cond: Self::cond(i.condition_code()),
                target: i.near_branch_target(),
            }],
            M::Jmp => match i.op_kind(0) {
                OpKind::NearBranch16 | OpKind::NearBranch32 | OpKind::NearBranch64 => {
                    smallvec![Op::Jump {
                        target: i.near_branch_target(),
                    }]
                }
                _ => match self.slot_operand(o0) {
                    Some(slot) => smallvec![Op::TailCall {
                        target: Target::Slot(slot),
                    }],
                    None => smallvec![Op::JumpIndirect],
                },
            },
            M::Call => {
                let target = match i.op_kind(0) {
                    OpKind::NearBranch16 | OpKind::NearBranch32 | OpKind::NearBranch64 => {
                        Target::Direct(i.near_branch_target())
                    }
                    _ => match self.slot_operand(o0) {
                        Some(s) => Target::Slot(s),
                        None => Target::Indirect,
                    },
                };
                smallvec![Op::Call { target }]
            }
            M::Ret | M::Retf => smallvec![Op::Ret],
            M::Ud2 | M::Hlt | M::Int3 | M::Ud0 | M::Ud1 => smallvec![Op::Trap],
            M::Nop | M::Endbr32 | M::Endbr64 | M::Cld | M::Prefetchnta | M::Prefetcht0 => {
                smallvec![]
            }
            M::Cmpxchg | M::Xchg | M::Xadd => smallvec![
                Op::Clobber { dst: o0 },
                Op::Clobber { dst: o1 },
                Op::Clobber { dst: ax },
                Op::FlagsClobber,
            ],
            M::Stosb
            | M::Stosw
            | M::Stosd
            | M::Stosq
            | M::Movsb
            | M::Movsw
            | M::Movsd
            | M::Movsq => smallvec![
                Op::Clobber {
                    dst: Opnd::Reg(r(Register::RCX)),
                },
                Op::Clobber {
                    dst: Opnd::Reg(r(Register::RDI)),
                },
                Op::Clobber {
                    dst: Opnd::Reg(r(Register::RSI)),
                },
            ],
            _ => {
                let mut v = Ops::new();
                if i.op_count() > 0 && matches!(i.op_kind(0), OpKind::Register | OpKind::Memory) {
                    v.push(Op::Clobber { dst: o0 });
                }
                v.push(Op::FlagsClobber);
                v
            }
        }
    }

    /// `mov reg, [esp]; ret`: the i386 PIC thunk; returns the register it sets.
    fn pc_thunk(&self, t: u64) -> Option<Reg> {
        if self.bits != 32 {
            return None;
        }
        let i = self.decode(t).ok()?;
        if i.mnemonic() != Mnemonic::Mov
            || i.op_kind(0) != OpKind::Register
            || i.op_kind(1) != OpKind::Memory
            || i.memory_base() != Register::ESP
            || i.memory_index() != Register::None
            || i.memory_displacement64() != 0
        {
            return None;
        }
        let j = self.decode(t.checked_add(i.len() as u64)?).ok()?;
        (j.mnemonic() == Mnemonic::Ret).then(|| r(i.op_register(0)))
    }

    /// The `jmp [slot]` a PLT entry starts with (after `endbr`/`nop`), and the address after it.
    fn plt_jump(&self, addr: u64) -> Option<(Instruction, u64)> {
        let mut a = addr;
        for _ in 0..2 {
            let i = self.decode(a).ok()?;
            let next = a.checked_add(i.len() as u64)?;
            match i.mnemonic() {
                Mnemonic::Endbr32 | Mnemonic::Endbr64 | Mnemonic::Nop => a = next,
                Mnemonic::Jmp if i.op_kind(0) == OpKind::Memory => return Some((i, next)),
                _ => return None,
            }
        }
        None
    }

    /// A memory operand naming a GOT slot: absolute, RIP-relative, or `[ebx+disp]` with ebx
    /// = the GOT base (i386 PIC convention).
    fn slot_operand(&self, o: Opnd) -> Option<u64> {
        match o {
            Opnd::Abs(a) => Some(a),
            Opnd::Mem { base, disp } if self.bits == 32 && base == r(Register::RBX) => {
                Some(self.elf.pltgot?.wrapping_add(disp as u64) & 0xffff_ffff)
            }
            _ => None,
        }
    }
}

impl Lifter for X86<'_> {
    fn lift(&self, addr: u64) -> Result<Insn, String> {
        let i = self.decode(addr)?;
        let mut text = String::new();
        if super::ir::text_wanted() {
            if let Ok(mut f) = self.fmt.try_borrow_mut() {
                f.get_or_insert_with(Self::formatter).format(&i, &mut text);
            }
        }
        let mut ops = self.lift_ops(&i);
        if i.mnemonic() == Mnemonic::Imul {
            ops.push(Op::FlagsClobber);
        }
        if let [Op::Call {
            target: Target::Direct(t),
        }] = ops.as_slice()
        {
            if let Some(reg) = self.pc_thunk(*t) {
                // `call __x86.get_pc_thunk.bx`: only sets ebx to the return address.
                ops = smallvec![Op::Move {
                    dst: Opnd::Reg(reg),
                    src: Opnd::Imm(addr.wrapping_add(i.len() as u64)),
                }];
            }
        }
        Ok(Insn {
            addr,
            len: i.len() as u32,
            text,
            ops,
        })
    }
    fn sp(&self) -> Reg {
        r(Register::RSP)
    }
    fn word_bits(&self) -> u32 {
        self.bits
    }
    fn arg(&self, i: usize) -> ArgLoc {
        if self.bits == 32 {
            ArgLoc::Stack(4 * i as i64)
        } else {
            let regs = [
                Register::RDI,
                Register::RSI,
                Register::RDX,
                Register::RCX,
                Register::R8,
                Register::R9,
            ];
            ArgLoc::Reg(r(regs.get(i).copied().unwrap_or(Register::R9)))
        }
    }
    fn call_push(&self) -> i64 {
        i64::from(self.bits / 8)
    }
    fn ret_reg(&self) -> Reg {
        r(Register::RAX)
    }
    fn caller_saved(&self) -> &[Reg] {
        // Register numbers are small; build once.
        static S32: std::sync::OnceLock<Vec<Reg>> = std::sync::OnceLock::new();
        static S64: std::sync::OnceLock<Vec<Reg>> = std::sync::OnceLock::new();
        if self.bits == 32 {
            S32.get_or_init(|| CALLER_SAVED_32.iter().map(|&x| r(x)).collect())
        } else {
            S64.get_or_init(|| CALLER_SAVED_64.iter().map(|&x| r(x)).collect())
        }
    }
    fn extra_arg_regs(&self) -> &[Reg] {
        // gcc passes arguments of local i386 functions in eax, edx, ecx (regparm).
        static R: std::sync::OnceLock<Vec<Reg>> = std::sync::OnceLock::new();
        if self.bits == 32 {
            R.get_or_init(|| CALLER_SAVED_32.iter().map(|&x| r(x)).collect())
        } else {
            &[]
        }
    }
    fn plt_slot(&self, addr: u64) -> Option<u64> {
        let (jmp, _) = self.plt_jump(addr)?;
        self.slot_operand(self.mem(&jmp))
    }
    fn plt_reloc_index(&self, addr: u64) -> Option<usize> {
        let (_, next) = self.plt_jump(addr)?;
        let push = self.decode(next).ok()?;
        if push.mnemonic() != Mnemonic::Push || push.op_count() != 1 {
            return None;
        }
        let n = push.try_immediate(0).ok()?;
        // i386 pushes the byte offset of its Elf32_Rel entry, x86_64 the index.
        let index = if self.bits == 32 {
            (n % 8 == 0).then_some(n / 8)?
        } else {
            n
        };
        usize::try_from(index).ok()
    }
}
