//! The library half of `kwasm-tools`: the spec-test harness pieces shared by
//! the userspace spec test (`tests/spec.rs`) and `kwasm-tools spec-kernel`.

pub mod spec;
