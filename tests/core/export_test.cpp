// TorchScript export: the file computes what the C++ model computes (in C++ and in Python's
// torch), at any batch size, carries its metadata, and works through load_embedder.
#include <gtest/gtest.h>
#include <torch/script.h>
#include <torch/torch.h>

#include <nlohmann/json.hpp>

#include "deploy/export.h"
#include "model/embedder.h"
#include "model/model_file.h"
#include "test_support.h"
#include "util/error.h"
#include "util/npy.h"

using namespace face;

namespace {
ExportOptions options() {
  ExportOptions o;
  o.threshold = 0.99;
  o.align_recipe = "test recipe";
  o.training_run = "run-123";
  o.source = "unit test";
  return o;
}
}  // namespace

TEST(Export, LoadedInCppMatchesTheModelAtAnyBatchSize) {
  test::TempDir dir;
  Nn4 model(Nn4Options("nn4.small2").seed(7));
  auto metadata = export_model(model, dir / "m.pt", options());
  EXPECT_EQ(metadata["weights_fingerprint"], weights_fingerprint(*model));

  torch::jit::Module loaded = torch::jit::load((dir / "m.pt").string());
  loaded.eval();
  // Real parameters, reachable by name: not constants folded into the graph.
  EXPECT_EQ(loaded.parameters().size(), model->parameters().size());
  torch::NoGradGuard no_grad;
  for (int64_t m : {1, 5}) {
    auto x = torch::rand({m, 3, 96, 96});
    auto want = model->forward(x);
    auto got = loaded.forward({x}).toTensor();
    ASSERT_EQ(got.sizes(), want.sizes());
    EXPECT_LE((got - want).abs().max().item<double>(), 1e-5) << "batch " << m;
  }
  EXPECT_EQ(loaded.attr("arch").toStringRef(), "nn4.small2");
  EXPECT_EQ(loaded.attr("embedding_dim").toInt(), 128);
  EXPECT_EQ(loaded.attr("input_size").toInt(), 96);
  EXPECT_DOUBLE_EQ(loaded.attr("threshold").toDouble(), 0.99);
  EXPECT_EQ(loaded.attr("align_recipe").toStringRef(), "test recipe");
  EXPECT_EQ(loaded.attr("training_run").toStringRef(), "run-123");
  auto json = nlohmann::json::parse(read_export_metadata_json(dir / "m.pt"));
  EXPECT_EQ(json["threshold"].get<double>(), 0.99);
  EXPECT_EQ(json["embedding_dim"], 128);
  EXPECT_EQ(json["training_run"], "run-123");
  EXPECT_TRUE(json["export_info"].contains("commit"));
}

TEST(Export, EmbedderFromExportEqualsEmbedderFromModelFile) {
  test::TempDir dir;
  Nn4 model(Nn4Options("nn4.small2").embedding_dim(64).seed(3));
  save_model_file(dir / "ckpt.pt", model);
  export_model(model, dir / "m.pt", options());
  auto a = load_embedder(dir / "ckpt.pt", torch::kCPU);
  auto b = load_embedder(dir / "m.pt", torch::kCPU);
  auto images = torch::randint(0, 256, {3, 3, 96, 96}, torch::kUInt8);
  EXPECT_LE((a->embed(images) - b->embed(images)).abs().max().item<double>(), 1e-5);
  EXPECT_EQ(a->fingerprint(), b->fingerprint());  // galleries accept either
  EXPECT_EQ(b->embedding_dim(), 64);
  EXPECT_EQ(b->metadata("threshold"), "0.99");
  EXPECT_EQ(b->metadata("arch"), "nn4.small2");
}

TEST(Export, LoadedInPythonTorchMatchesTheCppModel) {
  auto python = test::source_dir() / ".venv/bin/python";
  if (!std::filesystem::exists(python)) GTEST_SKIP() << "no " << python << " (run tools/setup.sh)";
  test::TempDir dir;
  Nn4 model(Nn4Options("nn4.small2").seed(11));
  export_model(model, dir / "m.pt", options());
  auto x = torch::rand({3, 3, 96, 96});
  torch::NoGradGuard no_grad;
  write_npy(dir / "x.npy", x.reshape({3, -1}));
  write_npy(dir / "y.npy", model->forward(x));
  auto r = test::run_command(fmt::format("{} {} {} {} {}", python.string(),
                                         (test::source_dir() / "tests/python/check_export.py").string(),
                                         (dir / "m.pt").string(), (dir / "x.npy").string(), (dir / "y.npy").string()));
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("arch nn4.small2 threshold 0.99"), std::string::npos) << r.output;
}

TEST(Export, ProgramReadsThresholdFromEvaluateReportAndNamesBadInput) {
  test::TempDir dir;
  Nn4 model(Nn4Options("nn4.small2").seed(1));
  save_model_file(dir / "ckpt.pt", model);
  const std::string fp = weights_fingerprint(*model);
  auto with_model = [&](const std::string& fingerprint, const std::string& rest) {
    return fmt::format(R"({{"model": {{"fingerprint": "{}"}}, {}}})", fingerprint, rest);
  };
  test::write_text(dir / "eval.json", with_model(fp, R"("best_threshold": 1.07, "accuracy": 0.5)"));
  std::string exe = test::tool("export").string();
  auto ok = test::run_command(fmt::format("{} --checkpoint {} --out {} --report {} --threads 1", exe,
                                          (dir / "ckpt.pt").string(), (dir / "m.pt").string(),
                                          (dir / "eval.json").string()));
  ASSERT_EQ(ok.status, 0) << ok.output;
  EXPECT_DOUBLE_EQ(torch::jit::load((dir / "m.pt").string()).attr("threshold").toDouble(), 1.07);

  // evaluate's own layout: the threshold inside "metrics", with its distance.
  test::write_text(dir / "eval2.json", with_model(fp, R"("metrics": {"distance": "l2", "best_threshold": 0.93})"));
  ok = test::run_command(fmt::format("{} --checkpoint {} --out {} --report {} --threads 1", exe,
                                     (dir / "ckpt.pt").string(), (dir / "m.pt").string(), (dir / "eval2.json").string()));
  ASSERT_EQ(ok.status, 0) << ok.output;
  EXPECT_DOUBLE_EQ(torch::jit::load((dir / "m.pt").string()).attr("threshold").toDouble(), 0.93);
  EXPECT_FALSE(torch::jit::load((dir / "m.pt").string()).hasattr("far_thresholds"));  // the report has none

  // The strict thresholds of the report travel into the export, as [[far, threshold], ...].
  test::write_text(dir / "eval3.json",
                   with_model(fp, R"("metrics": {"distance": "l2", "best_threshold": 0.93},
                                     "impostor_thresholds": {"impostor_pairs": 1000000, "at": [
                                       {"far_target": 0.001, "threshold": 0.31, "accepted": 1000},
                                       {"far_target": 0.0001, "threshold": 0.22, "accepted": 100}]})"));
  ok = test::run_command(fmt::format("{} --checkpoint {} --out {} --report {} --threads 1", exe,
                                     (dir / "ckpt.pt").string(), (dir / "m8.pt").string(), (dir / "eval3.json").string()));
  ASSERT_EQ(ok.status, 0) << ok.output;
  auto table = nlohmann::json::parse(torch::jit::load((dir / "m8.pt").string()).attr("far_thresholds").toStringRef());
  EXPECT_EQ(table, nlohmann::json::parse("[[0.001, 0.31], [0.0001, 0.22]]")) << table.dump();
  test::write_text(dir / "eval4.json", with_model(fp, R"("metrics": {"best_threshold": 0.93},
                                                         "impostor_thresholds": {"at": [{"far_target": 0.001, "threshold": 7}]})"));
  auto bad_table = test::run_command(fmt::format("{} --checkpoint {} --out {} --report {}", exe, (dir / "ckpt.pt").string(),
                                                 (dir / "m9.pt").string(), (dir / "eval4.json").string()));
  EXPECT_NE(bad_table.status, 0);
  EXPECT_NE(bad_table.output.find("strict threshold 7"), std::string::npos) << bad_table.output;
  EXPECT_FALSE(std::filesystem::exists(dir / "m9.pt"));
  test::write_text(dir / "cos.json", with_model(fp, R"("metrics": {"distance": "cosine", "best_threshold": 0.4})"));
  auto cosine = test::run_command(fmt::format("{} --checkpoint {} --out {} --report {}", exe,
                                              (dir / "ckpt.pt").string(), (dir / "m5.pt").string(),
                                              (dir / "cos.json").string()));
  EXPECT_NE(cosine.status, 0);
  EXPECT_NE(cosine.output.find("cosine"), std::string::npos) << cosine.output;

  // A report of other weights, or one that names none, never lends its threshold.
  test::write_text(dir / "other.json", with_model("0123456789abcdef", R"("metrics": {"best_threshold": 0.9})"));
  auto other = test::run_command(fmt::format("{} --checkpoint {} --out {} --report {}", exe, (dir / "ckpt.pt").string(),
                                             (dir / "m6.pt").string(), (dir / "other.json").string()));
  EXPECT_NE(other.status, 0);
  EXPECT_NE(other.output.find("other weights"), std::string::npos) << other.output;
  EXPECT_NE(other.output.find(fp), std::string::npos) << other.output;
  test::write_text(dir / "bare.json", R"({"best_threshold": 1.07})");
  auto bare = test::run_command(fmt::format("{} --checkpoint {} --out {} --report {}", exe, (dir / "ckpt.pt").string(),
                                            (dir / "m7.pt").string(), (dir / "bare.json").string()));
  EXPECT_NE(bare.status, 0);
  EXPECT_NE(bare.output.find("fingerprint"), std::string::npos) << bare.output;

  test::write_text(dir / "bad.json", with_model(fp, R"("accuracy": 0.5)"));
  auto no_key = test::run_command(fmt::format("{} --checkpoint {} --out {} --report {}", exe, (dir / "ckpt.pt").string(),
                                              (dir / "m2.pt").string(), (dir / "bad.json").string()));
  EXPECT_NE(no_key.status, 0);
  EXPECT_NE(no_key.output.find("best_threshold"), std::string::npos) << no_key.output;

  auto no_threshold = test::run_command(
      fmt::format("{} --checkpoint {} --out {}", exe, (dir / "ckpt.pt").string(), (dir / "m3.pt").string()));
  EXPECT_NE(no_threshold.status, 0);
  EXPECT_NE(no_threshold.output.find("--threshold"), std::string::npos) << no_threshold.output;

  test::write_text(dir / "junk.pt", "not a checkpoint");
  auto junk = test::run_command(fmt::format("{} --checkpoint {} --out {} --threshold 1", exe,
                                            (dir / "junk.pt").string(), (dir / "m4.pt").string()));
  EXPECT_NE(junk.status, 0);
  EXPECT_NE(junk.output.find("junk.pt"), std::string::npos) << junk.output;
  for (auto never : {"m2.pt", "m3.pt", "m4.pt", "m5.pt", "m6.pt", "m7.pt"}) EXPECT_FALSE(std::filesystem::exists(dir / never)) << never;
}

TEST(Export, NonTorchScriptFileIsNamedWhenReadingMetadata) {
  test::TempDir dir;
  test::write_text(dir / "x.pt", "garbage");
  EXPECT_THROW(read_export_metadata_json(dir / "x.pt"), Error);
  EXPECT_THROW(read_export_metadata_json(dir / "absent.pt"), Error);
}
