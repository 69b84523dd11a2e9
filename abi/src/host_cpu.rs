//! What the CPU this process runs on has, of the [`super::cpu`]
//! extensions: `kwasmc compile --cpu native` and the userspace runner's
//! check. Userspace only (the `std` feature): the kernel asks
//! `boot_cpu_has` instead.

extern crate std;

use super::cpu::*;
use super::types::Arch;

/// The extensions of `arch` that the CPU this process runs on has, by
/// the standard library's detection (which also checks that the kernel
/// saves the AVX state). Empty when `arch` is not this machine's.
pub fn host(arch: Arch) -> u32 {
    if Some(arch) != Arch::HOST {
        return 0;
    }
    of_arch(arch)
        .filter(|e| host_has(e))
        .fold(0, |m, e| m | e.bit)
}

/// Whether the CPU this process runs on has `e`.
pub fn host_has(e: &Extension) -> bool {
    if Some(e.arch) != Arch::HOST {
        return false;
    }
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::is_x86_feature_detected as has;
        match e.bit {
            POPCNT => has!("popcnt"),
            LZCNT => has!("lzcnt"),
            BMI1 => has!("bmi1"),
            BMI2 => has!("bmi2"),
            SSE41 => has!("sse4.1"),
            SSE42 => has!("sse4.2"),
            AVX => has!("avx"),
            _ => false,
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_host_has_only_its_own_architectures_extensions() {
        for arch in Arch::ALL {
            let m = host(arch);
            assert_eq!(m & !known(arch), 0, "{arch:?}");
            if Some(arch) != Arch::HOST {
                assert_eq!(m, 0, "{arch:?} is not this machine");
            }
            for e in of_arch(arch) {
                assert_eq!(m & e.bit != 0, host_has(e), "{}", e.name);
            }
        }
    }
}
