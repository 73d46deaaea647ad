// threads.h: intra-op thread count for LibTorch.
//
// LibTorch starts with one intra-op thread here unless told otherwise (a conv ran 1.8x faster
// with two on a 2-core machine), so every tool calls this once at start-up with its --threads
// flag: 0 means all cores.
#pragma once

namespace face {

// Sets LibTorch's intra-op threads to `requested`, or to the core count when it is 0 or less.
// Returns the count in effect.
int configure_threads(int requested);

}  // namespace face
