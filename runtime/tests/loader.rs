//! Runtime tests that need no compiler: they assemble tiny `.kw` files by
//! hand (machine code for the host, x86-64 or aarch64, + metadata written
//! with `kwasm_abi::meta`) and check loading, invocation, the trap path, the
//! fault safety net and the rejection of broken artifacts.

#[path = "common/mod.rs"]
mod common;
#[path = "../../abi/tests/support/exec.rs"]
mod exec;
use kwasm_abi::meta::{self, ExportRec, FuncRec, MetaParts, PoolRef, TypeRec};
use kwasm_abi::trap::TrapCode;
use kwasm_abi::{Arch, meta::kind};
use kwasm_runtime::{Artifact, InvokeError, Store, StoreConfig, Val};
use object::write::Object;
use object::{Architecture, BinaryFormat, Endianness, SectionKind};
use std::rc::Rc;

/// The host's hand-assembled code (the encodings were checked with the
/// binutils disassembler).
#[cfg(target_arch = "x86_64")]
mod host {
    use super::{Arch, Architecture};

    pub const ARCH: Arch = Arch::X86_64;
    pub const OBJECT_ARCH: Architecture = Architecture::X86_64;
    /// The other architecture, whose `.kw` this host must refuse.
    pub const FOREIGN: Architecture = Architecture::Aarch64;
    /// `int3` (between functions).
    pub const FILL: u8 = 0xcc;

    /// Functions: (name, type index, code).
    pub const FUNCS: &[(&str, u32, &[u8])] = &[
        // answer: mov eax, 42; ret
        ("answer", 0, &[0xb8, 0x2a, 0, 0, 0, 0xc3]),
        // boom: mov rax,[rdi+16]; mov esi,7; mov edx,1; call rax; ud2
        (
            "boom",
            0,
            &[
                0x48, 0x8b, 0x47, 0x10, 0xbe, 7, 0, 0, 0, 0xba, 1, 0, 0, 0, 0xff, 0xd0, 0x0f, 0x0b,
            ],
        ),
        // fault: xor eax,eax; mov eax,[rax]; ret
        ("fault", 0, &[0x31, 0xc0, 0x8b, 0x00, 0xc3]),
        // recurse: call recurse (no stack check: hits the guard page)
        ("recurse", 0, &[0xe8, 0xfb, 0xff, 0xff, 0xff, 0xc3]),
        // add: lea eax,[rsi+rdx]; ret
        ("add", 1, &[0x8d, 0x04, 0x16, 0xc3]),
        // hostfault: calls the memory.grow libcall (entry 0 of the table at
        // VmCtx+24) with a bogus VmCtx, so Rust host code faults reading it:
        // sub rsp,8; mov rax,[rdi+24]; mov rax,[rax]; mov edi,64; xor esi,esi;
        // call rax; add rsp,8; ret
        (
            "hostfault",
            0,
            &[
                0x48, 0x83, 0xec, 0x08, 0x48, 0x8b, 0x47, 0x18, 0x48, 0x8b, 0x00, 0xbf, 0x40, 0, 0,
                0, 0x31, 0xf6, 0xff, 0xd0, 0x48, 0x83, 0xc4, 0x08, 0xc3,
            ],
        ),
    ];

    /// Trampolines by type: () -> i32 and (i32, i32) -> i32.
    pub const TRAMPOLINES: &[&[u8]] = &[
        // push rbx; mov rbx,rdx; call rsi; mov eax,eax; mov [rbx],rax; pop rbx; ret
        &[
            0x53, 0x48, 0x89, 0xd3, 0xff, 0xd6, 0x89, 0xc0, 0x48, 0x89, 0x03, 0x5b, 0xc3,
        ],
        // push rbx; mov rbx,rdx; mov rax,rsi; mov esi,[rbx]; mov edx,[rbx+8];
        // call rax; mov eax,eax; mov [rbx],rax; pop rbx; ret
        &[
            0x53, 0x48, 0x89, 0xd3, 0x48, 0x89, 0xf0, 0x8b, 0x33, 0x8b, 0x53, 0x08, 0xff, 0xd0,
            0x89, 0xc0, 0x48, 0x89, 0x03, 0x5b, 0xc3,
        ],
    ];
}

/// The host's hand-assembled code (the encodings were checked with the
/// binutils disassembler).
#[cfg(target_arch = "aarch64")]
mod host {
    use super::{Arch, Architecture};

    pub const ARCH: Arch = Arch::Aarch64;
    pub const OBJECT_ARCH: Architecture = Architecture::Aarch64;
    /// The other architecture, whose `.kw` this host must refuse.
    pub const FOREIGN: Architecture = Architecture::X86_64;
    /// `udf #0` (between functions).
    pub const FILL: u8 = 0;

    /// Instruction words as little-endian bytes.
    const fn le<const N: usize, const B: usize>(words: [u32; N]) -> [u8; B] {
        let mut out = [0u8; B];
        let mut i = 0;
        while i < N {
            let w = words[i].to_le_bytes();
            out[4 * i] = w[0];
            out[4 * i + 1] = w[1];
            out[4 * i + 2] = w[2];
            out[4 * i + 3] = w[3];
            i += 1;
        }
        out
    }

    /// Functions: (name, type index, code). Generated code's convention:
    /// x0 = VmCtx, then the parameters.
    pub const FUNCS: &[(&str, u32, &[u8])] = &[
        // answer: mov w0, #42; ret
        ("answer", 0, &le::<2, 8>([0x52800540, 0xd65f03c0])),
        // boom: ldr x9, [x0, #16]; mov w1, #7; mov w2, #1; blr x9; udf #0
        (
            "boom",
            0,
            &le::<5, 20>([0xf9400809, 0x528000e1, 0x52800022, 0xd63f0120, 0]),
        ),
        // fault: mov x0, #0; ldr w0, [x0]; ret
        (
            "fault",
            0,
            &le::<3, 12>([0xd2800000, 0xb9400000, 0xd65f03c0]),
        ),
        // recurse: stp x29, x30, [sp, #-16]!; bl recurse;
        // ldp x29, x30, [sp], #16; ret (no stack check: hits the guard page)
        (
            "recurse",
            0,
            &le::<4, 16>([0xa9bf7bfd, 0x97ffffff, 0xa8c17bfd, 0xd65f03c0]),
        ),
        // add: add w0, w1, w2; ret
        ("add", 1, &le::<2, 8>([0x0b020020, 0xd65f03c0])),
        // hostfault: calls the memory.grow libcall (entry 0 of the table at
        // VmCtx+24) with a bogus VmCtx, so Rust host code faults reading it:
        // stp x29, x30, [sp, #-16]!; ldr x9, [x0, #24]; ldr x9, [x9];
        // mov x0, #64; mov w1, #0; blr x9; ldp x29, x30, [sp], #16; ret
        (
            "hostfault",
            0,
            &le::<8, 32>([
                0xa9bf7bfd, 0xf9400c09, 0xf9400129, 0xd2800800, 0x52800001, 0xd63f0120, 0xa8c17bfd,
                0xd65f03c0,
            ]),
        ),
    ];

    /// Trampolines by type: () -> i32 and (i32, i32) -> i32; called with
    /// x0 = VmCtx, x1 = code, x2 = values.
    pub const TRAMPOLINES: &[&[u8]] = &[
        // stp x19, x30, [sp, #-16]!; mov x19, x2; blr x1; mov w0, w0;
        // str x0, [x19]; ldp x19, x30, [sp], #16; ret
        &le::<7, 28>([
            0xa9bf7bf3, 0xaa0203f3, 0xd63f0020, 0x2a0003e0, 0xf9000260, 0xa8c17bf3, 0xd65f03c0,
        ]),
        // stp x19, x30, [sp, #-16]!; mov x19, x2; mov x9, x1;
        // ldr w1, [x19]; ldr w2, [x19, #8]; blr x9; mov w0, w0;
        // str x0, [x19]; ldp x19, x30, [sp], #16; ret
        &le::<10, 40>([
            0xa9bf7bf3, 0xaa0203f3, 0xaa0103e9, 0xb9400261, 0xb9400a62, 0xd63f0120, 0x2a0003e0,
            0xf9000260, 0xa8c17bf3, 0xd65f03c0,
        ]),
    ];
}
use host::{FUNCS, TRAMPOLINES};

fn align16(v: &mut Vec<u8>) {
    while !v.len().is_multiple_of(16) {
        v.push(host::FILL);
    }
}

/// Build `.text` and the metadata blob.
fn build_parts() -> (Vec<u8>, Vec<u8>) {
    let mut text = Vec::new();
    let mut pool = vec![0x7f, 0x7f, 0x7f, 0x7f];
    let mut funcs = Vec::new();
    let mut exports = Vec::new();
    let add_str = |pool: &mut Vec<u8>, s: &str| {
        let r = PoolRef {
            off: pool.len() as u32,
            len: s.len() as u32,
        };
        pool.extend_from_slice(s.as_bytes());
        r
    };
    for (i, (name, ty, code)) in FUNCS.iter().enumerate() {
        align16(&mut text);
        let off = text.len() as u32;
        text.extend_from_slice(code);
        let name = add_str(&mut pool, name);
        funcs.push(FuncRec {
            type_idx: *ty,
            text_off: off,
            text_len: code.len() as u32,
            name,
        });
        exports.push(ExportRec {
            kind: kind::FUNC,
            index: i as u32,
            name,
            ..Default::default()
        });
    }
    // The format lists exports sorted by name.
    exports.sort_by(|a, b| {
        let name = |e: &ExportRec| &pool[e.name.off as usize..(e.name.off + e.name.len) as usize];
        name(a).cmp(name(b))
    });
    let mut types = Vec::new();
    for (i, t) in TRAMPOLINES.iter().enumerate() {
        align16(&mut text);
        let off = text.len() as u32;
        text.extend_from_slice(t);
        types.push(if i == 0 {
            TypeRec {
                sig: 0,
                nparams: 0,
                nresults: 1,
                trampoline: off,
            }
        } else {
            TypeRec {
                sig: 1,
                nparams: 2,
                nresults: 1,
                trampoline: off,
            }
        });
    }
    let parts = MetaParts {
        arch: host::ARCH,
        flags: 0,
        text_len: text.len() as u32,
        start_func: meta::NONE,
        entry_export: meta::NONE,
        text_crc: meta::text_checksum(&text),
        cpu: 0,
        types: &types,
        imports: &[],
        funcs: &funcs,
        tables: &[],
        memory: &[],
        globals: &[],
        exports: &exports,
        elems: &[],
        datas: &[],
        maps: &[],
        pool: &pool,
    };
    let mut blob = vec![0; parts.encoded_len()];
    parts.write(&mut blob).unwrap();
    (text, blob)
}

fn elf(text: &[u8], meta: &[u8], arch: Architecture) -> Vec<u8> {
    let mut obj = Object::new(BinaryFormat::Elf, arch, Endianness::Little);
    let t = obj.add_section(vec![], b".text".to_vec(), SectionKind::Text);
    obj.set_section_data(t, text.to_vec(), 16);
    let m = obj.add_section(vec![], b".kwasm.meta".to_vec(), SectionKind::ReadOnlyData);
    obj.set_section_data(m, meta.to_vec(), 8);
    obj.write().unwrap()
}

fn artifact() -> Rc<Artifact> {
    let (text, meta) = build_parts();
    Rc::new(Artifact::from_bytes("test.kw", &elf(&text, &meta, host::OBJECT_ARCH)).unwrap())
}

fn trap_of(r: Result<Vec<Val>, InvokeError>) -> kwasm_runtime::Trap {
    match r {
        Err(InvokeError::Trap(t)) => t,
        other => panic!("expected a trap, got {other:?}"),
    }
}

#[test]
fn calls_and_returns() {
    let a = artifact();
    let mut s = Store::default();
    let i = s.instantiate(&a).unwrap();
    assert_eq!(s.invoke(i, "answer", &[]).unwrap(), vec![Val::I32(42)]);
    assert_eq!(
        s.invoke(i, "add", &[Val::I32(40), Val::I32(-42)]).unwrap(),
        vec![Val::I32(-2)]
    );
    assert!(matches!(
        s.invoke(i, "add", &[Val::I32(1)]),
        Err(InvokeError::ArgCount { .. })
    ));
    assert!(matches!(
        s.invoke(i, "nope", &[]),
        Err(InvokeError::NoSuchExport(_))
    ));
}

#[test]
fn trap_handler_returns_code_and_function() {
    let a = artifact();
    let mut s = Store::default();
    let i = s.instantiate(&a).unwrap();
    let t = trap_of(s.invoke(i, "boom", &[]));
    assert_eq!(t.code, TrapCode::IntegerDivisionByZero);
    assert_eq!(t.func, 1);
    assert_eq!(t.func_name, "boom");
    assert_eq!(
        t.to_string(),
        "trap: integer divide by zero in function 1 (boom)"
    );
    // The store is still usable after a trap, many times over.
    for _ in 0..1000 {
        trap_of(s.invoke(i, "boom", &[]));
    }
    assert_eq!(s.invoke(i, "answer", &[]).unwrap(), vec![Val::I32(42)]);
}

#[test]
fn faults_are_caught() {
    let a = artifact();
    let mut s = Store::default();
    let i = s.instantiate(&a).unwrap();
    let t = trap_of(s.invoke(i, "fault", &[]));
    assert_eq!(t.signal, Some(libc_sigsegv()));
    assert_eq!(s.invoke(i, "answer", &[]).unwrap(), vec![Val::I32(42)]);
}

#[test]
fn guard_page_overflow_is_a_stack_overflow() {
    let a = artifact();
    let mut s = Store::new(StoreConfig {
        stack_size: 128 * 1024,
        ..StoreConfig::default()
    });
    let i = s.instantiate(&a).unwrap();
    for _ in 0..3 {
        let t = trap_of(s.invoke(i, "recurse", &[]));
        assert_eq!(t.code, TrapCode::StackOverflow);
    }
    assert_eq!(s.invoke(i, "answer", &[]).unwrap(), vec![Val::I32(42)]);
}

/// Set in the child process that [`host_faults_are_not_traps`] runs.
const CHILD_ENV: &str = "KWASM_LOADER_TEST_CHILD";

/// A fault in host code during a call (here a libcall that generated code
/// hands a bogus `VmCtx`) is no trap: the process dies of the signal as it
/// would without kwasm. Runs the call in a child process (this test binary
/// again), which must die of SIGSEGV.
#[test]
fn host_faults_are_not_traps() {
    use std::os::unix::process::ExitStatusExt;

    assert_eq!(
        kwasm_abi::vmctx::header::LIBCALLS,
        24,
        "hostfault's code reads the libcall table at VmCtx+24"
    );
    assert_eq!(kwasm_abi::vmctx::libcall::MEMORY_GROW, 0);
    if std::env::var_os(CHILD_ENV).is_some() {
        let a = artifact();
        let mut s = Store::default();
        let i = s.instantiate(&a).unwrap();
        let r = s.invoke(i, "hostfault", &[]);
        // Reached only if the fault was taken for a trap.
        println!("hostfault returned {r:?}");
        std::process::exit(0);
    }
    let me = std::env::current_exe().unwrap();
    let mut cmd = exec::program(me.to_str().unwrap());
    cmd.args([
        "host_faults_are_not_traps",
        "--exact",
        "--nocapture",
        "--test-threads=1",
    ])
    .env(CHILD_ENV, "1");
    common::without_core_dumps(&mut cmd);
    let out = cmd.output().expect("run the child test");
    assert_eq!(
        out.status.signal(),
        Some(libc_sigsegv()),
        "the child should die of SIGSEGV, got {:?}; stdout: {}; stderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn libc_sigsegv() -> i32 {
    11
}

fn load_err(bytes: &[u8]) -> String {
    Artifact::from_bytes("bad.kw", bytes)
        .unwrap_err()
        .to_string()
}

#[test]
fn rejects_broken_artifacts() {
    let (text, meta) = build_parts();
    let good = elf(&text, &meta, host::OBJECT_ARCH);
    assert!(load_err(b"").contains("not an ELF"));
    assert!(load_err(b"\0asm\x01\0\0\0").contains("kwasmc compile"));
    assert!(load_err(b"(module)").contains("kwasmc compile"));
    assert!(load_err(&good[..40]).starts_with("bad.kw: "));
    // Every truncation and many single-byte corruptions fail cleanly (or
    // load: a flipped padding byte may be harmless), never panic.
    for n in 0..good.len() {
        let _ = Artifact::from_bytes("bad.kw", &good[..n]);
    }
    for i in (0..good.len()).step_by(7) {
        let mut b = good.clone();
        b[i] ^= 0x5a;
        let _ = Artifact::from_bytes("bad.kw", &b);
    }
    // Metadata checks.
    let mut m = meta.clone();
    let last = m.len() - 1;
    m[last] ^= 1;
    assert!(load_err(&elf(&text, &m, host::OBJECT_ARCH)).contains("checksum"));
    let mut t = text.clone();
    t.push(0x90);
    assert!(load_err(&elf(&t, &meta, host::OBJECT_ARCH)).contains(".text"));
    // An ELF of the other machine (the metadata disagrees with it).
    let other = if host::ARCH == Arch::X86_64 {
        Arch::Aarch64
    } else {
        Arch::X86_64
    };
    assert!(load_err(&elf(&text, &meta, host::FOREIGN)).contains(other.name()));
}
