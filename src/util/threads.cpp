#include "util/threads.h"

#include <ATen/Parallel.h>

#include <thread>

#include "util/denormals.h"
#include "util/error.h"

namespace face {

int configure_threads(int requested) {
  // Far more threads than any machine has cores only thrashes (and 100000 threads hang a tool).
  if (requested < 0 || requested > kMaxThreads)
    fail("thread count {} is outside 0..{} (0 = all cores)", requested, kMaxThreads);
  int n = requested > 0 ? requested : static_cast<int>(std::thread::hardware_concurrency());
  if (n <= 0) n = 1;
  at::set_num_threads(n);
  set_flush_denormals(true);
  return at::get_num_threads();
}

}  // namespace face
