//! libtorch sees a GPU only if libtorch_cuda is loaded, and nothing calls into it directly: a
//! linker that links as needed drops it, and `--device cuda` then finds no device on a machine
//! that has one. This checks, on any machine, that a binary of this package loads it whenever
//! the libtorch it is built against has it (build.rs).

use std::path::Path;

#[test]
fn libtorch_cuda_is_loaded_wherever_libtorch_has_it() {
    // Touch libtorch, so that nothing of it is loaded lazily.
    assert!(tch::Cuda::device_count() >= 0);
    let maps = std::fs::read_to_string("/proc/self/maps").expect("/proc/self/maps is readable on Linux");
    let libtorch_cpu = maps
        .lines()
        .filter_map(|line| line.split_whitespace().nth(5))
        .find(|path| path.ends_with("/libtorch_cpu.so"))
        .expect("libtorch_cpu.so is mapped");
    let folder = Path::new(libtorch_cpu).parent().expect("a folder");
    if !folder.join("libtorch_cuda.so").exists() {
        eprintln!("{} has no libtorch_cuda.so: a CPU-only libtorch", folder.display());
        return;
    }
    assert!(
        maps.contains("/libtorch_cuda.so"),
        "{} has libtorch_cuda.so, but this binary did not load it",
        folder.display()
    );
}
