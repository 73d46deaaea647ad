// Face clustering (src/deploy/cluster, the cluster tool): average linkage against scikit-learn
// and by hand, Chinese whispers on graphs whose answer is known, the FAISS neighbour graph
// against brute force, and the tool end to end on LFW photos (a group photo's two people land in
// their own clusters), with its bad input, output-folder and resume rules.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <torch/torch.h>

#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "deploy/cluster/average_linkage.h"
#include "deploy/cluster/chinese_whispers.h"
#include "deploy/cluster/cluster_method.h"
#include "deploy/cluster/cluster_threshold.h"
#include "eval/cluster_labels.h"
#include "deploy/cluster/neighbour_graph.h"
#include "deploy/gallery/search_index.h"
#include "eval/clustering_metrics.h"
#include "test_support.h"
#include "util/atomic_file.h"
#include "util/error.h"
#include "util/npy.h"
#include "vision/deployed_model.h"

using namespace face;
namespace fs = std::filesystem;

namespace {

std::string q(const fs::path& p) { return "'" + p.string() + "'"; }

struct LinkageCase {
  std::string name;
  int64_t nodes = 0;
  double threshold = 0;
  std::vector<GraphEdge> edges;
  std::vector<int64_t> labels;
  int64_t clusters = 0;
};

std::vector<LinkageCase> read_linkage_cases() {
  std::ifstream in(test::source_dir() / "tests/fixtures/clustering_fixture.txt");
  std::vector<LinkageCase> cases;
  bool in_linkage = false;
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream f(line);
    std::string key;
    f >> key;
    if (key == "case") {
      std::string kind;
      f >> kind;
      in_linkage = kind == "linkage";
      if (in_linkage) f >> cases.emplace_back().name;
    } else if (in_linkage && key == "nodes") {
      f >> cases.back().nodes;
    } else if (in_linkage && key == "threshold") {
      f >> cases.back().threshold;
    } else if (in_linkage && key == "edges") {
      for (GraphEdge e; f >> e.a >> e.b >> e.distance;) cases.back().edges.push_back(e);
    } else if (in_linkage && key == "labels") {
      for (int64_t l; f >> l;) cases.back().labels.push_back(l);
    } else if (in_linkage && key == "clusters") {
      f >> cases.back().clusters;
    }
  }
  return cases;
}

// `people` identities of `per` unit vectors each, scattered around a random centre by `noise`.
torch::Tensor identity_blobs(int64_t people, int64_t per, int64_t dim, double noise, std::vector<int64_t>& truth) {
  torch::manual_seed(3);
  auto centres = torch::nn::functional::normalize(torch::randn({people, dim}),
                                                  torch::nn::functional::NormalizeFuncOptions().dim(1));
  auto rows = centres.repeat_interleave(per, 0) + noise * torch::randn({people * per, dim});
  truth.clear();
  for (int64_t p = 0; p < people; ++p)
    for (int64_t i = 0; i < per; ++i) truth.push_back(p);
  return torch::nn::functional::normalize(rows, torch::nn::functional::NormalizeFuncOptions().dim(1));
}

}  // namespace

TEST(AverageLinkage, MatchesScikitLearnOnNeighbourGraphs) {
  auto cases = read_linkage_cases();
  ASSERT_EQ(cases.size(), 3u) << "tests/fixtures/clustering_fixture.txt missing or truncated";
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    ASSERT_EQ(static_cast<int64_t>(c.labels.size()), c.nodes);
    auto labels = average_linkage(graph_from_edges(c.nodes, c.edges), c.threshold);
    EXPECT_EQ(count_clusters(labels), c.clusters);
    auto s = score_clustering(c.labels, labels);  // the same partition, whatever the numbering
    EXPECT_DOUBLE_EQ(s.pairwise_f, 1);
    EXPECT_DOUBLE_EQ(s.bcubed_f, 1);
  }
}

TEST(AverageLinkage, MeansOverAllCrossPairsOnTheFullGraph) {
  // Points 0, 1, 5, 6 on a line (distances |x - y|): {0,1} and {5,6} merge at 1; the two pairs
  // are then (5 + 6 + 4 + 5) / 4 = 5 apart, so they merge below a threshold of 5.5, not 4.9.
  std::vector<double> x = {0, 1, 5, 6};
  std::vector<GraphEdge> edges;
  for (int64_t i = 0; i < 4; ++i)
    for (int64_t j = i + 1; j < 4; ++j) edges.push_back({i, j, std::abs(x[i] - x[j])});
  auto graph = graph_from_edges(4, edges);
  EXPECT_EQ(average_linkage(graph, 5.5), (std::vector<int64_t>{0, 0, 0, 0}));
  EXPECT_EQ(average_linkage(graph, 4.9), (std::vector<int64_t>{0, 0, 1, 1}));
  EXPECT_EQ(average_linkage(graph, 1.0), (std::vector<int64_t>{0, 1, 2, 3}));  // strictly below
  // Where the graph lacks a pair, the mean is over the pairs it has: without 0-5, 0-6 and 1-6
  // only 1-5 (4) links the pairs, so they merge below 4.5 already.
  auto sparse = graph_from_edges(4, {{0, 1, 1}, {2, 3, 1}, {1, 2, 4}});
  EXPECT_EQ(average_linkage(sparse, 4.5), (std::vector<int64_t>{0, 0, 0, 0}));
  EXPECT_EQ(average_linkage(sparse, 3.9), (std::vector<int64_t>{0, 0, 1, 1}));
}

TEST(ChineseWhispers, SeparatesCliquesAndKeepsIsolatedNodes) {
  // Two 4-cliques joined by one edge above the threshold, and node 8 alone.
  std::vector<GraphEdge> edges;
  for (int64_t base : {0, 4})
    for (int64_t i = 0; i < 4; ++i)
      for (int64_t j = i + 1; j < 4; ++j) edges.push_back({base + i, base + j, 0.2});
  edges.push_back({3, 4, 0.9});
  auto graph = graph_from_edges(9, edges);
  ChineseWhispersOptions o;
  o.threshold = 0.5;
  auto labels = chinese_whispers(graph, o);
  EXPECT_EQ(labels, (std::vector<int64_t>{0, 0, 0, 0, 1, 1, 1, 1, 2}));
  // With the bridge below the threshold each clique still ends whole (its members outvote the
  // one bridge), and node 8, with no edge at all, keeps a label of its own.
  o.threshold = 1.0;
  auto joined = chinese_whispers(graph, o);
  EXPECT_EQ(joined[8], count_clusters(joined) - 1);
  for (int64_t i = 1; i < 4; ++i) EXPECT_EQ(joined[i], joined[0]);
  for (int64_t i = 5; i < 8; ++i) EXPECT_EQ(joined[i], joined[4]);
  EXPECT_EQ(chinese_whispers(graph, o), joined);  // the same seed, the same answer
  o.iterations = 0;
  EXPECT_THROW(chinese_whispers(graph, o), Error);
}

TEST(ClusterMethod, NamesParseAndEachCutsAtTheThreshold) {
  EXPECT_EQ(parse_cluster_method("chinese-whispers"), ClusterMethod::chinese_whispers);
  EXPECT_EQ(parse_cluster_method("agglomerative"), ClusterMethod::agglomerative);
  EXPECT_EQ(to_string(ClusterMethod::agglomerative), "agglomerative");
  EXPECT_EQ(to_string(ClusterMethod::chinese_whispers), "chinese-whispers");
  try {
    parse_cluster_method("kmeans");
    ADD_FAILURE() << "an unknown method was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("'kmeans'"), std::string::npos) << e.what();
  }
  // Nodes 0, 1, 2 close together, node 3 near node 1 only. Average linkage joins {0, 1} at 0.1,
  // then 2 at their mean distance (0.2 + 0.12) / 2 = 0.16, then 3 at (2 * 0.2 + 0.9) / 3 = 0.43.
  auto graph = graph_from_edges(4, {{0, 1, 0.1}, {1, 2, 0.12}, {0, 2, 0.2}, {2, 3, 0.9}, {1, 3, 0.2}});
  ChineseWhispersOptions o;
  o.threshold = 0.15;
  EXPECT_EQ(cluster_graph(graph, ClusterMethod::agglomerative, o), (std::vector<int64_t>{0, 0, 1, 2}));
  o.threshold = 0.4;
  EXPECT_EQ(cluster_graph(graph, ClusterMethod::agglomerative, o), (std::vector<int64_t>{0, 0, 0, 1}));
  EXPECT_EQ(cluster_graph(graph, ClusterMethod::chinese_whispers, o), chinese_whispers(graph, o));
  o.threshold = 0.01;
  EXPECT_EQ(cluster_graph(graph, ClusterMethod::chinese_whispers, o), (std::vector<int64_t>{0, 1, 2, 3}));
}

TEST(ClusterLabels, ClustersBySizeLargestFirstTiesInOrderOfAppearance) {
  EXPECT_EQ(clusters_by_size({7, 3, 3, 9, 7, 3, 5}),
            (std::vector<std::vector<int64_t>>{{1, 2, 5}, {0, 4}, {3}, {6}}));
  EXPECT_TRUE(clusters_by_size({}).empty());
}

TEST(NeighbourGraph, FlatIsTheBruteForceKnnGraph) {
  torch::manual_seed(1);
  auto x = torch::randn({300, 16});
  NeighbourGraphOptions o;
  o.neighbours = 5;
  o.index = "flat";
  std::string used;
  auto graph = build_neighbour_graph(x, o, &used);
  EXPECT_EQ(graph.nodes, 300);
  std::set<std::pair<int64_t, int64_t>> expected;
  auto d = torch::cdist(x, x).pow(2);
  d.fill_diagonal_(INFINITY);
  auto nearest = std::get<1>(d.topk(5, 1, /*largest=*/false));
  for (int64_t i = 0; i < 300; ++i)
    for (int64_t j = 0; j < 5; ++j) {
      int64_t other = nearest[i][j].item<int64_t>();
      expected.insert({std::min(i, other), std::max(i, other)});
    }
  std::set<std::pair<int64_t, int64_t>> got;
  for (const auto& e : graph.edges) {
    EXPECT_LT(e.a, e.b);
    EXPECT_NEAR(e.distance, d[e.a][e.b].item<double>(), 1e-3);
    got.insert({e.a, e.b});
  }
  EXPECT_EQ(got.size(), graph.edges.size()) << "duplicate edges";
  EXPECT_EQ(got, expected);
  // Fewer rows than neighbours: every other row, once.
  EXPECT_EQ(build_neighbour_graph(x.slice(0, 0, 4), o).edges.size(), 6u);
  EXPECT_TRUE(build_neighbour_graph(x.slice(0, 0, 1), o).edges.empty());
  o.neighbours = 0;
  EXPECT_THROW(build_neighbour_graph(x, o), Error);
  o.neighbours = 5;
  o.index = "hnsw";
  EXPECT_THROW(build_neighbour_graph(x, o), Error);
}

TEST(NeighbourGraph, IvfFindsAlmostAllOfTheExactEdges) {
  if (!faiss_available()) GTEST_SKIP() << "built without FAISS";
  std::vector<int64_t> truth;
  auto x = identity_blobs(200, 10, 32, 0.05, truth);
  NeighbourGraphOptions o;
  o.neighbours = 9;
  o.index = "flat";
  auto exact = build_neighbour_graph(x, o);
  o.index = "ivf";
  std::string used;
  auto approx = build_neighbour_graph(x, o, &used);
  EXPECT_NE(used.find("IVF"), std::string::npos) << used;
  std::set<std::pair<int64_t, int64_t>> want;
  for (const auto& e : exact.edges) want.insert({e.a, e.b});
  int64_t found = 0;
  for (const auto& e : approx.edges) found += want.count({e.a, e.b});
  EXPECT_GT(double(found) / want.size(), 0.95);
}

TEST(Clustering, BothMethodsRecoverSyntheticIdentities) {
  std::vector<int64_t> truth;
  auto x = identity_blobs(60, 8, 64, 0.04, truth);  // same-person distances ~0.2, others ~2
  NeighbourGraphOptions o;
  o.neighbours = 10;
  auto graph = build_neighbour_graph(x, o);
  ChineseWhispersOptions cw;
  cw.threshold = 0.8;
  auto s = score_clustering(truth, chinese_whispers(graph, cw));
  EXPECT_DOUBLE_EQ(s.pairwise_f, 1);
  auto a = score_clustering(truth, average_linkage(graph, 0.8));
  EXPECT_DOUBLE_EQ(a.pairwise_f, 1);
  // A threshold below every same-person distance leaves only singletons.
  EXPECT_EQ(count_clusters(average_linkage(graph, 1e-6)), 480);
}

// ---- the tool ------------------------------------------------------------------------------

namespace {

// Photos of two LFW people, and one "group photo" of both side by side.
void write_collection(const fs::path& dir) {
  auto lfw = test::shared_data() / "lfw/deepfunneled";
  for (const std::string name : {"George_W_Bush", "Colin_Powell"})
    for (int i = 1; i <= 3; ++i) {
      auto file = fmt::format("{}_{:04d}.jpg", name, i);
      fs::create_directories(dir / name);
      fs::copy_file(lfw / name / file, dir / name / file);
    }
  cv::Mat left = cv::imread((lfw / "George_W_Bush/George_W_Bush_0005.jpg").string());
  cv::Mat right = cv::imread((lfw / "Colin_Powell/Colin_Powell_0005.jpg").string());
  cv::Mat group;
  cv::hconcat(left, right, group);
  fs::create_directories(dir / "group");
  ASSERT_TRUE(cv::imwrite((dir / "group/both.jpg").string(), group));
}

nlohmann::json read_json(const fs::path& p) { return nlohmann::json::parse(read_file(p)); }

std::string cluster_tool() { return test::tool("cluster").string() + " --threads 1"; }

}  // namespace

TEST(ClusterTool, GroupsLfwPeopleAndEveryFaceOfAGroupPhoto) {
  FACE_REQUIRE_SHARED_DATA();
  test::TempDir dir;
  write_collection(dir / "photos");
  // Grouping at the released model's verification threshold (is this the same person?). The
  // default threshold below is a strict-FAR one, meant for large collections: whether it keeps
  // one person's three portraits together depends on the model (the fourth release splits off
  // one Colin Powell portrait there), so this run names the threshold.
  DeployedModel released{DeployedModelOptions{}};
  auto r = test::run_command(fmt::format("{} {} --out {} --crops --truth folders --threshold {}", cluster_tool(),
                                         q(dir / "photos"), q(dir / "out"), released.threshold()));
  ASSERT_EQ(r.status, 0) << r.output;
  auto report = read_json(dir / "out/clusters.json");
  EXPECT_EQ(report["counts"]["images"], 7);
  EXPECT_EQ(report["counts"]["faces"], 8) << r.output;  // one per portrait, two in the group photo
  // Each person's faces, the group photo's included, share a cluster; the two people do not.
  std::map<std::string, std::set<int64_t>> clusters_of;
  int64_t crops = 0;
  for (const auto& c : report["clusters"])
    for (const auto& f : c["faces"]) {
      std::string image = f["image"];
      std::string who = image.find("group") != std::string::npos
                            ? (f["box"][0].get<int>() < 250 ? "George_W_Bush" : "Colin_Powell")
                            : fs::path(image).parent_path().filename().string();
      clusters_of[who].insert(c["id"].get<int64_t>());
      crops += fs::exists(dir / "out/clusters" / fmt::format("{:04d}", c["id"].get<int64_t>()) /
                          fs::path(f["crop"].get<std::string>()).filename());
    }
  EXPECT_EQ(clusters_of["George_W_Bush"].size(), 1u) << report.dump(1);
  EXPECT_EQ(clusters_of["Colin_Powell"].size(), 1u) << report.dump(1);
  EXPECT_NE(*clusters_of["George_W_Bush"].begin(), *clusters_of["Colin_Powell"].begin());
  EXPECT_EQ(crops, 8);
  EXPECT_EQ(report["run"]["scores"]["faces_scored"], 7);  // the group photo's centre face only
  EXPECT_NE(r.output.find("scores (7 faces"), std::string::npos) << r.output;

  // Without --threshold, the threshold is read off the released model's strict thresholds (its
  // metadata) at FAR 0.1 / (a handful of faces), beyond its loosest recorded FAR (1e-3), so at
  // that row; it is recorded with the run.
  auto d = test::run_command(fmt::format("{} {} --out {}", cluster_tool(), q(dir / "photos"), q(dir / "default")));
  ASSERT_EQ(d.status, 0) << d.output;
  auto by_default = read_json(dir / "default/clusters.json");
  const FarThresholds table = released.far_thresholds();
  ASSERT_FALSE(table.empty());
  EXPECT_NEAR(by_default["run"]["threshold_far"].get<double>(), 0.1 / by_default["counts"]["faces"].get<double>(), 1e-12);
  EXPECT_NEAR(by_default["run"]["threshold"].get<double>(), threshold_at_far(table, 1e-3), 1e-9);
  EXPECT_LT(by_default["run"]["threshold"].get<double>(), released.threshold());  // stricter than verification
}

TEST(ClusterTool, BadImagesAreNamedAndSkippedAndTheRunResumes) {
  FACE_REQUIRE_SHARED_DATA();
  test::TempDir dir;
  auto lfw = test::shared_data() / "lfw/deepfunneled";
  fs::create_directories(dir / "photos");
  fs::copy_file(lfw / "Aaron_Peirsol/Aaron_Peirsol_0001.jpg", dir / "photos/a.jpg");
  test::write_text(dir / "photos/broken.jpg", "not a jpeg");
  cv::Mat grey(200, 200, CV_8UC3, cv::Scalar(128, 128, 128));
  ASSERT_TRUE(cv::imwrite((dir / "photos/blank.png").string(), grey));
  std::string cmd = fmt::format("{} --method agglomerative {} --out {}", cluster_tool(), q(dir / "photos"), q(dir / "out"));
  auto r = test::run_command(cmd);
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("broken.jpg"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("no face found in '" + (dir / "photos/blank.png").string()), std::string::npos) << r.output;
  auto report = read_json(dir / "out/clusters.json");
  EXPECT_EQ(report["counts"]["faces"], 1);
  ASSERT_EQ(report["unreadable"].size(), 1u);
  EXPECT_NE(report["unreadable"][0]["image"].get<std::string>().find("broken.jpg"), std::string::npos);
  ASSERT_EQ(report["no_face"].size(), 1u);
  // The folder is the tool's own now: a second run replaces it, from the saved face pass.
  auto again = test::run_command(cmd);
  ASSERT_EQ(again.status, 0) << again.output;
  EXPECT_NE(again.output.find("resumed: 3 of 3 photos"), std::string::npos) << again.output;
  // Nothing but bad input: an error, not an empty result.
  auto none = test::run_command(fmt::format("{} {} --out {}", cluster_tool(), q(dir / "photos/broken.jpg"), q(dir / "out2")));
  EXPECT_EQ(none.status, 1) << none.output;
  EXPECT_NE(none.output.find("no face found in any of the 1 images"), std::string::npos) << none.output;
}

TEST(ClusterTool, AForeignOutputFolderNeedsOverwrite) {
  test::TempDir dir;
  test::write_text(dir / "mine/notes.txt", "the user's own file");
  std::vector<int64_t> truth;
  write_npy(dir / "e.npy", identity_blobs(5, 4, 16, 0.05, truth));
  std::string labels;
  for (int64_t t : truth) labels += fmt::format("person{}\n", t);
  test::write_text(dir / "labels.txt", labels);
  std::string base = fmt::format("{} --embeddings {} --threshold 0.5 --truth {}", cluster_tool(), q(dir / "e.npy"),
                                 q(dir / "labels.txt"));
  auto refused = test::run_command(fmt::format("{} --out {}", base, q(dir / "mine")));
  EXPECT_EQ(refused.status, 1) << refused.output;
  EXPECT_NE(refused.output.find("--overwrite"), std::string::npos) << refused.output;
  EXPECT_NE(refused.output.find((dir / "mine").string()), std::string::npos) << refused.output;
  EXPECT_FALSE(fs::exists(dir / "mine/clusters.json"));
  auto forced = test::run_command(fmt::format("{} --out {} --overwrite", base, q(dir / "mine")));
  ASSERT_EQ(forced.status, 0) << forced.output;
  EXPECT_EQ(read_file(dir / "mine/notes.txt"), "the user's own file");  // written into, not emptied
  auto report = read_json(dir / "mine/clusters.json");
  EXPECT_EQ(report["counts"]["clusters"], 5);
  EXPECT_DOUBLE_EQ(report["run"]["scores"]["pairwise"]["f"].get<double>(), 1.0);
  // A file given as --out is never replaced.
  test::write_text(dir / "file.txt", "x");
  auto file = test::run_command(fmt::format("{} --out {} --overwrite", base, q(dir / "file.txt")));
  EXPECT_EQ(file.status, 1) << file.output;
  EXPECT_EQ(read_file(dir / "file.txt"), "x");
  // A truth file of the wrong length is named.
  test::write_text(dir / "short.txt", "a\nb\n");
  auto bad = test::run_command(fmt::format("{} --embeddings {} --threshold 0.5 --truth {} --out {}", cluster_tool(),
                                           q(dir / "e.npy"), q(dir / "short.txt"), q(dir / "o3")));
  EXPECT_EQ(bad.status, 1) << bad.output;
  EXPECT_NE(bad.output.find("short.txt' has 2 labels, but there are 20 faces"), std::string::npos) << bad.output;
}

TEST(ClusterTool, BadOptionsExitWith2) {
  test::TempDir dir;
  for (std::string opts : {"--threshold nan", "--threshold 5", "--far 0.9", "--far 1e-4 --threshold 0.2", "--neighbours 0",
                           "--method kmeans", "--index hnsw", "--upsample 9"}) {
    auto r = test::run_command(fmt::format("{} x.jpg --out {} {}", cluster_tool(), q(dir / "o"), opts));
    EXPECT_EQ(r.status, 2) << opts << ": " << r.output;
  }
  auto neither = test::run_command(fmt::format("{} --out {}", cluster_tool(), q(dir / "o")));
  EXPECT_EQ(neither.status, 2) << neither.output;
  EXPECT_FALSE(fs::exists(dir / "o"));
}

TEST(ClusterThreshold, InterpolatesTheModelsTableInLogFarAndClampsAtItsEnds) {
  const FarThresholds table = {{1e-3, 0.40}, {1e-5, 0.10}, {1e-4, 0.20}};  // any order
  bool clamped = true;
  EXPECT_DOUBLE_EQ(threshold_at_far(table, 1e-4, &clamped), 0.20);
  EXPECT_FALSE(clamped);
  // Halfway in log10 between 1e-4 and 1e-3: halfway between 0.20 and 0.40.
  EXPECT_NEAR(threshold_at_far(table, std::sqrt(1e-7), &clamped), 0.30, 1e-12);
  EXPECT_NEAR(threshold_at_far(table, 1e-5 * std::pow(10.0, 0.25)), 0.125, 1e-12);
  EXPECT_DOUBLE_EQ(threshold_at_far(table, 1e-7, &clamped), 0.10);  // stricter than the table: its strictest row
  EXPECT_TRUE(clamped);
  EXPECT_DOUBLE_EQ(threshold_at_far(table, 0.05, &clamped), 0.40);
  EXPECT_TRUE(clamped);
  EXPECT_THROW(threshold_at_far({}, 1e-4), Error);
  EXPECT_THROW(threshold_at_far(table, 0.0), Error);
}

TEST(ClusterThreshold, TheDefaultTightensAsTheCollectionGrows) {
  const FarThresholds table = {{1e-3, 0.40}, {1e-4, 0.20}, {1e-5, 0.10}};
  // 1,000 faces: FAR 1e-4; 10,000: 1e-5; between them, in between.
  ClusterThreshold small = default_cluster_threshold(table, 1000), large = default_cluster_threshold(table, 10000);
  EXPECT_NEAR(small.far, 1e-4, 1e-15);
  EXPECT_NEAR(small.threshold, 0.20, 1e-9);
  EXPECT_NEAR(large.threshold, 0.10, 1e-9);
  EXPECT_FALSE(large.clamped);
  ClusterThreshold mid = default_cluster_threshold(table, 3000);
  EXPECT_GT(mid.threshold, large.threshold);
  EXPECT_LT(mid.threshold, small.threshold);
  EXPECT_TRUE(default_cluster_threshold(table, 1000000).clamped);
  // A FAR given by the user wins over the collection's size.
  EXPECT_NEAR(default_cluster_threshold(table, 1000000, 1e-3).threshold, 0.40, 1e-12);
  EXPECT_THROW(default_cluster_threshold(table, 0), Error);
}
