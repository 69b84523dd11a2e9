//! The wasm modules (the examples) get a 1 MiB shadow stack instead of the
//! 16 KiB the guest workspace gives netfilter programs
//! (`.cargo/config.toml`): the workloads keep large buffers on the stack
//! (miniz_oxide's Huffman tables) and recurse (quicksort, the JSON walk).
//! Cargo passes this after the configuration's flags, and wasm-ld takes the
//! last `-zstack-size`. (`rustc-link-arg-examples` would not do: cargo
//! applies it to executable examples only, not to cdylib ones.)

fn main() {
    if std::env::var("CARGO_CFG_TARGET_ARCH").as_deref() == Ok("wasm32") {
        println!("cargo::rustc-link-arg=-zstack-size=1048576");
    }
    println!("cargo::rerun-if-changed=build.rs");
}
