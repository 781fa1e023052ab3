//! Generates the ioctl ABI types from the UAPI header, the one source of truth.
use std::{env, path::PathBuf};

fn main() {
    let header = "../../include/uapi/linux/hrcallout.h";
    println!("cargo:rerun-if-changed={header}");
    let out = PathBuf::from(env::var("OUT_DIR").unwrap()).join("uapi.rs");
    bindgen::Builder::default()
        .header(header)
        .allowlist_item("HRC_.*|hrc_.*")
        .default_enum_style(bindgen::EnumVariation::Consts)
        .prepend_enum_name(false)
        .derive_default(true)
        .generate_comments(false)
        .parse_callbacks(Box::new(bindgen::CargoCallbacks::new()))
        .generate()
        .expect("bindgen failed on the UAPI header")
        .write_to_file(out)
        .expect("cannot write uapi.rs");
}
