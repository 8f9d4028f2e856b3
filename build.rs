//! Embeds an rpath to libtorch's `lib` folder so that `warpflow` and the test binaries
//! run without `LD_LIBRARY_PATH`. torch-sys announces that folder through its `links`
//! key (`DEP_TCH_LIBTORCH_LIB`), which is why torch-sys is a direct dependency. The same
//! rpath is where `libtorch_cuda.so` is opened from at run time, where a GPU may be used
//! (`encode::cuda_library`): it is not linked, so that a process without a GPU never loads CUDA.

fn main() {
    println!("cargo:rerun-if-env-changed=DEP_TCH_LIBTORCH_LIB");
    if let Ok(lib_dir) = std::env::var("DEP_TCH_LIBTORCH_LIB") {
        println!("cargo:rustc-link-arg=-Wl,-rpath,{lib_dir}");
    }
}
