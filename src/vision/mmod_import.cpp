// Reading mmod_human_face_detector.dat (vision/mmod_detector.h) with vision/dlib_stream.h.
//
// How dlib nests a network in the file (dlib/dnn/core.h): add_loss_layer writes its version, the
// loss details and then the network below it; each add_layer writes its version, then the
// network below it, then its own layer details and training state. So the file holds the loss,
// then every layer's version (output first), then the input layer, then the layers' details in
// forward order (input first).
#include <fstream>
#include <iterator>

#include "util/error.h"
#include "vision/dlib_stream.h"
#include "vision/mmod_detector.h"
#include "vision/registry_model_file.h"

namespace face {
namespace fs = std::filesystem;

namespace {

constexpr int kMaxLayers = 1000;  // a corrupt file must not make the version scan run away

torch::Tensor to_tensor(const float* values, std::vector<int64_t> shape) {
  return torch::from_blob(const_cast<float*>(values), shape, torch::kFloat32).clone();
}

// mmod_options (dlib/dnn/loss.h, versions 1-4): one detector window, no bounding box regression.
void read_mmod_options(DlibStream& in, MmodConfig& config) {
  int64_t version = in.integer("mmod_options version");
  if (version < 1 || version > 4) in.fail_at(fmt::format("unknown mmod_options version {}", version));
  if (version == 1) {
    config.window_width = static_cast<int>(in.unsigned_integer("detector window width"));
    config.window_height = static_cast<int>(in.unsigned_integer("detector window height"));
  } else {
    uint64_t windows = in.unsigned_integer("detector window count");
    if (windows != 1) in.fail_at(fmt::format("{} detector windows (this reader supports one)", windows));
    int64_t window_version = in.integer("detector window version");
    config.window_width = static_cast<int>(in.unsigned_integer("detector window width"));
    config.window_height = static_cast<int>(in.unsigned_integer("detector window height"));
    if (window_version == 2) in.string("detector window label");
  }
  in.floating("loss_per_false_alarm");
  in.floating("loss_per_missed_target");
  in.floating("truth_match_iou_threshold");
  config.nms_iou = in.floating("overlaps_nms iou");
  config.nms_covered = in.floating("overlaps_nms covered");
  in.floating("overlaps_ignore iou");
  in.floating("overlaps_ignore covered");
  if (version >= 3 && in.byte("assume_image_pyramid") != 1) in.fail_at("a detector without an image pyramid");
  if (version >= 4) {
    if (in.boolean("use_bounding_box_regression")) in.fail_at("bounding box regression (unsupported)");
    in.floating("bbr_lambda");
  }
  if (config.window_width < 1 || config.window_height < 1 || !(config.nms_iou >= 0 && config.nms_iou <= 1))
    in.fail_at("implausible mmod_options");
}

void read_input_layer(DlibStream& in, MmodConfig& config) {
  std::string name = in.string("input layer");
  if (name != "input_rgb_image_pyramid" && name != "input_rgb_image_pyramid2")
    in.fail_at(fmt::format("input layer '{}' (expected input_rgb_image_pyramid)", name));
  for (auto& m : config.mean_rgb) m = static_cast<float>(in.floating("input mean"));
  if (name == "input_rgb_image_pyramid2") {
    config.pyramid_padding = static_cast<int>(in.unsigned_integer("pyramid_padding"));
    config.pyramid_outer_padding = static_cast<int>(in.unsigned_integer("pyramid_outer_padding"));
  }  // else dlib's defaults, 10 and 11, as MmodConfig starts
}

// con_ versions 4 and 5 (dlib/dnn/layers.h): params = filters (out, in, rows, cols) then biases.
void read_conv(DlibStream& in, const std::string& version, MmodNet& net, int64_t& channels) {
  DlibTensor params = in.tensor("convolution parameters");
  int64_t filters = in.integer("num_filters");
  MmodNetImpl::Conv g{};
  g.kernel_rows = static_cast<int>(in.integer("filter rows"));
  g.kernel_cols = static_cast<int>(in.integer("filter columns"));
  g.stride_y = static_cast<int>(in.integer("stride_y"));
  g.stride_x = static_cast<int>(in.integer("stride_x"));
  g.padding_y = static_cast<int>(in.integer("padding_y"));
  g.padding_x = static_cast<int>(in.integer("padding_x"));
  auto shape = in.alias("filters");
  in.alias("biases");
  for (int i = 0; i < 4; ++i) in.floating("learning-rate and weight-decay multipliers");
  bool bias = version == "con_5" ? in.boolean("use_bias") : true;
  int64_t weights = shape[0] * shape[1] * shape[2] * shape[3];
  if (shape[0] != filters || shape[1] != channels || shape[2] != g.kernel_rows || shape[3] != g.kernel_cols ||
      g.stride_y < 1 || g.stride_x < 1 || g.padding_y < 0 || g.padding_x < 0 ||
      static_cast<int64_t>(params.values.size()) != weights + (bias ? filters : 0))
    in.fail_at(fmt::format("convolution of {} filters {}x{}x{} on {} channels does not fit its {} parameters",
                           filters, shape[1], shape[2], shape[3], channels, params.values.size()));
  auto w = to_tensor(params.values.data(), {shape[0], shape[1], shape[2], shape[3]});
  auto b = bias ? to_tensor(params.values.data() + weights, {filters}) : torch::zeros({filters});
  net->add_conv(w, b, g);
  channels = filters;
}

// bn_con2: frozen into dlib's affine_ (affine_(const bn_&)): scale = gamma / sqrt(var + eps).
void read_batch_norm(DlibStream& in, MmodNet& net, int64_t channels) {
  DlibTensor params = in.tensor("batch norm parameters");
  in.alias("gamma");
  in.alias("beta");
  in.tensor("means");
  in.tensor("invstds");
  DlibTensor mean = in.tensor("running_means");
  DlibTensor var = in.tensor("running_variances");
  in.unsigned_integer("num_updates");
  in.unsigned_integer("running_stats_window_size");
  for (int i = 0; i < 4; ++i) in.floating("learning-rate and weight-decay multipliers");
  double eps = in.floating("eps");
  auto n = static_cast<size_t>(channels);
  if (params.values.size() != 2 * n || mean.values.size() != n || var.values.size() != n)
    in.fail_at(fmt::format("batch norm of {} values after {} channels", params.values.size(), channels));
  auto gamma = to_tensor(params.values.data(), {channels});
  auto beta = to_tensor(params.values.data() + n, {channels});
  auto scale = gamma / (to_tensor(var.values.data(), {channels}) + static_cast<float>(eps)).sqrt();
  net->add_affine(scale, beta - to_tensor(mean.values.data(), {channels}) * scale);
}

// affine_ and affine_2: params = gamma then beta; mode 0 is CONV_MODE (one value per channel).
void read_affine(DlibStream& in, const std::string& version, MmodNet& net, int64_t channels) {
  DlibTensor params = in.tensor("affine parameters");
  in.alias("gamma");
  in.alias("beta");
  int64_t mode = in.integer("affine mode");
  bool disabled = version == "affine_2" && in.boolean("disabled");
  if (disabled) return;
  auto n = static_cast<size_t>(channels);
  if (mode != 0 || params.values.size() != 2 * n)
    in.fail_at(fmt::format("affine layer (mode {}) of {} values after {} channels", mode, params.values.size(), channels));
  net->add_affine(to_tensor(params.values.data(), {channels}), to_tensor(params.values.data() + n, {channels}));
}

// add_layer's state after the details (dlib/dnn/core.h); the layer on the input has its own form.
void skip_layer_state(DlibStream& in, int64_t version, bool on_input) {
  in.boolean("this_layer_setup_called");
  in.boolean("gradient_input_is_stale");
  in.boolean("get_output_and_gradient_input_disabled");
  in.tensor("x_grad");
  in.tensor("cached_output");
  if (on_input) {
    in.tensor("grad_final");
    if (version >= 3) in.unsigned_integer("sample_expansion_factor");
  } else if (version == 2) {
    in.tensor("params_grad");
  }
}

}  // namespace

fs::path find_mmod_file(const std::string& explicit_path) {
  return find_registry_model_file(kMmodFile, "MMOD face detector", "FACE_MMOD_MODEL", explicit_path);
}

MmodModel import_mmod(const fs::path& dat) {
  std::error_code ec;
  if (!fs::is_regular_file(dat, ec)) fail("MMOD face detector '{}' does not exist", dat.string());
  std::ifstream file(dat, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
  if (!file.good() && !file.eof()) fail("MMOD face detector '{}' cannot be read", dat.string());
  DlibStream in(bytes, "MMOD face detector '" + dat.string() + "'");

  MmodModel model{MmodNet(), MmodConfig()};
  if (in.integer("loss layer version") != 1 || in.string("loss layer") != "loss_mmod_")
    in.fail_at("not a dlib loss_mmod network");
  read_mmod_options(in, model.config);
  std::vector<int64_t> versions;  // output first
  while (!in.next_string_starts_with("input_")) {
    versions.push_back(in.integer("layer version"));
    if (versions.back() < 1 || versions.back() > 3 || versions.size() > kMaxLayers) in.fail_at("bad layer version");
  }
  if (versions.empty()) in.fail_at("a network without layers");
  read_input_layer(in, model.config);
  int64_t channels = 3;
  for (size_t i = 0; i < versions.size(); ++i) {
    int64_t version = versions[versions.size() - 1 - i];
    std::string name = in.string("layer name");
    if (name == "con_4" || name == "con_5")
      read_conv(in, name, model.net, channels);
    else if (name == "bn_con2")
      read_batch_norm(in, model.net, channels);
    else if (name == "affine_" || name == "affine_2")
      read_affine(in, name, model.net, channels);
    else if (name == "relu_")
      model.net->add_relu();
    else
      in.fail_at(fmt::format("layer '{}' (this reader knows con_, bn_con2, affine_ and relu_)", name.substr(0, 40)));
    skip_layer_state(in, version, i == 0);
  }
  if (!in.at_end()) in.fail_at("data after the network");
  if (channels != 1) in.fail_at(fmt::format("the network ends in {} channels, expected 1 (one detector window)", channels));
  model.net->eval();
  return model;
}

}  // namespace face
