// distributed_backends.h: creation of LibTorch's own c10d process groups, one translation unit
// per backend, so that only these files need the backends' headers.
//
//   Gloo (CPU)   torch's compiled ProcessGroupGloo from libtorch_cpu. Its header includes gloo
//                headers that the torch wheel does not ship; they come from Debian's libgloo-dev.
//                Our code only names the exported constructor, Options::create/create_default
//                and createDeviceForHostname, and holds gloo objects through shared_ptr, so it
//                does not depend on gloo's class layouts. Without the headers at build time
//                (CMake: FACE_WITH_GLOO undefined) make_gloo_backend fails with a clear error.
//   NCCL (CUDA)  torch's compiled ProcessGroupNCCL from libtorch_cuda, built when CMake finds
//                nccl.h (the pip nvidia-nccl package or a system NCCL) and torch was built with
//                CUDA (FACE_WITH_NCCL); otherwise make_nccl_backend fails with a clear error.
#pragma once
#include <torch/csrc/distributed/c10d/Backend.hpp>
#include <torch/csrc/distributed/c10d/Store.hpp>

#include <chrono>
#include <string>

namespace face {

bool gloo_compiled_in();
bool nccl_compiled_in();

// `device_host`: the address this rank's Gloo transport binds (empty: Gloo's default, which
// honours GLOO_SOCKET_IFNAME, else the host name's address).
c10::intrusive_ptr<c10d::Backend> make_gloo_backend(const c10::intrusive_ptr<c10d::Store>& store, int rank,
                                                    int world_size, std::chrono::milliseconds timeout,
                                                    const std::string& device_host);

c10::intrusive_ptr<c10d::Backend> make_nccl_backend(const c10::intrusive_ptr<c10d::Store>& store, int rank,
                                                    int world_size, std::chrono::milliseconds timeout);

}  // namespace face
