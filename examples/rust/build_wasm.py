#!/usr/bin/env python3
"""build_wasm.py CARGO MANIFEST TARGET_DIR OUTPUT: builds the crate for
wasm32-wasi with Debian's cargo and rustc (offline: no dependencies) and
copies the module to OUTPUT."""
import os
import shutil
import subprocess
import sys

cargo, manifest, target_dir, output = sys.argv[1:5]
env = dict(os.environ, RUSTC=os.path.join(os.path.dirname(cargo), "rustc"),
           CARGO_HOME=os.path.join(target_dir, "cargo-home"))
subprocess.run([cargo, "build", "--offline", "--quiet", "--release", "--target", "wasm32-wasi",
                "--manifest-path", manifest, "--target-dir", target_dir], env=env, check=True)
name = "textstats.wasm"
shutil.copyfile(os.path.join(target_dir, "wasm32-wasi", "release", name), output)
