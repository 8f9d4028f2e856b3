//! libtorch's CUDA half, `libtorch_cuda.so`, opened only where a GPU may be used.
//!
//! The PyPI libtorch keeps CUDA in a library of its own, which brings cuBLAS, cuDNN, NCCL and
//! the rest with it. Linked into the binary, they load into every process, GPU or not: over
//! 100 MB resident, and thread-local storage (about 190 KB) of which every thread the process
//! starts gets its own copy, so that each GStreamer streaming thread of each stream's capture
//! pays it. So the binaries do not link it; it is opened here, once, when a device is first
//! chosen: for `auto` only where the NVIDIA driver's library (`libcuda.so.1`) opens, for
//! `cuda[:N]` always, so that libtorch itself says what it sees. Opening it registers CUDA
//! with libtorch, which must happen before libtorch is first asked about CUDA: libtorch keeps
//! its first answer for the life of the process.
//!
//! This module owns that one load; which device a run takes is `device`'s.

#![allow(unsafe_code)]

use std::ffi::{CStr, CString};
use std::sync::OnceLock;

/// libtorch's CUDA library, found next to `libtorch_cpu.so` through the binaries' rpath or
/// `LD_LIBRARY_PATH`.
const LIBTORCH_CUDA: &str = "libtorch_cuda.so";
/// The NVIDIA driver's user-space library, present wherever a CUDA GPU can be used.
const NVIDIA_DRIVER: &str = "libcuda.so.1";

/// Whether the NVIDIA driver's library opens on this machine (looked up once).
pub(crate) fn nvidia_driver_present() -> bool {
    static PRESENT: OnceLock<bool> = OnceLock::new();
    *PRESENT.get_or_init(|| open_library(NVIDIA_DRIVER, libc::RTLD_LAZY | libc::RTLD_LOCAL).is_ok())
}

/// Opens libtorch's CUDA library, once for the process; `Err` says why it did not open (a
/// CPU-only libtorch has none).
pub(crate) fn open_libtorch_cuda() -> Result<(), String> {
    static OPENED: OnceLock<Result<(), String>> = OnceLock::new();
    OPENED
        .get_or_init(|| {
            // Global, so that the CUDA kernels it registers resolve the symbols of the
            // libraries it loads, as when it is linked.
            let opened = open_library(LIBTORCH_CUDA, libc::RTLD_NOW | libc::RTLD_GLOBAL);
            match &opened {
                Ok(()) => tracing::debug!(library = LIBTORCH_CUDA, "opened libtorch's CUDA library"),
                Err(why) => tracing::debug!(library = LIBTORCH_CUDA, %why, "libtorch's CUDA library did not open"),
            }
            opened
        })
        .clone()
}

/// Opens the shared library `name` for the rest of the process (it is never closed: neither
/// library is meant to be unloaded); `Err` carries the loader's reason.
fn open_library(name: &str, flags: libc::c_int) -> Result<(), String> {
    let file = CString::new(name).map_err(|_| format!("library name {name:?} holds a NUL byte"))?;
    // SAFETY: `file` is a NUL-terminated string that outlives the call. Opening runs the
    // library's initialisers, which for these two libraries register with libtorch or set up
    // the driver; the handle is kept open for the life of the process, so nothing it
    // registered is ever unloaded.
    let handle = unsafe { libc::dlopen(file.as_ptr(), flags) };
    if !handle.is_null() {
        return Ok(());
    }
    // SAFETY: `dlerror` returns null or a NUL-terminated message owned by the loader, read at
    // once, before any other loader call on this thread could replace it.
    let reason = unsafe {
        let message = libc::dlerror();
        if message.is_null() {
            format!("{name} did not open")
        } else {
            CStr::from_ptr(message).to_string_lossy().into_owned()
        }
    };
    Err(reason)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_library_that_is_not_there_says_which() {
        let why = open_library("libwarpflow-no-such-library.so", libc::RTLD_LAZY).expect_err("no such library exists");
        assert!(why.contains("libwarpflow-no-such-library.so"), "{why}");
    }
}
