#include "train/distributed.h"

#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>

#include <cstdlib>

#include "train/distributed_backends.h"
#include "util/error.h"
#include "util/hash.h"

namespace face {

namespace {

const char* env(const char* name) {
  const char* v = std::getenv(name);
  return v && *v ? v : nullptr;
}

int env_int(const char* name, int lo, int hi) {
  const char* v = env(name);
  if (!v) fail("distributed launch: {} is not set (RANK and WORLD_SIZE are; torchrun sets all of them)", name);
  char* end = nullptr;
  long value = std::strtol(v, &end, 10);
  if (*end != '\0' || value < lo || value > hi)
    fail("distributed launch: {}='{}' must be an integer in [{}, {}]", name, v, lo, hi);
  return static_cast<int>(value);
}

// First line of a c10d/Gloo message (their backtraces follow).
std::string first_line(const std::exception& e) {
  const auto* c10 = dynamic_cast<const c10::Error*>(&e);
  std::string text = c10 ? c10->what_without_backtrace() : e.what();
  auto nl = text.find('\n');
  return nl == std::string::npos ? text : text.substr(0, nl);
}

bool is_loopback(const std::string& host) {
  return host == "localhost" || host.rfind("127.", 0) == 0 || host == "::1";
}

uint64_t splitmix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ULL;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
  return x ^ (x >> 31);
}

}  // namespace

std::optional<LaunchEnvironment> read_launch_environment() {
  if (!env("RANK") && !env("WORLD_SIZE")) return std::nullopt;
  LaunchEnvironment e;
  e.world_size = env_int("WORLD_SIZE", 1, 1 << 20);
  e.rank = env_int("RANK", 0, e.world_size - 1);
  e.local_rank = env("LOCAL_RANK") ? env_int("LOCAL_RANK", 0, e.world_size - 1) : e.rank;
  const char* addr = env("MASTER_ADDR");
  if (!addr) fail("distributed launch: MASTER_ADDR is not set (RANK={}, WORLD_SIZE={})", e.rank, e.world_size);
  e.master_addr = addr;
  e.master_port = env_int("MASTER_PORT", 1, 65535);
  const char* agent = env("TORCHELASTIC_USE_AGENT_STORE");
  e.agent_store = agent && (std::string(agent) == "True" || std::string(agent) == "true" || std::string(agent) == "1");
  return e;
}

uint64_t rank_seed(uint64_t seed, int rank, int64_t restart_step) {
  if (rank == 0 && restart_step == 0) return seed;
  return splitmix64(seed ^ splitmix64(static_cast<uint64_t>(rank) + 1) ^ splitmix64(~static_cast<uint64_t>(restart_step)));
}

std::string parameters_fingerprint(const torch::nn::Module& model) {
  Fnv1a hash;
  for (const auto& p : model.parameters()) {
    auto cpu = p.detach().to(torch::kCPU).contiguous();
    hash.update(cpu.data_ptr(), cpu.numel() * cpu.element_size());
  }
  return hash.hex();
}

// ---- process group --------------------------------------------------------------------------

Distributed::Distributed(const LaunchEnvironment& env, const torch::Device& device, DistributedOptions options)
    : env_(env), options_(options), device_(device) {
  auto timeout = std::chrono::milliseconds(static_cast<int64_t>(options_.timeout_seconds * 1000));
  const std::string where = fmt::format("rank {} of {}, store {}:{}", env_.rank, env_.world_size, env_.master_addr,
                                        env_.master_port);
  try {
    c10d::TCPStoreOptions o;
    o.port = static_cast<uint16_t>(env_.master_port);
    o.isServer = !env_.agent_store && env_.rank == 0;  // under torchrun the agent serves the store
    if (!env_.agent_store) o.numWorkers = env_.world_size;
    o.timeout = timeout;
    // torchrun makes a new store for every restart, so one fixed prefix suffices (as torch's own).
    c10::intrusive_ptr<c10d::Store> tcp = c10::make_intrusive<c10d::TCPStore>(env_.master_addr, o);
    store_ = c10::make_intrusive<c10d::PrefixStore>("facenet", tcp);
  } catch (const std::exception& e) {
    fail("distributed ({}): cannot reach the rendezvous store within {} s: {}", where, options_.timeout_seconds,
         first_line(e));
  }
  try {
    if (device_.is_cuda()) {
      backend_name_ = "nccl";
      backend_ = make_nccl_backend(store_, env_.rank, env_.world_size, timeout);
    } else {
      backend_name_ = "gloo";
      backend_ = make_gloo_backend(store_, env_.rank, env_.world_size, timeout,
                                   is_loopback(env_.master_addr) ? "127.0.0.1" : "");
    }
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {
    fail("distributed ({}): creating the {} process group failed (did every rank start within {} s?): {}", where,
         backend_name_, options_.timeout_seconds, first_line(e));
  }
  barrier();
}

Distributed::~Distributed() = default;

void Distributed::wait(const c10::intrusive_ptr<c10d::Work>& work, const std::string& what) {
  try {
    work->wait();
  } catch (const std::exception& e) {
    fail("distributed ({} rank {} of {}): {} failed: a peer process exited or did not answer within {} s "
         "(distributed.timeout_seconds): {}",
         backend_name_, env_.rank, env_.world_size, what, options_.timeout_seconds, first_line(e));
  }
}

void Distributed::broadcast(std::vector<torch::Tensor> tensors) {
  torch::NoGradGuard no_grad;
  for (auto& t : tensors) {
    std::vector<torch::Tensor> one{t.contiguous()};
    c10d::BroadcastOptions o;
    o.rootRank = 0;
    wait(backend_->broadcast(one, o), "broadcast from rank 0");
    if (!one[0].is_same(t)) t.copy_(one[0]);
  }
}

void Distributed::all_reduce_sum(torch::Tensor& tensor) {
  std::vector<torch::Tensor> one{tensor};
  wait(backend_->allreduce(one), "all-reduce");
}

std::vector<double> Distributed::sum_over_ranks(const std::vector<double>& values) {
  auto t = torch::tensor(values, torch::kFloat64).to(device_);
  all_reduce_sum(t);
  t = t.cpu();
  return {t.data_ptr<double>(), t.data_ptr<double>() + t.numel()};
}

torch::Tensor Distributed::all_gather(const torch::Tensor& local) {
  std::vector<torch::Tensor> input{local.detach().contiguous()};
  std::vector<std::vector<torch::Tensor>> output(1);
  for (int r = 0; r < env_.world_size; ++r) output[0].push_back(torch::empty_like(input[0]));
  wait(backend_->allgather(output, input), "all-gather");
  return torch::cat(output[0]);
}

std::vector<std::string> Distributed::gather_to_main(const std::string& key, const std::string& value) {
  std::vector<std::string> out;
  std::string at = key;
  try {
    at = fmt::format("{}/{}", key, env_.rank);
    store_->set(at, std::vector<uint8_t>(value.begin(), value.end()));
    if (!is_main()) return out;
    for (int r = 0; r < env_.world_size; ++r) {
      at = fmt::format("{}/{}", key, r);
      auto bytes = store_->get(at);
      store_->deleteKey(at);
      out.emplace_back(bytes.begin(), bytes.end());
    }
  } catch (const std::exception& e) {
    fail("distributed (rank {} of {}): store key '{}': a peer process exited or did not answer within {} s "
         "(distributed.timeout_seconds): {}",
         env_.rank, env_.world_size, at, options_.timeout_seconds, first_line(e));
  }
  return out;
}

void Distributed::barrier() {
  // An all-reduce rather than Backend::barrier: NCCL's barrier has to guess a device.
  auto t = torch::ones({1}, torch::TensorOptions().device(device_));
  all_reduce_sum(t);
}

GlobalBatch gather_batch(Distributed& dist, const torch::Tensor& embeddings, const torch::Tensor& labels) {
  auto all = dist.all_gather(embeddings);
  auto parts = all.split(embeddings.size(0));
  parts[dist.rank()] = embeddings;  // this rank's rows keep their gradient path
  return {torch::cat(parts), dist.all_gather(labels), static_cast<double>(dist.world_size())};
}

// ---- gradient averaging ---------------------------------------------------------------------

GradientReducer::GradientReducer(Distributed& dist, const std::vector<torch::Tensor>& parameters, double bucket_mb)
    : dist_(dist), parameters_(parameters), slot_(parameters.size()), arrived_(parameters.size(), false) {
  const int64_t cap = std::max<int64_t>(1, static_cast<int64_t>(bucket_mb * 1024 * 1024));
  int64_t bytes = 0;  // in the open bucket
  // Reverse order: backward produces the last layers' gradients first.
  for (size_t n = parameters_.size(); n-- > 0;) {
    const auto& p = parameters_[n];
    if (!p.requires_grad()) continue;
    if (buckets_.empty() || bytes >= cap || parameters_[buckets_.back().members.front()].dtype() != p.dtype()) {
      buckets_.emplace_back();
      bytes = 0;
    }
    auto& b = buckets_.back();
    slot_[n] = {buckets_.size() - 1, b.members.size()};
    b.offsets.push_back(b.members.empty() ? 0 : b.offsets.back() + parameters_[b.members.back()].numel());
    b.members.push_back(n);
    bytes += p.numel() * static_cast<int64_t>(p.element_size());
  }
  for (auto& b : buckets_) {
    const auto& last = parameters_[b.members.back()];
    b.flat = torch::zeros({b.offsets.back() + last.numel()}, last.options().requires_grad(false));
    b.pending = b.members.size();
  }
  for (size_t n = 0; n < parameters_.size(); ++n)
    if (parameters_[n].requires_grad())
      parameters_[n].register_hook([this, n](const torch::Tensor& grad) { on_gradient(n, grad); });
}

void GradientReducer::on_gradient(size_t n, const torch::Tensor& grad) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (arrived_[n]) fail("gradient all-reduce: parameter {} received two gradients in one step", n);
  arrived_[n] = true;
  auto [bucket, member] = slot_[n];
  auto& b = buckets_[bucket];
  {
    torch::NoGradGuard no_grad;
    b.flat.narrow(0, b.offsets[member], grad.numel()).copy_(grad.reshape(-1));
  }
  if (--b.pending == 0) launch_ready();
}

// Buckets start in index order on every rank, so that collectives match across ranks.
void GradientReducer::launch_ready() {
  while (next_launch_ < buckets_.size() && buckets_[next_launch_].pending == 0) {
    std::vector<torch::Tensor> one{buckets_[next_launch_].flat};
    buckets_[next_launch_].work = dist_.backend()->allreduce(one);
    ++next_launch_;
  }
}

void GradientReducer::finish() {
  torch::NoGradGuard no_grad;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    for (auto& b : buckets_) {
      if (b.pending == 0) continue;
      for (size_t m = 0; m < b.members.size(); ++m)
        if (!arrived_[b.members[m]])
          b.flat.narrow(0, b.offsets[m], parameters_[b.members[m]].numel()).zero_();
      b.pending = 0;
    }
    launch_ready();
  }
  const double world = static_cast<double>(dist_.world_size());
  for (auto& b : buckets_) {
    dist_.wait(b.work, "gradient all-reduce");
    b.work.reset();
    b.flat.div_(world);
    for (size_t m = 0; m < b.members.size(); ++m) {
      auto& p = parameters_[b.members[m]];
      auto average = b.flat.narrow(0, b.offsets[m], p.numel()).view(p.sizes());
      if (p.grad().defined())
        p.mutable_grad().copy_(average);
      else
        p.mutable_grad() = average.clone().contiguous(p.suggest_memory_format());
    }
    b.pending = b.members.size();
  }
  std::fill(arrived_.begin(), arrived_.end(), false);
  next_launch_ = 0;
}

}  // namespace face
