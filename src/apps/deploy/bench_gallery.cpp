// bench_gallery: 1:K search over synthetic galleries (build time, memory, latency of single and
// batched queries, recall against exact search) for each index kind, and enrolment throughput
// into an SQLite gallery.
//
//   bench_gallery [--sizes 10000,100000,1000000] [--indexes exact,exact-fp16,exact-torch,ivf,hnsw]
//                 [--data clustered|faces|uniform] [--images-per-identity 5] [--spread 0.6]
//                 [--faces-pack experiments/data/celeba-chip.pack]
//                 [--queries 200] [--repeats 3] [--nprobe 16,64] [--ef-search 64] [--hnsw-max-rows N]
//                 [--dim 128] [--device cpu] [--threads N] [--seed 0] [--out report.json]
//
// Data. `clustered` (the default) has the structure of face embeddings: identities with unit
// centres, random in D dimensions; each gallery row is one image of an identity, its centre plus
// Gaussian noise, renormalised, `--images-per-identity` per identity; each query is a fresh image
// of a random gallery identity. The noise is set so that two images of one identity lie
// `--spread` apart in squared L2 on average (0.6 by default, like a face model's genuine pairs
// under a threshold near 1); the measured genuine and impostor distances are reported.
// Isotropic noise in all D dimensions is the hard case for an approximate index; real face
// embeddings have a much lower intrinsic dimension. `faces` draws identities as a real model's
// are spread: from a pack and its teacher targets (--faces-pack; real faces' embeddings by
// identity, train/teacher_targets.h), new identity centres ~ N(mean, covariance) of the real
// identities' mean embeddings, and each image is its centre plus the deviation of a random real
// image from its own identity's mean (scaled by sqrt(n / (n - 1)), undoing the shrinkage of a
// mean over n images), renormalised. The centres' covariance still holds 1/n of the
// within-identity spread, so identities come out slightly further apart than the real ones.
// `uniform`: rows and queries uniform on the sphere, with no structure (every neighbour almost
// equally far: the hard case for approximate indexes, and no model's output).
//
// Figures. Single queries (batch 1): median, 95th percentile and best over --queries calls.
// Batched: all queries in one call, --repeats times: median and best per query. Memory: bytes
// the index holds (bytes()) and the process's resident-set growth over the build, and its peak
// over the build (VmHWM reset through /proc/self/clear_refs where allowed). recall@1: share of
// queries whose nearest row is exact search's (a different row at the same distance counts);
// recall@10: share of exact search's 10 nearest found; identity@1: share whose nearest row is
// an image of the query's own identity. Exact search is the `exact` index.
#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <ATen/CPUGeneratorImpl.h>
#include <nlohmann/json.hpp>

#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <functional>
#include <chrono>
#include <fstream>
#include <torch/torch.h>

#include "apps/cli_checks.h"
#include "deploy/gallery/gallery.h"
#include "deploy/gallery/search_index.h"
#include "train/teacher_targets.h"
#include "util/atomic_file.h"
#include "util/device.h"
#include "util/error.h"
#include "util/memory.h"
#include "util/run_info.h"
#include "util/threads.h"

namespace {

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

torch::Tensor normalise(const torch::Tensor& x) { return x / x.norm(2, 1, true); }

struct Data {
  torch::Tensor gallery, identity_of_row, probes, probe_identity;  // identities: -1 for uniform data
  double genuine = 0, impostor = 0;  // mean squared L2: two images of one identity / of two
};

// How real identities are spread (the `faces` data kind): the mean and a Cholesky factor of the
// covariance of identity centres, and the pool of images' deviations from their centre.
struct FaceSpread {
  torch::Tensor mean, centre_factor, deviations;  // float (D), (D, D), (M, D)
};

FaceSpread face_spread(const std::filesystem::path& pack_path) {
  auto pack = face::load_pack(pack_path);
  auto rows = normalise(face::targets_for_pack(face::default_targets_path(pack_path), pack)).to(torch::kFloat64);
  const int64_t n = rows.size(0), dim = rows.size(1), ids = static_cast<int64_t>(pack.identities.size());
  auto count = torch::zeros({ids}, torch::kFloat64).index_add_(0, pack.labels, torch::ones({n}, torch::kFloat64));
  auto centre = torch::zeros({ids, dim}, torch::kFloat64).index_add_(0, pack.labels, rows) /
                count.clamp_min(1).unsqueeze(1);
  auto row_count = count.index_select(0, pack.labels);
  auto several = row_count >= 2;  // a lone image has no deviation to learn from
  auto deviations = (rows - centre.index_select(0, pack.labels)) *
                    (row_count / (row_count - 1).clamp_min(1)).sqrt().unsqueeze(1);
  auto centres = centre.index({count >= 2});
  if (centres.size(0) < 2 * dim)
    face::fail("'{}' has {} identities with two or more images: too few to estimate the spread of {}-d centres",
               pack_path.string(), centres.size(0), dim);
  auto mean = centres.mean(0);
  auto centred = centres - mean;
  auto covariance = centred.t().mm(centred) / static_cast<double>(centres.size(0) - 1);
  auto factor = torch::linalg_cholesky(covariance + 1e-9 * torch::eye(dim, torch::kFloat64));
  return {mean.to(torch::kFloat32), factor.to(torch::kFloat32), deviations.index({several}).to(torch::kFloat32)};
}

Data make_data(const std::string& kind, int64_t n, int64_t dim, int64_t per, double spread, int64_t queries,
               const FaceSpread& faces, at::Generator& gen) {
  Data d;
  if (kind == "uniform") {
    d.gallery = normalise(torch::randn({n, dim}, gen));
    d.probes = normalise(torch::randn({queries, dim}, gen));
    d.identity_of_row = torch::full({n}, -1, torch::kInt64);
    d.probe_identity = torch::full({queries}, -1, torch::kInt64);
    return d;
  }
  const int64_t ids = (n + per - 1) / per;
  torch::Tensor centres;
  std::function<torch::Tensor(const torch::Tensor&)> image_of;  // identities -> one image each
  if (kind == "faces") {
    if (faces.mean.size(0) != dim) face::fail("--dim {} differs from the faces' embeddings ({})", dim, faces.mean.size(0));
    centres = faces.mean + torch::randn({ids, dim}, gen).mm(faces.centre_factor.t());
    image_of = [&](const torch::Tensor& who) {
      auto pick = torch::randint(0, faces.deviations.size(0), {who.size(0)}, gen, torch::kInt64);
      return normalise(centres.index_select(0, who) + faces.deviations.index_select(0, pick));
    };
  } else {
    // x = normalise(c + e), e ~ N(0, s^2 I): two such images of unit c are 2 - 2 / (1 + D s^2)
    // apart in squared L2 (for large D), so s^2 = spread / ((2 - spread) D).
    const double s = std::sqrt(spread / ((2 - spread) * static_cast<double>(dim)));
    centres = normalise(torch::randn({ids, dim}, gen));
    image_of = [&](const torch::Tensor& who) {
      return normalise(centres.index_select(0, who) + s * torch::randn({who.size(0), dim}, gen));
    };
  }
  d.identity_of_row = torch::arange(n, torch::kInt64).div(per, "floor");
  d.gallery = image_of(d.identity_of_row);
  d.probe_identity = torch::randint(0, ids, {queries}, gen, torch::kInt64);
  d.probes = image_of(d.probe_identity);
  auto some = torch::arange(std::min<int64_t>(ids, 1000), torch::kInt64);
  auto pair = image_of(some), twin = image_of(some);
  d.genuine = (pair - twin).pow(2).sum(1).mean().item<double>();
  d.impostor = (pair - twin.roll(1, 0)).pow(2).sum(1).mean().item<double>();
  return d;
}

// Resets the kernel's peak-RSS mark, so VmHWM afterwards is the peak since now; false if refused.
bool reset_peak_memory() {
  std::ofstream f("/proc/self/clear_refs");
  f << "5";
  f.flush();
  return static_cast<bool>(f);
}

struct Stats {
  double median, p95, best;
};
Stats stats(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return {v[v.size() / 2], v[std::min(v.size() - 1, v.size() * 95 / 100)], v[0]};
}

struct Timed {
  Stats single_ms, batched_ms;  // per query
  face::RowHits hits;           // of the batched call: (Q, k)
};

Timed time_index(const face::SearchIndex& index, const torch::Tensor& probes, int64_t k, int64_t repeats) {
  const int64_t q = probes.size(0);
  for (int64_t i = 0; i < std::min<int64_t>(3, q); ++i) index.search(probes.slice(0, i, i + 1), k);  // warm caches
  std::vector<double> single, batched;
  for (int64_t i = 0; i < q; ++i) {
    auto t = Clock::now();
    index.search(probes.slice(0, i, i + 1), k);
    single.push_back(1000 * seconds_since(t));
  }
  Timed out;
  for (int64_t r = 0; r < repeats; ++r) {
    auto t = Clock::now();
    out.hits = index.search(probes, k);
    batched.push_back(1000 * seconds_since(t) / static_cast<double>(q));
  }
  out.single_ms = stats(single);
  out.batched_ms = stats(batched);
  return out;
}

struct Quality {
  double recall1, recall10, identity1;
};
// Against `exact`, the exact index's hits over the same probes.
Quality quality(const face::RowHits& exact, const face::RowHits& got, const Data& data) {
  const int64_t q = exact.rows.size(0), k = std::min<int64_t>(10, exact.rows.size(1));
  auto er = exact.rows.accessor<int64_t, 2>(), gr = got.rows.accessor<int64_t, 2>();
  auto ed = exact.distances.accessor<float, 2>(), gd = got.distances.accessor<float, 2>();
  auto own = data.identity_of_row.accessor<int64_t, 1>();
  auto truth = data.probe_identity.accessor<int64_t, 1>();
  int64_t top1 = 0, found = 0, identity = 0;
  for (int64_t i = 0; i < q; ++i) {
    top1 += (gr[i][0] == er[i][0] || std::abs(gd[i][0] - ed[i][0]) <= 1e-6f * std::max(1.f, ed[i][0])) ? 1 : 0;
    for (int64_t a = 0; a < k; ++a)
      for (int64_t b = 0; b < k; ++b) found += er[i][a] == gr[i][b] ? 1 : 0;
    identity += gr[i][0] >= 0 && truth[i] >= 0 && own[gr[i][0]] == truth[i] ? 1 : 0;
  }
  return {static_cast<double>(top1) / q, static_cast<double>(found) / (q * k), static_cast<double>(identity) / q};
}

std::string efforts_label(const std::string& kind, int64_t effort) {
  if (kind == "ivf" || kind == "faiss") return fmt::format("nprobe {}", effort);
  if (kind == "hnsw") return fmt::format("efSearch {}", effort);
  return "";
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Benchmark gallery search (every index kind) and enrolment"};
  std::vector<int64_t> sizes = {10000, 100000, 1000000}, nprobes = {16, 64}, ef_searches = {64};
  std::vector<std::string> kinds = {"exact", "exact-fp16", "exact-torch", "ivf", "hnsw"};
  int64_t queries = 200, dim = 128, enrol_people = 300, per = 5, repeats = 3, hnsw_max_rows = 100000;
  double spread = 0.6;
  uint64_t seed = 0;
  std::string device_name = "cpu", out, data_kind = "clustered", faces_pack = "experiments/data/celeba-chip.pack";
  int threads = 0;
  face::FaissOptions faiss;
  app.add_option("--sizes", sizes, "gallery sizes")->delimiter(',')->check(CLI::Range(int64_t(1), int64_t(100000000)));
  app.add_option("--indexes", kinds, "index kinds to measure (exact is always measured: it is the reference)")
      ->delimiter(',')->check(CLI::IsMember(face::index_kinds()));
  app.add_option("--data", data_kind, "clustered (isotropic identities), faces (identities spread like real ones) or uniform")
      ->capture_default_str()->check(CLI::IsMember({"clustered", "faces", "uniform"}));
  app.add_option("--faces-pack", faces_pack, "faces: the pack whose teacher targets give the real spread")
      ->capture_default_str();
  app.add_option("--images-per-identity", per, "clustered: gallery images per identity")->capture_default_str()
      ->check(CLI::Range(1, 10000));
  app.add_option("--spread", spread, "clustered: mean squared L2 between two images of one identity")
      ->capture_default_str()->check(face::cli::finite(0.01, 1.9));
  app.add_option("--queries", queries, "queries per size")->capture_default_str()->check(face::cli::count());
  app.add_option("--repeats", repeats, "timed batched calls")->capture_default_str()->check(CLI::Range(1, 1000));
  app.add_option("--dim", dim, "embedding size")->capture_default_str()->check(CLI::Range(1, 4096));
  app.add_option("--nprobe", nprobes, "IVF cells visited per query (each measured)")->delimiter(',')
      ->check(CLI::Range(1, 65536));
  app.add_option("--nlist", faiss.nlist, "IVF cells (0 = about sqrt(N))")->capture_default_str()->check(CLI::Range(0, 1 << 20));
  app.add_option("--ef-search", ef_searches, "HNSW candidates per query (each measured)")->delimiter(',')
      ->check(CLI::Range(1, 65536));
  app.add_option("--hnsw-m", faiss.hnsw_m, "HNSW links per node")->capture_default_str()->check(CLI::Range(2, 512));
  app.add_option("--ef-construction", faiss.ef_construction, "HNSW candidates per insertion")->capture_default_str()
      ->check(CLI::Range(1, 65536));
  app.add_option("--hnsw-max-rows", hnsw_max_rows, "build HNSW only up to this gallery size (minutes per 1M rows)")
      ->capture_default_str()->check(face::cli::count(0));
  app.add_option("--enrol-people", enrol_people, "people (of 5 images) enrolled for the throughput figure")
      ->capture_default_str()->check(face::cli::count(0));
  app.add_option("--device", device_name, "device for exact-torch")->capture_default_str();
  app.add_option("--threads", threads, "intra-op threads (0 = all cores)")->capture_default_str()->check(face::cli::threads());
  app.add_option("--seed", seed, "seed of the synthetic data")->capture_default_str();
  app.add_option("--out", out, "JSON report");
  FACE_PARSE_OPTIONS(app, argc, argv);

  try {
    int used_threads = face::configure_threads(threads);
    torch::Device device = face::parse_device(device_name);
    auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
    const int64_t k = 10;
    FaceSpread faces;
    if (data_kind == "faces") faces = face_spread(faces_pack);
    nlohmann::json report = {{"run_info", face::run_info()}, {"threads", used_threads}, {"device", device.str()},
                             {"dim", dim}, {"queries", queries}, {"repeats", repeats}, {"seed", seed},
                             {"data", data_kind}, {"faces_pack", data_kind == "faces" ? faces_pack : ""},
                             {"images_per_identity", per}, {"spread", spread},
                             {"search", nlohmann::json::array()}};
    std::vector<std::string> order = {"exact"};  // the reference first
    for (const auto& kind : kinds)
      if (kind != "exact" && std::find(order.begin(), order.end(), kind) == order.end()) order.push_back(kind);
    fmt::print("{:>8} {:>34} {:>8} {:>8} {:>8} | {:>7} {:>7} {:>7} | {:>8} {:>7} | {:>6} {:>6} {:>6}\n", "gallery",
               "index", "build s", "MB held", "MB peak", "1q med", "1q p95", "1q best", "batch/q", "best", "rec@1",
               "rec@10", "id@1");
    for (int64_t n : sizes) {
      Data data = make_data(data_kind, n, dim, per, spread, queries, faces, gen);
      if (data_kind != "uniform")
        fmt::print("{} rows, {} images per identity: genuine pairs {:.3f}, impostors {:.3f} apart (squared L2)\n", n,
                   per, data.genuine, data.impostor);
      nlohmann::json size_row = {{"gallery", n}, {"genuine_d2", data.genuine}, {"impostor_d2", data.impostor},
                                 {"indexes", nlohmann::json::array()}};
      face::RowHits exact_hits;
      for (const auto& kind : order) {
        if (kind == "hnsw" && n > hnsw_max_rows) {
          fmt::print("{:>8} {:>34} not built (gallery above --hnsw-max-rows {})\n", n, kind, hnsw_max_rows);
          continue;
        }
        auto index = face::make_index(kind, kind == "exact-torch" ? device : torch::Device(torch::kCPU), faiss);
        double rss0 = face::resident_memory_mb();
        bool peak_reset = reset_peak_memory();
        auto t = Clock::now();
        index->build(data.gallery);
        double build_s = seconds_since(t);
        double grown_mb = face::resident_memory_mb() - rss0, peak_mb = face::peak_resident_memory_mb() - rss0;
        std::vector<int64_t> efforts = {0};
        if (kind == "ivf" || kind == "faiss") efforts = nprobes;
        if (kind == "hnsw") efforts = ef_searches;
        for (int64_t effort : efforts) {
          if (effort > 0) index->set_search_effort(effort);
          Timed tm = time_index(*index, data.probes, k, repeats);
          if (kind == "exact") exact_hits = tm.hits;
          Quality qa = quality(exact_hits, tm.hits, data);
          std::string label = index->name();
          fmt::print("{:>8} {:>34} {:>8.2f} {:>8.1f} {:>8.1f} | {:>7.3f} {:>7.3f} {:>7.3f} | {:>8.4f} {:>7.4f} | "
                     "{:>6.3f} {:>6.3f} {:>6.3f}\n",
                     n, label, build_s, index->bytes() / 1048576.0, peak_mb, tm.single_ms.median, tm.single_ms.p95,
                     tm.single_ms.best, tm.batched_ms.median, tm.batched_ms.best, qa.recall1, qa.recall10,
                     qa.identity1);
          size_row["indexes"].push_back(
              {{"kind", kind}, {"index", label}, {"effort", efforts_label(kind, effort)}, {"build_s", build_s},
               {"bytes", index->bytes()}, {"rss_growth_mb", grown_mb},
               {"build_peak_mb", peak_reset ? nlohmann::json(peak_mb) : nlohmann::json("unavailable")},
               {"single_ms", {{"median", tm.single_ms.median}, {"p95", tm.single_ms.p95}, {"best", tm.single_ms.best}}},
               {"batched_ms_per_query", {{"median", tm.batched_ms.median}, {"best", tm.batched_ms.best}}},
               {"recall_at_1", qa.recall1}, {"recall_at_10", qa.recall10}, {"identity_at_1", qa.identity1}});
        }
      }
      report["search"].push_back(size_row);
    }

    // Enrolment: one transaction (and fsync) per person of 5 images, as identify enroll-dir does.
    auto path = std::filesystem::temp_directory_path() / fmt::format("bench_gallery_{}.db", ::getpid());
    {
      face::Gallery g(path, face::GalleryModel{"bench", dim, "synthetic"});
      auto rows = normalise(torch::randn({enrol_people * 5, dim}, gen));
      std::vector<std::string> sources = {"1", "2", "3", "4", "5"};
      auto t = Clock::now();
      for (int64_t p = 0; p < enrol_people; ++p)
        g.enroll(fmt::format("person{}", p), sources, rows.slice(0, 5 * p, 5 * p + 5));
      double s = seconds_since(t);
      t = Clock::now();
      auto contents = g.load();
      double load = seconds_since(t);
      fmt::print("enrolment: {} people x 5 embeddings in {:.2f} s = {:.1f} people/s, {:.0f} embeddings/s; "
                 "loading the gallery back {:.1f} ms\n",
                 enrol_people, s, enrol_people / s, 5 * enrol_people / s, 1000 * load);
      report["enrolment"] = {{"people", enrol_people}, {"images_per_person", 5}, {"seconds", s},
                             {"people_per_second", enrol_people / s}, {"embeddings_per_second", 5 * enrol_people / s},
                             {"load_ms", 1000 * load}};
    }
    for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(path.string() + suffix);
    if (!out.empty()) face::write_file_atomic(out, report.dump(2) + "\n");
    return 0;
  } catch (const std::exception& e) {
    fmt::print(stderr, "bench_gallery: error: {}\n", e.what());
    return 1;
  }
}
