//! The unpacking side of the GPU check (`scripts/gpu_check.sh --prebuilt DIR --unpack-only`) on a
//! pack laid out as `scripts/gpu_pack.sh` writes it, with a stand-in binary and package (the real
//! pack needs a release build and the package registry): checksums checked, the binary unpacked
//! and run, the packages extracted into a scratch root that goes on the library path.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

fn sh(command: &str, dir: &Path) {
    let status = Command::new("sh")
        .arg("-c")
        .arg(command)
        .current_dir(dir)
        .status()
        .unwrap();
    assert!(status.success(), "{command}");
}

/// A pack in `dir`: ista-nas.xz (a script answering --version), debs/fake.deb (one library
/// file), SHA256SUMS.
fn fake_pack(dir: &Path) {
    fs::create_dir_all(dir.join("debs")).unwrap();
    fs::write(
        dir.join("ista-nas"),
        "#!/bin/sh\necho \"ista-nas stand-in $*\"\n",
    )
    .unwrap();
    sh("xz -9 ista-nas", dir);
    let package = dir.join("package");
    fs::create_dir_all(package.join("DEBIAN")).unwrap();
    fs::create_dir_all(package.join("usr/lib/x86_64-linux-gnu")).unwrap();
    fs::write(
        package.join("DEBIAN/control"),
        "Package: fake\nVersion: 1.0\nArchitecture: amd64\nMaintainer: none <none@example.org>\nDescription: a test package\n",
    )
    .unwrap();
    fs::write(package.join("usr/lib/x86_64-linux-gnu/libfake.so.1"), "lib").unwrap();
    sh(
        "dpkg-deb --build package debs/fake.deb >/dev/null && rm -r package",
        dir,
    );
    sh("sha256sum ista-nas.xz debs/*.deb > SHA256SUMS", dir);
}

/// A scratch folder holding a fake pack: (the folder, [pack, unpacking root, OUT]).
fn packed() -> (tempfile::TempDir, [PathBuf; 3]) {
    let dir = tempfile::tempdir().unwrap();
    let paths = ["pack", "root", "out"].map(|name| dir.path().join(name));
    fake_pack(&paths[0]);
    (dir, paths)
}

fn unpack(pack: &Path, root: &Path, out: &Path) -> std::process::Output {
    Command::new(concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/gpu_check.sh"))
        .args(["--prebuilt", pack.to_str().unwrap(), "--unpack-only"])
        .env("UNPACK_ROOT", root)
        .env("OUT", out)
        .output()
        .unwrap()
}

#[test]
fn a_pack_unpacks_into_a_scratch_root_and_its_binary_runs() {
    let (_dir, [pack, root, out]) = packed();
    let done = unpack(&pack, &root, &out);
    let stdout = String::from_utf8_lossy(&done.stdout);
    assert!(
        done.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&done.stderr)
    );
    assert!(root.join("usr/lib/x86_64-linux-gnu/libfake.so.1").is_file());
    assert!(stdout.contains("ista-nas stand-in --version"), "{stdout}");
    assert!(
        stdout.contains(&format!(
            "LD_LIBRARY_PATH={}",
            root.join("usr/lib/x86_64-linux-gnu").display()
        )),
        "{stdout}"
    );
}

#[test]
fn a_pack_whose_checksums_do_not_match_is_refused() {
    let (_dir, [pack, root, out]) = packed();
    fs::write(pack.join("ista-nas.xz"), "not what was packed").unwrap();
    let done = unpack(&pack, &root, &out);
    let stdout = String::from_utf8_lossy(&done.stdout);
    assert_eq!(done.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("checksums"), "{stdout}");
    assert!(
        !root.join("usr").exists(),
        "nothing is extracted from a bad pack"
    );
}

/// The smoke path on a machine whose only Vulkan adapter is software (lavapipe here), with an
/// NVIDIA manifest that points at no driver: the manifest is added, the adapter is refused
/// before anything is measured, and the summary and archive are still written.
#[test]
fn the_check_refuses_a_software_adapter_and_still_hands_back_its_files() {
    let dir = tempfile::tempdir().unwrap();
    let icd = dir.path().join("nvidia_icd.json");
    fs::write(
        &icd,
        r#"{"file_format_version": "1.0.0", "ICD": {"library_path": "/nonexistent/libGLX_nvidia.so.0", "api_version": "1.3.0"}}"#,
    )
    .unwrap();
    let out = dir.path().join("out");
    let done = Command::new(concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/gpu_check.sh"))
        .args(["--binary", env!("CARGO_BIN_EXE_ista-nas"), "--smoke-only"])
        .env("NVIDIA_ICD", &icd)
        .env("OUT", &out)
        .env("WORK", dir.path().join("work"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&done.stdout);
    assert_eq!(done.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("not a hardware GPU"), "{stdout}");
    assert!(
        stdout.contains(&format!("VK_ADD_DRIVER_FILES={}", icd.display())),
        "{stdout}"
    );
    assert!(!out.join("smoke").exists(), "nothing measured: {stdout}");
    let summary = fs::read_to_string(out.join("summary.md")).unwrap();
    assert!(summary.contains("exit 1"), "{summary}");
    let listing = Command::new("tar")
        .args(["tzf", out.join("gpu-check.tar.gz").to_str().unwrap()])
        .output()
        .unwrap();
    let listing = String::from_utf8_lossy(&listing.stdout);
    assert!(listing.contains("device.log"), "{listing}");
}
