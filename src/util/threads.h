// threads.h: intra-op thread count for LibTorch.
//
// LibTorch starts with one intra-op thread here unless told otherwise (a conv ran 1.8x faster
// with two on a 2-core machine), so every tool calls this once at start-up with its --threads
// flag: 0 means all cores.
//
// It also turns on flush-to-zero and denormals-are-zero in every one of those threads
// (util/denormals.h): weights that decay towards zero over a long run end up as denormals (the
// third release holds 553,409 of them, 15% of its parameters), and on Intel CPUs each one then
// costs a microcode assist. Fine-tuning that model in fp32 ran 33 images/s without the flush and
// 90 with it (a fresh start: 83); embedding with it ran at about half the speed. Results change
// only below float's normal range (~1.2e-38).
#pragma once

namespace face {

constexpr int kMaxThreads = 256;

// Sets LibTorch's intra-op threads to `requested`, or to the core count when it is 0.
// Returns the count in effect; face::Error when `requested` is outside 0..kMaxThreads. Turns
// FTZ/DAZ on in the calling thread and every intra-op worker (threads started later inherit it).
int configure_threads(int requested);

}  // namespace face
