//! On a machine without the NVIDIA driver, `--device auto` runs on the CPU without loading
//! libtorch's CUDA library: every thread of the process would otherwise carry a copy of its
//! libraries' thread-local storage, and the process their hundred megabytes
//! (`encode::cuda_library`).

mod common;

use std::path::Path;

use warpflow::encode::DeviceChoice;

#[test]
fn auto_without_a_driver_loads_no_cuda() {
    if Path::new("/dev/nvidiactl").exists() {
        eprintln!("this machine has the NVIDIA driver: auto may open CUDA here");
        return;
    }
    assert_eq!(
        DeviceChoice::Auto.resolve().expect("auto always resolves"),
        tch::Device::Cpu
    );
    let cuda: Vec<String> = common::mapped_libraries()
        .into_iter()
        .filter(|path| path.ends_with("/libtorch_cuda.so") || path.contains("/libcublas"))
        .collect();
    assert!(cuda.is_empty(), "auto on a machine without a driver loaded {cuda:?}");
}
