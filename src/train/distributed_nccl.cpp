// distributed_nccl.cpp: the NCCL process group (see distributed_backends.h).
#include "train/distributed_backends.h"
#include "util/error.h"

#ifdef FACE_WITH_NCCL
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif

namespace face {

bool nccl_compiled_in() {
#ifdef FACE_WITH_NCCL
  return true;
#else
  return false;
#endif
}

c10::intrusive_ptr<c10d::Backend> make_nccl_backend(const c10::intrusive_ptr<c10d::Store>& store, int rank,
                                                    int world_size, std::chrono::milliseconds timeout) {
#ifdef FACE_WITH_NCCL
  auto options = c10d::ProcessGroupNCCL::Options::create();
  options->timeout = timeout;
  return c10::make_intrusive<c10d::ProcessGroupNCCL>(store, rank, world_size, options);
#else
  fail("distributed training on CUDA needs the NCCL backend, which this build lacks: it needs a CUDA build of "
       "torch and nccl.h (pip nvidia-nccl or a system NCCL) at cmake time (rank {} of {})",
       rank, world_size);
#endif
}

}  // namespace face
