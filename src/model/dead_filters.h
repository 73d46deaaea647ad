// dead_filters.h: convolution filters that training has erased, found and re-initialised.
//
// Every convolution of the nn4 family is conv + batch norm + ReLU (model/inception.h). A unit
// whose ReLU stops firing gets no gradient but weight decay's, which shrinks its filter towards
// zero. In the fifth release 2,194 of nn4.small2's 4,656 filters (2.0M of
// its 3.6M convolution weights) have no weight above 1e-6 and 1,887 none above 1e-30, among them
// whole towers of the last Inception blocks (experiments/nn4-revive): capacity in the layers that
// make the final features which the network no longer uses. Reviving such a unit gives its filter
// fresh values (drawn as model/nn4.h's initialise_weights draws a new network's) and resets its
// batch norm channel to the identity (gamma 1, beta 0, running mean 0, running variance 1), so the
// ReLU fires on about half its inputs again and the unit can learn. The layers reading it may have
// decayed their weights for it too; those now see a non-constant input and receive gradient.
#pragma once
#include <torch/nn/module.h>

#include <cstdint>

namespace face {

// A filter is dead when the largest magnitude among its weights is below this: decay alone takes
// a weight there, never learning (a live filter's largest weight is 1e-3 or more).
inline constexpr double kDeadFilterTolerance = 1e-30;

struct DeadFilters {
  int64_t filters = 0;  // dead output filters found (and, for revive_dead_filters, revived)
  int64_t weights = 0;  // the weights they hold
  int64_t units = 0;    // conv + batch norm units holding at least one
};

// Counts the dead filters of every Conv2d that a BatchNorm2d follows inside one Sequential (the
// nn4 family's units; other convolutions are not looked at). Changes nothing.
DeadFilters count_dead_filters(const torch::nn::Module& model, double tolerance = kDeadFilterTolerance);

// As count_dead_filters, and revives each dead filter as described above: new weights
// N(0, 2 / fan_out) from a generator seeded with `seed`, zero bias, identity batch norm channel.
// Live filters and every other parameter and buffer are unchanged. Reviving a network with no
// dead filter changes nothing.
DeadFilters revive_dead_filters(torch::nn::Module& model, uint64_t seed, double tolerance = kDeadFilterTolerance);

}  // namespace face
