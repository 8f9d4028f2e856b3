//! Embeds an rpath to libtorch's `lib` folder so that `warpflow` and the test binaries
//! run without `LD_LIBRARY_PATH`. torch-sys announces that folder through its `links`
//! key (`DEP_TCH_LIBTORCH_LIB`), which is why torch-sys is a direct dependency.

fn main() {
    println!("cargo:rerun-if-env-changed=DEP_TCH_LIBTORCH_LIB");
    if let Ok(lib_dir) = std::env::var("DEP_TCH_LIBTORCH_LIB") {
        println!("cargo:rustc-link-arg=-Wl,-rpath,{lib_dir}");
        // libtorch_cuda registers CUDA with libtorch when it is loaded; nothing calls into it
        // directly, so the linker drops the `-ltorch_cuda` torch-sys gives (it links as
        // needed) and CUDA goes unseen. Named again after `--no-as-needed`, it stays.
        if std::path::Path::new(&lib_dir).join("libtorch_cuda.so").exists() {
            println!("cargo:rustc-link-arg=-Wl,--no-as-needed");
            println!("cargo:rustc-link-arg=-ltorch_cuda");
            println!("cargo:rustc-link-arg=-Wl,--as-needed");
        }
    }
}
