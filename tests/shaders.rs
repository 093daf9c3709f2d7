//! Every WGSL program the host renders (each geometry, tile and element type, the solver across
//! its sizes) is valid WGSL that translates to SPIR-V (Vulkan), MSL (Metal) and HLSL (DX12), by
//! naga; and passes tint (Dawn's compiler, whose uniformity analysis checks that every barrier
//! sits in uniform control flow, which naga does not) where tint is installed.

use std::path::{Path, PathBuf};
use std::process::Command;

use ista_nas::kernels::wgsl_variants::all_programs;
use naga::valid::{Capabilities, ValidationFlags, Validator};

/// Parses, validates and translates one program; the first failure, with naga's message.
fn translate(source: &str) -> Result<(), String> {
    let module = naga::front::wgsl::parse_str(source).map_err(|e| e.emit_to_string(source))?;
    let info = Validator::new(ValidationFlags::all(), Capabilities::default())
        .validate(&module)
        .map_err(|e| e.emit_to_string(source))?;
    naga::back::spv::write_vec(&module, &info, &Default::default(), None)
        .map_err(|e| format!("SPIR-V: {e}"))?;
    naga::back::msl::write_string(&module, &info, &Default::default(), &Default::default())
        .map_err(|e| format!("MSL: {e}"))?;
    let (options, pipeline) = (Default::default(), Default::default());
    let mut hlsl = String::new();
    naga::back::hlsl::Writer::new(&mut hlsl, &options, &pipeline)
        .write(&module, &info, None)
        .map_err(|e| format!("HLSL: {e}"))?;
    Ok(())
}

#[test]
fn every_program_translates_to_spirv_msl_and_hlsl() {
    let programs = all_programs();
    assert!(programs.len() > 60, "{} programs", programs.len());
    let failures: Vec<String> = programs
        .iter()
        .filter_map(|(name, source)| translate(source).err().map(|e| format!("{name}: {e}")))
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    eprintln!(
        "naga: {} programs valid, translated to SPIR-V, MSL and HLSL",
        programs.len()
    );
}

/// tint at /usr/local/bin or on PATH.
fn tint() -> Option<PathBuf> {
    let installed = Path::new("/usr/local/bin/tint");
    if installed.exists() {
        return Some(installed.into());
    }
    let found = Command::new("tint").arg("--help").output().is_ok();
    found.then(|| PathBuf::from("tint"))
}

#[test]
fn every_program_passes_tints_uniformity_analysis() {
    let Some(tint) = tint() else {
        eprintln!(
            "tint is not installed (not at /usr/local/bin/tint, not on PATH): the WGSL programs were not checked with Dawn's compiler"
        );
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let mut failures = Vec::new();
    let programs = all_programs();
    for (i, (name, source)) in programs.iter().enumerate() {
        let input = dir.path().join(format!("{i}.wgsl"));
        std::fs::write(&input, source).unwrap();
        let output = Command::new(&tint)
            .arg(&input)
            .args(["--format", "wgsl", "-o"])
            .arg(dir.path().join(format!("{i}.out.wgsl")))
            .output()
            .expect("tint runs");
        if !output.status.success() {
            let text = String::from_utf8_lossy(&output.stderr);
            failures.push(format!("{name}:\n{text}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    eprintln!("tint: {} programs compiled", programs.len());
}
