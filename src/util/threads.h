// threads.h: intra-op thread count for LibTorch.
//
// LibTorch starts with one intra-op thread here unless told otherwise (a conv ran 1.8x faster
// with two on a 2-core machine), so every tool calls this once at start-up with its --threads
// flag: 0 means all cores.
#pragma once

namespace face {

constexpr int kMaxThreads = 256;

// Sets LibTorch's intra-op threads to `requested`, or to the core count when it is 0.
// Returns the count in effect; face::Error when `requested` is outside 0..kMaxThreads.
int configure_threads(int requested);

}  // namespace face
