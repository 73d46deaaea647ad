#include "util/memory.h"

#include <dlfcn.h>
#include <unistd.h>

#include <cstddef>
#include <fstream>
#include <string>

namespace face {

double resident_memory_mb() {
  long pages = 0, resident = 0;
  std::ifstream("/proc/self/statm") >> pages >> resident;
  return static_cast<double>(resident) * static_cast<double>(::sysconf(_SC_PAGESIZE)) / (1024.0 * 1024.0);
}

double peak_resident_memory_mb() {
  std::ifstream status("/proc/self/status");
  std::string key;
  double kilobytes = 0;
  while (status >> key) {
    if (key == "VmHWM:") {
      status >> kilobytes;
      break;
    }
  }
  return kilobytes / 1024.0;
}

double device_memory_in_use_mb() {
  using MemGetInfo = int (*)(size_t*, size_t*);
  static auto fn = reinterpret_cast<MemGetInfo>(::dlsym(RTLD_DEFAULT, "cudaMemGetInfo"));
  size_t free = 0, total = 0;
  if (!fn || fn(&free, &total) != 0) return -1;
  return static_cast<double>(total - free) / (1024.0 * 1024.0);
}

}  // namespace face
