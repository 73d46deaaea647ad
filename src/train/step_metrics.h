// step_metrics.h: the named values of one training step (detectron2's EventStorage manner).
//
// Whatever computes a value of the step (the trainer, a loss head) puts it under its name; the
// telemetry hook averages every name over its logging window and writes it to metrics.jsonl
// under that name. Values are device scalars, detached, read only when logging (so putting one
// costs no host sync). A name known to the run (telemetry_keys()) but not put in a step is
// logged as null: the terms of a loss the recipe does not use.
#pragma once
#include <torch/types.h>

#include <string>
#include <utility>
#include <vector>

namespace face {

class StepMetrics {
 public:
  // Requires: `value` a scalar tensor. Stores it detached, replacing a value of the same name.
  void put(const std::string& name, const torch::Tensor& value);
  // The value put under `name` in this step; an undefined tensor when none was.
  torch::Tensor get(const std::string& name) const;
  // Forgets every value (the trainer calls it at the start of each step).
  void clear() { values_.clear(); }

 private:
  std::vector<std::pair<std::string, torch::Tensor>> values_;
};

}  // namespace face
