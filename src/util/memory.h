// memory.h: how much memory this process uses, for telemetry and benchmarks.
//
//   resident_memory_mb()       resident set size now (/proc/self/statm)
//   peak_resident_memory_mb()  the most it has been since the process started (VmHWM)
//   device_memory_in_use_mb()  CUDA device memory in use on the current device, all processes
//                              included (cudaMemGetInfo); -1 when no CUDA runtime is loaded
//
// The CUDA runtime is looked up at run time, so the core builds without CUDA headers.
#pragma once

namespace face {

double resident_memory_mb();
double peak_resident_memory_mb();
double device_memory_in_use_mb();

}  // namespace face
