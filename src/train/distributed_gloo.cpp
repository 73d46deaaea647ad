// distributed_gloo.cpp: the Gloo process group (see distributed_backends.h).
#include "train/distributed_backends.h"
#include "util/error.h"

#ifdef FACE_WITH_GLOO
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#endif

namespace face {

bool gloo_compiled_in() {
#ifdef FACE_WITH_GLOO
  return true;
#else
  return false;
#endif
}

c10::intrusive_ptr<c10d::Backend> make_gloo_backend(const c10::intrusive_ptr<c10d::Store>& store, int rank,
                                                    int world_size, std::chrono::milliseconds timeout,
                                                    const std::string& device_host) {
#ifdef FACE_WITH_GLOO
  auto options = device_host.empty() ? c10d::ProcessGroupGloo::Options::create_default(timeout)
                                     : c10d::ProcessGroupGloo::Options::create(timeout);
  if (!device_host.empty()) options->devices.push_back(c10d::ProcessGroupGloo::createDeviceForHostname(device_host));
  return c10::make_intrusive<c10d::ProcessGroupGloo>(store, rank, world_size, options);
#else
  fail("distributed training on CPU needs the Gloo backend, which this build lacks: install the gloo headers "
       "(Debian: apt-get install libgloo-dev) and re-run cmake (rank {} of {})",
       rank, world_size);
#endif
}

}  // namespace face
