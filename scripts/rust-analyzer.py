#!/usr/bin/env python3
"""Adds the module's crate to the rust-project.json that the kernel's `make M=.. rust-analyzer`
wrote. The kernel's generator only finds an external crate whose root .rs sits beside the
Kbuild naming it; hrcallout's root is rust/hrcallout_main.rs under a top-level Kbuild, so it
is added here as the generator adds one: on core, kernel, pin_init and the kernel's
zerocopy crates, with the kernel crate's cfgs (the .config) and the module's own
(hrc_kunit, so that go-to-definition works in the KUnit suites too).
Usage: scripts/rust-analyzer.py rust-project.json
"""
import json
import os
import sys

path = sys.argv[1]
root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
project = json.load(open(path))
crates = project["crates"]
index = {c.get("display_name"): i for i, c in enumerate(crates)}
for need in ("core", "kernel", "pin_init"):
    if need not in index:
        sys.exit(f"rust-analyzer.py: no '{need}' crate in {path}")
module_root = os.path.join(root, "rust", "hrcallout_main.rs")
crates[:] = [c for c in crates if c.get("root_module") != module_root]
deps = [{"crate": index[n], "name": n}
        for n in ("core", "kernel", "pin_init", "zerocopy", "zerocopy_derive") if n in index]
kernel = crates[index["kernel"]]
crates.append({
    "display_name": "hrcallout",
    "root_module": module_root,
    "is_workspace_member": True,
    "deps": deps,
    "cfg": kernel["cfg"] + ["hrc_kunit"],
    "edition": kernel.get("edition", "2021"),
    "env": {"RUST_MODFILE": "This is only for rust-analyzer"},
})
json.dump(project, open(path, "w"), sort_keys=True, indent=4)
