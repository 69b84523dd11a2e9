//! With the `bpf` feature, libbpf-sys links libelf statically, and Debian's
//! `libelf.a` needs zstd, which libbpf-sys does not name: link `libzstd.a`
//! from the directories libbpf-sys searches for libelf and zlib, in its
//! order: `LIBBPF_SYS_LIBRARY_PATH_<target>` (the arm64 VM's CLI, set by
//! xtask), then `LIBBPF_SYS_LIBRARY_PATH` (set in `.cargo/config.toml`).

fn main() {
    let target = std::env::var("TARGET").unwrap_or_default();
    let vars = [
        format!("LIBBPF_SYS_LIBRARY_PATH_{}", target.replace('-', "_")),
        "LIBBPF_SYS_LIBRARY_PATH".to_string(),
    ];
    for v in &vars {
        println!("cargo:rerun-if-env-changed={v}");
    }
    if std::env::var_os("CARGO_FEATURE_BPF").is_none() {
        return;
    }
    for v in &vars {
        if let Some(dirs) = std::env::var_os(v) {
            for d in std::env::split_paths(&dirs) {
                println!("cargo:rustc-link-search=native={}", d.display());
            }
        }
    }
    println!("cargo:rustc-link-lib=static=zstd");
}
