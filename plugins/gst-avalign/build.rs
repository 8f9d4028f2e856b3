//! The plugin's version and release date (for `gst-inspect-1.0`), and an rpath to libtorch's
//! `lib` folder so that GStreamer can load the plugin without `LD_LIBRARY_PATH`, and the
//! plugin can open `libtorch_cuda.so` from there where a GPU may be used.

fn main() {
    gst_plugin_version_helper::info();
    println!("cargo:rerun-if-env-changed=DEP_TCH_LIBTORCH_LIB");
    if let Ok(lib_dir) = std::env::var("DEP_TCH_LIBTORCH_LIB") {
        println!("cargo:rustc-link-arg=-Wl,-rpath,{lib_dir}");
    }
}
