// denormals.h: flush-to-zero (FTZ) and denormals-are-zero (DAZ) for every thread that computes.
//
// Why: numbers below ~1.2e-38 in float32 (denormals) take a slow microcode path on x86 in many
// instructions: tens to hundreds of cycles each instead of one. A network whose activations or
// gradients drift into that range slows down without any change of shape or code. FTZ/DAZ
// treats them as zero instead, which changes results only below float's normal range.
//
// The setting lives in each thread's MXCSR register (the FPCR on ARM), so setting it in the main
// thread alone leaves LibTorch's intra-op workers (OpenMP) as they were. This sets it in the
// calling thread and then, through one parallel region with exactly one index per worker, in
// each worker of the intra-op pool; threads started later inherit it from their creator.
#pragma once

namespace face {

// Sets (on = true) or clears FTZ/DAZ in this thread and every intra-op worker, after
// configure_threads (util/threads.h). Returns the number of threads set, 0 when the CPU has no
// such mode.
int set_flush_denormals(bool on);

// Whether FTZ/DAZ is on in the calling thread.
bool flush_denormals_on();

}  // namespace face
