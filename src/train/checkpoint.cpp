#include "train/checkpoint.h"

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Context.h>
#include <torch/torch.h>

#include <algorithm>

#include "model/model_file.h"
#include "util/atomic_file.h"
#include "util/checked_writer.h"
#include "util/error.h"
#include "util/run_info.h"

namespace face {
namespace fs = std::filesystem;

namespace {

c10::IValue require(torch::serialize::InputArchive& archive, const char* key, const fs::path& path) {
  c10::IValue value;
  if (!archive.try_read(key, value)) fail("checkpoint '{}': missing entry '{}'", path.string(), key);
  return value;
}

CheckpointState read_state(torch::serialize::InputArchive& archive, const fs::path& path) {
  CheckpointState s;
  s.step = require(archive, "step", path).toInt();
  s.epoch = require(archive, "epoch", path).toInt();
  s.sampler = require(archive, "sampler", path).toStringRef();
  s.config_fingerprint = require(archive, "config_fingerprint", path).toStringRef();
  s.best_score = require(archive, "best_score", path).toDouble();
  s.nonfinite_total = require(archive, "nonfinite_total", path).toInt();
  s.empty_batches = require(archive, "empty_batches", path).toInt();
  c10::IValue v;
  if (archive.try_read("world_size", v)) s.world_size = v.toInt();
  if (archive.try_read("rank_samplers", v))
    for (const auto& e : v.toListRef()) s.rank_samplers.push_back(e.toStringRef());
  if (archive.try_read("rank_rng_cpu", v)) s.rank_rng_cpu = v.toTensorVector();
  if (archive.try_read("rank_rng_cuda", v)) s.rank_rng_cuda = v.toTensorVector();
  return s;
}

void load_archive(torch::serialize::InputArchive& archive, const fs::path& path, const torch::Device& device) {
  if (!fs::exists(path)) fail("checkpoint '{}' does not exist", path.string());
  try {
    archive.load_from(path.string(), device);
  } catch (const c10::Error& e) {
    fail("checkpoint '{}' is damaged or not a LibTorch archive: {}", path.string(), e.what_without_backtrace());
  }
}

}  // namespace

void set_generator_state(at::Generator generator, const torch::Tensor& state) {
  std::lock_guard<std::mutex> lock(generator.mutex());
  generator.set_state(state.cpu());
}

std::string checkpoint_name(int64_t step) { return fmt::format("ckpt-{:08d}.pt", step); }

void save_checkpoint(const fs::path& path, Nn4& model, const torch::optim::Optimizer& optimiser,
                     const CheckpointState& s, const torch::Device& device, const SaveEntries& extra) {
  torch::serialize::OutputArchive archive;
  write_model_entries(archive, model);
  torch::serialize::OutputArchive optimiser_archive;
  optimiser.save(optimiser_archive);
  archive.write("optimiser", optimiser_archive);
  archive.write("step", c10::IValue(s.step));
  archive.write("epoch", c10::IValue(s.epoch));
  archive.write("sampler", c10::IValue(s.sampler));
  archive.write("config_fingerprint", c10::IValue(s.config_fingerprint));
  archive.write("best_score", c10::IValue(s.best_score));
  archive.write("nonfinite_total", c10::IValue(s.nonfinite_total));
  archive.write("empty_batches", c10::IValue(s.empty_batches));
  archive.write("run_info", c10::IValue(run_info_json()));
  if (extra) extra(archive);
  if (s.world_size != 1) {
    archive.write("world_size", c10::IValue(s.world_size));
    archive.write("rank_samplers", c10::IValue(c10::List<std::string>(s.rank_samplers)));
    archive.write("rank_rng_cpu", c10::IValue(s.rank_rng_cpu));
    archive.write("rank_rng_cuda", c10::IValue(s.rank_rng_cuda));
  }
  archive.write("rng_cpu", at::detail::getDefaultCPUGenerator().get_state());
  if (device.is_cuda()) archive.write("rng_cuda", at::globalContext().defaultGenerator(device).get_state());
  write_atomic(path, [&](const fs::path& tmp) {
    write_checked(tmp, path, "checkpoint", [&](const ByteWriter& writer) { archive.save_to(writer); });
  });
}

CheckpointState load_checkpoint(const fs::path& path, Nn4& model, torch::optim::Optimizer& optimiser,
                                const torch::Device& device, const std::string& expected_fingerprint,
                                const LoadEntries& extra) {
  torch::serialize::InputArchive archive;
  load_archive(archive, path, device);
  CheckpointState s = read_state(archive, path);
  if (s.config_fingerprint != expected_fingerprint)
    fail("checkpoint '{}' was written with another recipe (config fingerprint {}, now {}); resume with the "
         "config it was trained with, or start a new run",
         path.string(), s.config_fingerprint, expected_fingerprint);
  LoadedModel saved = read_model_entries(archive, path.string());
  if (saved.model->options().arch() != model->options().arch() ||
      saved.model->options().embedding_dim() != model->options().embedding_dim())
    fail("checkpoint '{}' holds {} (D={}), the config asks for {} (D={})", path.string(),
         saved.model->options().arch(), saved.model->options().embedding_dim(), model->options().arch(),
         model->options().embedding_dim());
  {
    torch::NoGradGuard no_grad;
    auto from = saved.model->parameters(), to = model->parameters();
    for (size_t i = 0; i < to.size(); ++i) to[i].copy_(from[i]);
    auto from_b = saved.model->buffers(), to_b = model->buffers();
    for (size_t i = 0; i < to_b.size(); ++i) to_b[i].copy_(from_b[i]);
  }
  if (extra) extra(archive);
  torch::serialize::InputArchive optimiser_archive;
  if (!archive.try_read("optimiser", optimiser_archive)) fail("checkpoint '{}': no optimiser state", path.string());
  try {
    optimiser.load(optimiser_archive);
  } catch (const c10::Error& e) {
    fail("checkpoint '{}': optimiser state does not match the config's optimiser: {}", path.string(),
         e.what_without_backtrace());
  }
  set_generator_state(at::detail::getDefaultCPUGenerator(), require(archive, "rng_cpu", path).toTensor());
  c10::IValue cuda_state;
  if (device.is_cuda() && archive.try_read("rng_cuda", cuda_state))
    set_generator_state(at::globalContext().defaultGenerator(device), cuda_state.toTensor());
  return s;
}

CheckpointState read_checkpoint_state(const fs::path& path) {
  torch::serialize::InputArchive archive;
  load_archive(archive, path, torch::kCPU);
  read_model_entries(archive, path.string());
  return read_state(archive, path);
}

std::vector<fs::path> list_checkpoints(const fs::path& dir) {
  std::vector<fs::path> found;
  if (!fs::is_directory(dir)) return found;
  for (const auto& entry : fs::directory_iterator(dir)) {
    auto name = entry.path().filename().string();
    if (name.size() == 16 && name.rfind("ckpt-", 0) == 0 && entry.path().extension() == ".pt")
      found.push_back(entry.path());
  }
  std::sort(found.begin(), found.end());
  return found;
}

std::optional<fs::path> find_resumable(const fs::path& dir, std::vector<std::string>* warnings) {
  auto candidates = list_checkpoints(dir);
  for (auto it = candidates.rbegin(); it != candidates.rend(); ++it) {
    try {
      read_checkpoint_state(*it);
      return *it;
    } catch (const Error& e) {
      if (warnings) warnings->push_back(fmt::format("skipping damaged checkpoint: {}", e.what()));
    }
  }
  return std::nullopt;
}

void prune_checkpoints(const fs::path& dir, int64_t keep) {
  auto all = list_checkpoints(dir);
  for (int64_t i = 0; i + keep < static_cast<int64_t>(all.size()); ++i) {
    std::error_code ec;
    fs::remove(all[i], ec);
  }
}

}  // namespace face
