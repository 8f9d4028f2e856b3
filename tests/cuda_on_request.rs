//! libtorch's CUDA library is not linked but opened when a run may use a GPU
//! (`encode::cuda_library`). This checks that `--device cuda` opens it and that libtorch then
//! has its CUDA half, wherever the libtorch built against has one: a load that registered
//! nothing would leave libtorch seeing no GPU on a machine that has one.

mod common;

use warpflow::encode::{DeviceChoice, EncodeError};

#[test]
fn asking_for_cuda_opens_libtorchs_cuda_library() {
    let Some(folder) = common::libtorch_lib_folder() else {
        panic!("libtorch_cpu.so is not mapped in a test that links libtorch");
    };
    let resolved = DeviceChoice::Cuda(0).resolve();
    if !folder.join("libtorch_cuda.so").exists() {
        assert!(
            matches!(resolved, Err(EncodeError::CudaLibraryUnopened { .. })),
            "a CPU-only libtorch ({}) gives {resolved:?}",
            folder.display()
        );
        return;
    }
    assert!(
        common::mapped_libraries()
            .iter()
            .any(|path| path.ends_with("/libtorch_cuda.so")),
        "cuda:0 was asked for, but libtorch_cuda.so was not opened"
    );
    assert!(
        tch::utils::has_cudart(),
        "libtorch_cuda.so is open, but libtorch has no CUDA runtime registered"
    );
    match resolved {
        Ok(device) => assert_eq!(device, tch::Device::Cuda(0)),
        Err(EncodeError::CudaUnavailable { available: 0, .. }) => {}
        other => panic!("cuda:0 on a libtorch with CUDA gives {other:?}"),
    }
}
