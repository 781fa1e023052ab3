# The kernel toolchain of the brief, defined once: the Makefile includes this file and
# scripts/lib.sh reads the same two lines. clang-19 for C, Debian's rustc-web for Rust (the
# rustup toolchain on PATH has no rust-src), bindgen-cli from crates.io (in ~/.cargo/bin).
HRC_KMAKE_VARS := LLVM=-19 RUSTC=/usr/bin/rustc RUSTDOC=/usr/bin/rustdoc BINDGEN=bindgen CLIPPY_DRIVER=/usr/bin/clippy-driver
LIBCLANG_PATH := /usr/lib/llvm-19/lib
