#include "util/denormals.h"

#include <ATen/Context.h>
#include <ATen/Parallel.h>

#include <atomic>

#if defined(__x86_64__) || defined(__i386__)
#include <xmmintrin.h>
#endif

namespace face {

int set_flush_denormals(bool on) {
  if (!at::globalContext().setFlushDenormal(on)) return 0;  // this thread; false: no such mode
  const int64_t workers = at::get_num_threads();
  std::atomic<int> set{0};
  // With a grain of 1, ATen's parallel_for gives each of the `workers` threads one index.
  at::parallel_for(0, workers, 1, [&](int64_t begin, int64_t end) {
    at::globalContext().setFlushDenormal(on);
    set += static_cast<int>(end - begin);
  });
  return set.load();
}

bool flush_denormals_on() {
#if defined(__x86_64__) || defined(__i386__)
  return (_mm_getcsr() & 0x8040) == 0x8040;  // FTZ (bit 15) and DAZ (bit 6)
#else
  return false;
#endif
}

}  // namespace face
