//! A bytecode interpreter: a stack machine with eight `i64` locals whose
//! instructions are bytes followed by their operands (a byte for a local,
//! four for a constant, two for a jump target). Its program counts the
//! Collatz steps of 1000 consecutive numbers (at most 300 steps each) and
//! folds them into an accumulator; `run(n)` runs it `n` times on the next
//! 1000 numbers.

use crate::{mix, rounds};

const HALT: u8 = 0;
const PUSH: u8 = 1;
const GET: u8 = 2;
const SET: u8 = 3;
const ADD: u8 = 4;
const MUL: u8 = 5;
const AND: u8 = 6;
const SHR: u8 = 7;
const XOR: u8 = 8;
const LT: u8 = 9;
const NE: u8 = 10;
const JZ: u8 = 11;
const JMP: u8 = 12;

// Locals.
const I: u8 = 0;
const END: u8 = 1;
const X: u8 = 2;
const STEPS: u8 = 3;
const ACC: u8 = 4;

/// A tiny assembler: labels are resolved when the program is finished.
struct Asm {
    code: Vec<u8>,
    labels: Vec<Option<u16>>,
    fixups: Vec<(usize, usize)>,
}

impl Asm {
    fn new() -> Asm {
        Asm {
            code: Vec::new(),
            labels: Vec::new(),
            fixups: Vec::new(),
        }
    }
    fn label(&mut self) -> usize {
        self.labels.push(None);
        self.labels.len() - 1
    }
    fn here(&mut self, l: usize) {
        self.labels[l] = Some(self.code.len() as u16);
    }
    fn op(&mut self, op: u8) -> &mut Self {
        self.code.push(op);
        self
    }
    fn push(&mut self, v: i32) -> &mut Self {
        self.code.push(PUSH);
        self.code.extend_from_slice(&v.to_le_bytes());
        self
    }
    fn local(&mut self, op: u8, l: u8) -> &mut Self {
        self.code.extend_from_slice(&[op, l]);
        self
    }
    fn jump(&mut self, op: u8, l: usize) -> &mut Self {
        self.code.push(op);
        self.fixups.push((self.code.len(), l));
        self.code.extend_from_slice(&[0, 0]);
        self
    }
    fn finish(mut self) -> Vec<u8> {
        for (at, l) in self.fixups {
            let t = self.labels[l].expect("label placed");
            self.code[at..at + 2].copy_from_slice(&t.to_le_bytes());
        }
        self.code
    }
}

fn program() -> Vec<u8> {
    let mut a = Asm::new();
    let (outer, inner, even, next, end_inner, done) = (
        a.label(),
        a.label(),
        a.label(),
        a.label(),
        a.label(),
        a.label(),
    );
    a.here(outer);
    a.local(GET, I).local(GET, END).op(LT).jump(JZ, done);
    a.local(GET, I).push(1).op(ADD).local(SET, X);
    a.push(0).local(SET, STEPS);
    a.here(inner);
    a.local(GET, X).push(1).op(NE).jump(JZ, end_inner);
    a.local(GET, STEPS).push(300).op(LT).jump(JZ, end_inner);
    a.local(GET, X).push(1).op(AND).jump(JZ, even);
    a.local(GET, X)
        .push(3)
        .op(MUL)
        .push(1)
        .op(ADD)
        .local(SET, X)
        .jump(JMP, next);
    a.here(even);
    a.local(GET, X).push(1).op(SHR).local(SET, X);
    a.here(next);
    a.local(GET, STEPS)
        .push(1)
        .op(ADD)
        .local(SET, STEPS)
        .jump(JMP, inner);
    a.here(end_inner);
    a.local(GET, ACC)
        .push(31)
        .op(MUL)
        .local(GET, STEPS)
        .local(GET, I)
        .op(XOR)
        .op(ADD);
    a.local(SET, ACC);
    a.local(GET, I)
        .push(1)
        .op(ADD)
        .local(SET, I)
        .jump(JMP, outer);
    a.here(done);
    a.op(HALT);
    a.finish()
}

/// Runs `code` on `locals`; returns the number of instructions executed.
fn exec(code: &[u8], locals: &mut [i64; 8]) -> u64 {
    let mut stack = [0i64; 16];
    let mut sp = 0usize;
    let mut pc = 0usize;
    let mut count = 0u64;
    loop {
        let op = code[pc];
        pc += 1;
        count += 1;
        match op {
            HALT => return count,
            PUSH => {
                let v = i32::from_le_bytes(code[pc..pc + 4].try_into().unwrap());
                pc += 4;
                stack[sp] = i64::from(v);
                sp += 1;
            }
            GET => {
                stack[sp] = locals[usize::from(code[pc] & 7)];
                pc += 1;
                sp += 1;
            }
            SET => {
                sp -= 1;
                locals[usize::from(code[pc] & 7)] = stack[sp];
                pc += 1;
            }
            JZ | JMP => {
                let target = usize::from(u16::from_le_bytes([code[pc], code[pc + 1]]));
                let taken = if op == JMP {
                    true
                } else {
                    sp -= 1;
                    stack[sp] == 0
                };
                pc = if taken { target } else { pc + 2 };
            }
            _ => {
                sp -= 1;
                let (a, b) = (stack[sp - 1], stack[sp]);
                stack[sp - 1] = match op {
                    ADD => a.wrapping_add(b),
                    MUL => a.wrapping_mul(b),
                    AND => a & b,
                    SHR => ((a as u64) >> (b & 63)) as i64,
                    XOR => a ^ b,
                    LT => i64::from(a < b),
                    NE => i64::from(a != b),
                    _ => panic!("bad opcode {op}"),
                };
            }
        }
    }
}

pub fn run(n: i32) -> i64 {
    let code = program();
    let mut h = 0u64;
    for round in 0..rounds(n) {
        let mut locals = [0i64; 8];
        locals[I as usize] = i64::from(round) * 1000;
        locals[END as usize] = locals[I as usize] + 1000;
        let count = exec(&code, &mut locals);
        h = mix(h, locals[ACC as usize] as u64);
        h = mix(h, count);
    }
    h as i64
}
