//! With the `bpf` feature, libbpf-sys links libelf statically, and Debian's
//! `libelf.a` needs zstd, which libbpf-sys does not name: link `libzstd.a`
//! from the directory `LIBBPF_SYS_LIBRARY_PATH` names (set in
//! `.cargo/config.toml`, where libbpf-sys looks for libelf and zlib too).

fn main() {
    println!("cargo:rerun-if-env-changed=LIBBPF_SYS_LIBRARY_PATH");
    if std::env::var_os("CARGO_FEATURE_BPF").is_none() {
        return;
    }
    if let Some(dirs) = std::env::var_os("LIBBPF_SYS_LIBRARY_PATH") {
        for d in std::env::split_paths(&dirs) {
            println!("cargo:rustc-link-search=native={}", d.display());
        }
    }
    println!("cargo:rustc-link-lib=static=zstd");
}
