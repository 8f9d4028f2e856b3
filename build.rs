//! Embeds an rpath to libtorch's `lib` folder so that `warpflow` and the test binaries
//! run without `LD_LIBRARY_PATH`. torch-sys announces that folder through its `links`
//! key (`DEP_TCH_LIBTORCH_LIB`), which is why torch-sys is a direct dependency.

fn main() {
    println!("cargo:rerun-if-env-changed=DEP_TCH_LIBTORCH_LIB");
    if let Ok(lib_dir) = std::env::var("DEP_TCH_LIBTORCH_LIB") {
        println!("cargo:rustc-link-arg=-Wl,-rpath,{lib_dir}");
        // libtorch_cuda registers CUDA with libtorch when it is loaded; nothing calls into
        // it directly, so without this flag the linker would drop it and CUDA would be unseen.
        println!("cargo:rustc-link-arg=-Wl,--no-as-needed");
    }
}
