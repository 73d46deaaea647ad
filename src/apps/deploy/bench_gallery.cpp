// bench_gallery: query latency of exact and FAISS search over synthetic galleries, FAISS's
// recall against exact search, and enrolment throughput into an SQLite gallery.
//
//   bench_gallery [--sizes 10000,100000,1000000] [--queries 200] [--dim 128] [--nprobe 16]
//                 [--enrol-people 300] [--device cpu] [--threads N] [--seed 0] [--out report.json]
//
// Synthetic embeddings: each gallery row is an identity centre (random unit vector) plus noise,
// renormalised; each query is a fresh noisy view of a random gallery identity, so it has a true
// nearest neighbour as real probes do (uniform random vectors would make every neighbour almost
// equally far and tell little about real galleries). Latency is per single query (batch 1),
// median and 95th percentile; recall@k is the share of exact search's k nearest that FAISS returns.
#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <ATen/CPUGeneratorImpl.h>
#include <nlohmann/json.hpp>

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <torch/torch.h>

#include "apps/cli_checks.h"
#include "deploy/gallery/gallery.h"
#include "deploy/gallery/search_index.h"
#include "util/atomic_file.h"
#include "util/error.h"
#include "util/device.h"
#include "util/run_info.h"
#include "util/threads.h"

namespace {

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

torch::Tensor normalise(const torch::Tensor& x) { return x / x.norm(2, 1, true); }

struct Latency {
  double median_ms, p95_ms;
};

Latency time_queries(const face::SearchIndex& index, const torch::Tensor& queries, int64_t k,
                     std::vector<torch::Tensor>* rows) {
  std::vector<double> ms;
  for (int64_t i = 0; i < queries.size(0); ++i) {
    auto t = Clock::now();
    auto hits = index.search(queries.slice(0, i, i + 1), k);
    ms.push_back(1000 * seconds_since(t));
    if (rows) rows->push_back(hits.rows);
  }
  std::sort(ms.begin(), ms.end());
  return {ms[ms.size() / 2], ms[std::min(ms.size() - 1, ms.size() * 95 / 100)]};
}

double recall(const std::vector<torch::Tensor>& exact, const std::vector<torch::Tensor>& approx, int64_t k) {
  int64_t found = 0, total = 0;
  for (size_t q = 0; q < exact.size(); ++q) {
    auto e = exact[q].slice(1, 0, k), a = approx[q].slice(1, 0, k);
    for (int64_t i = 0; i < k; ++i) found += (a == e[0][i]).any().item<bool>() ? 1 : 0;
    total += k;
  }
  return static_cast<double>(found) / static_cast<double>(total);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Benchmark gallery search (exact vs FAISS) and enrolment"};
  std::vector<int64_t> sizes = {10000, 100000, 1000000};
  int64_t queries = 200, dim = 128, enrol_people = 300;
  uint64_t seed = 0;
  std::string device_name = "cpu", out;
  int threads = 0;
  face::FaissOptions faiss;
  app.add_option("--sizes", sizes, "gallery sizes")->delimiter(',');
  app.add_option("--queries", queries, "single queries timed per size")->capture_default_str()->check(face::cli::count());
  app.add_option("--dim", dim, "embedding size")->capture_default_str()->check(CLI::Range(1, 4096));
  app.add_option("--nprobe", faiss.nprobe, "FAISS cells visited per query")->capture_default_str()->check(CLI::Range(1, 65536));
  app.add_option("--nlist", faiss.nlist, "FAISS cells (0 = about sqrt(N))")->capture_default_str()->check(CLI::Range(0, 1 << 20));
  app.add_option("--enrol-people", enrol_people, "people (of 5 images) enrolled for the throughput figure")
      ->capture_default_str()->check(face::cli::count(0));
  app.add_option("--device", device_name, "device for exact search")->capture_default_str();
  app.add_option("--threads", threads, "intra-op threads (0 = all cores)")->capture_default_str()->check(face::cli::threads());
  app.add_option("--seed", seed, "seed of the synthetic data")->capture_default_str();
  app.add_option("--out", out, "JSON report");
  FACE_PARSE_OPTIONS(app, argc, argv);

  try {
    int used_threads = face::configure_threads(threads);
    torch::Device device = face::parse_device(device_name);
    auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
    nlohmann::json report = {{"run_info", face::run_info()},
                             {"threads", used_threads}, {"device", device.str()}, {"dim", dim},
                             {"queries", queries}, {"seed", seed}, {"search", nlohmann::json::array()}};
    fmt::print("{:>9} {:>22} {:>10} {:>10} {:>10} {:>9} {:>9}\n", "gallery", "index", "build s", "median ms",
               "p95 ms", "recall@1", "recall@10");
    for (int64_t n : sizes) {
      const float noise = 0.6f / std::sqrt(static_cast<float>(dim));
      auto gallery = normalise(torch::randn({n, dim}, gen));
      auto truth = torch::randint(0, n, {queries}, gen, torch::kInt64);
      auto probes = normalise(gallery.index_select(0, truth) + noise * torch::randn({queries, dim}, gen));

      auto exact = face::make_exact_index(device);
      auto t = Clock::now();
      exact->build(gallery);
      double exact_build = seconds_since(t);
      std::vector<torch::Tensor> exact_rows;
      Latency le = time_queries(*exact, probes, 10, &exact_rows);
      double true_top1 = 0;
      for (int64_t q = 0; q < queries; ++q) true_top1 += exact_rows[q][0][0].item<int64_t>() == truth[q].item<int64_t>();
      fmt::print("{:>9} {:>22} {:>10.2f} {:>10.3f} {:>10.3f} {:>9} {:>9}\n", n, exact->name(), exact_build, le.median_ms,
                 le.p95_ms, "1", "1");
      nlohmann::json row = {{"gallery", n}, {"exact", {{"index", exact->name()}, {"build_s", exact_build},
                                                       {"median_ms", le.median_ms}, {"p95_ms", le.p95_ms},
                                                       {"true_identity_top1", true_top1 / queries}}}};
      if (face::faiss_available()) {
        auto approx = face::make_faiss_index(faiss);
        t = Clock::now();
        approx->build(gallery);
        double build = seconds_since(t);
        std::vector<torch::Tensor> approx_rows;
        Latency la = time_queries(*approx, probes, 10, &approx_rows);
        double r1 = recall(exact_rows, approx_rows, 1), r10 = recall(exact_rows, approx_rows, 10);
        fmt::print("{:>9} {:>22} {:>10.2f} {:>10.3f} {:>10.3f} {:>9.3f} {:>9.3f}\n", n, approx->name(), build,
                   la.median_ms, la.p95_ms, r1, r10);
        row["faiss"] = {{"index", approx->name()}, {"build_s", build}, {"median_ms", la.median_ms},
                        {"p95_ms", la.p95_ms}, {"recall_at_1", r1}, {"recall_at_10", r10}};
      }
      report["search"].push_back(row);
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
