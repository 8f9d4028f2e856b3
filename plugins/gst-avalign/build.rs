//! The plugin's version and release date (for `gst-inspect-1.0`), and an rpath to libtorch's
//! `lib` folder so that GStreamer can load the plugin without `LD_LIBRARY_PATH`.

fn main() {
    gst_plugin_version_helper::info();
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
