#include "vision/dlib_resnet_import.h"

#include <dlib/dnn.h>
#include <fmt/ranges.h>
#include <torch/torch.h>

#include <type_traits>

#include "data/normalisation.h"
#include "model/memory_format.h"
#include "model/model_file.h"
#include "util/error.h"
#include "vision/face_aligner.h"
#include "vision/registry_model_file.h"

namespace face {
namespace fs = std::filesystem;

namespace {

// dlib's network type for this file, as dnn_face_recognition_ex.cpp declares it (facts, so that
// dlib's deserializer accepts the file; the LibTorch module mirrors it in dlib_resnet.h).
template <template <int, template <typename> class, int, typename> class block, int N,
          template <typename> class BN, typename SUBNET>
using residual = dlib::add_prev1<block<N, BN, 1, dlib::tag1<SUBNET>>>;
template <template <int, template <typename> class, int, typename> class block, int N,
          template <typename> class BN, typename SUBNET>
using residual_down =
    dlib::add_prev2<dlib::avg_pool<2, 2, 2, 2, dlib::skip1<dlib::tag2<block<N, BN, 2, dlib::tag1<SUBNET>>>>>>;
template <int N, template <typename> class BN, int stride, typename SUBNET>
using block = BN<dlib::con<N, 3, 3, 1, 1, dlib::relu<BN<dlib::con<N, 3, 3, stride, stride, SUBNET>>>>>;
template <int N, typename SUBNET>
using ares = dlib::relu<residual<block, N, dlib::affine, SUBNET>>;
template <int N, typename SUBNET>
using ares_down = dlib::relu<residual_down<block, N, dlib::affine, SUBNET>>;
template <typename SUBNET> using alevel0 = ares_down<256, SUBNET>;
template <typename SUBNET> using alevel1 = ares<256, ares<256, ares_down<256, SUBNET>>>;
template <typename SUBNET> using alevel2 = ares<128, ares<128, ares_down<128, SUBNET>>>;
template <typename SUBNET> using alevel3 = ares<64, ares<64, ares<64, ares_down<64, SUBNET>>>>;
template <typename SUBNET> using alevel4 = ares<32, ares<32, ares<32, SUBNET>>>;
using anet_type = dlib::loss_metric<dlib::fc_no_bias<
    128, dlib::avg_pool_everything<alevel0<alevel1<alevel2<alevel3<alevel4<dlib::max_pool<
             3, 3, 2, 2,
             dlib::relu<dlib::affine<dlib::con<32, 7, 7, 2, 2, dlib::input_rgb_image_sized<150>>>>>>>>>>>>>;

template <class T, class = void> struct is_conv : std::false_type {};
template <class T> struct is_conv<T, std::void_t<decltype(std::declval<T&>().num_filters())>> : std::true_type {};
template <class T, class = void> struct is_affine : std::false_type {};
template <class T> struct is_affine<T, std::void_t<decltype(std::declval<T&>().get_gamma())>> : std::true_type {};
template <class T, class = void> struct is_fc : std::false_type {};
template <class T> struct is_fc<T, std::void_t<decltype(std::declval<T&>().get_num_outputs())>> : std::true_type {};

torch::Tensor to_torch(const dlib::tensor& t) {
  return torch::from_blob(const_cast<float*>(t.host()), {static_cast<int64_t>(t.size())}, torch::kFloat32).clone();
}

anet_type read_network(const fs::path& dat) {
  std::error_code ec;
  if (!fs::is_regular_file(dat, ec)) fail("dlib face model '{}' does not exist", dat.string());
  anet_type net;
  try {
    dlib::deserialize(dat.string()) >> net;
  } catch (const std::exception& e) {
    fail("dlib face model '{}' cannot be read (truncated, corrupt, or not dlib's ResNet face model): {}", dat.string(),
         e.what());
  }
  return net;
}

}  // namespace

fs::path find_dlib_resnet_file(const std::string& explicit_path) {
  return find_registry_model_file(kDlibResNetFile, "dlib face model", "FACE_TEACHER_MODEL", explicit_path);
}

DlibResNet import_dlib_resnet(const fs::path& dat) {
  anet_type net = read_network(dat);
  // Computational layers come output first; collected, then reversed into forward order.
  std::vector<torch::Tensor> conv_weights, conv_biases, scales, shifts;
  std::vector<std::array<long, 4>> conv_shapes;
  torch::Tensor fc;
  long fc_inputs = 0, fc_outputs = 0;
  dlib::visit_computational_layers(net, [&](auto& layer) {
    using L = std::decay_t<decltype(layer)>;
    if constexpr (is_conv<L>::value) {
      auto all = to_torch(layer.get_layer_params());
      long out = layer.num_filters(), weights = all.numel() - out;
      long in = weights / (out * layer.nr() * layer.nc());
      conv_weights.push_back(all.slice(0, 0, weights));
      conv_biases.push_back(all.slice(0, weights));
      conv_shapes.push_back({out, in, layer.nr(), layer.nc()});
    } else if constexpr (is_affine<L>::value) {
      auto g = layer.get_gamma(), b = layer.get_beta();
      scales.push_back(torch::from_blob(const_cast<float*>(g.host()), {long(g.size())}, torch::kFloat32).clone());
      shifts.push_back(torch::from_blob(const_cast<float*>(b.host()), {long(b.size())}, torch::kFloat32).clone());
    } else if constexpr (is_fc<L>::value) {
      fc = to_torch(layer.get_layer_params());
      fc_outputs = static_cast<long>(layer.get_num_outputs());
      fc_inputs = fc.numel() / std::max(1L, fc_outputs);
    }
  });
  std::reverse(conv_weights.begin(), conv_weights.end());
  std::reverse(conv_biases.begin(), conv_biases.end());
  std::reverse(conv_shapes.begin(), conv_shapes.end());
  std::reverse(scales.begin(), scales.end());
  std::reverse(shifts.begin(), shifts.end());

  DlibResNet model;
  auto layers = model->layers();
  if (conv_weights.size() != layers.convs.size() || scales.size() != layers.affines.size() || !fc.defined())
    fail("dlib face model '{}': {} convolutions and {} affine layers, expected {} and {}", dat.string(),
         conv_weights.size(), scales.size(), layers.convs.size(), layers.affines.size());
  torch::NoGradGuard no_grad;
  for (size_t i = 0; i < conv_weights.size(); ++i) {
    auto& w = layers.convs[i]->weight;
    const auto& s = conv_shapes[i];
    if (w.size(0) != s[0] || w.size(1) != s[1] || w.size(2) != s[2] || w.size(3) != s[3])
      fail("dlib face model '{}': convolution {} is {}x{}x{}x{}, expected {}", dat.string(), i, s[0], s[1], s[2], s[3],
           fmt::format("{}", fmt::join(w.sizes(), "x")));
    w.copy_(conv_weights[i].view(w.sizes()));  // dlib's filters are (out, in, rows, cols), as LibTorch's
    layers.convs[i]->bias.copy_(conv_biases[i]);
    layers.affines[i]->scale.copy_(scales[i]);
    layers.affines[i]->shift.copy_(shifts[i]);
  }
  auto& head = model->head->weight;  // (128, 256); dlib stores (inputs, outputs) and computes x * W
  if (fc_inputs != head.size(1) || fc_outputs != head.size(0))
    fail("dlib face model '{}': final layer is {} -> {}, expected {} -> {}", dat.string(), fc_inputs, fc_outputs,
         head.size(1), head.size(0));
  head.copy_(fc.view({fc_inputs, fc_outputs}).t());
  const auto& input = dlib::input_layer(net);
  model->mean_rgb.copy_(torch::tensor({input.get_avg_red(), input.get_avg_green(), input.get_avg_blue()}));
  model->eval();
  return model;
}

AlignOptions dlib_resnet_align_options() {
  AlignOptions chip;
  chip.templ = AlignTemplate::dlib_chip;
  chip.size = kDlibChipSize;
  chip.chip_padding = kDlibChipPadding;
  return chip;
}

std::unique_ptr<Embedder> dlib_resnet_embedder(const fs::path& dat, const torch::Device& device, Precision precision) {
  DlibResNet model = import_dlib_resnet(dat);
  std::map<std::string, std::string> metadata = {{"arch", kDlibResNetName},
                                                 {"align_recipe", dlib_resnet_align_options().recipe()},
                                                 {"input_size", std::to_string(kDlibChipSize)},
                                                 {"embedding_dim", "128"},
                                                 {"weights_fingerprint", weights_fingerprint(*model)}};
  return module_embedder(model.ptr(), [model](const torch::Tensor& x) mutable { return model->forward(x); },
                         std::move(metadata), device, "dlib-resnet " + dat.string(), precision);
}

torch::Tensor dlib_reference_embed(const fs::path& dat, const std::vector<cv::Mat>& chips, int batch) {
  anet_type net = read_network(dat);
  torch::Tensor out = torch::empty({static_cast<int64_t>(chips.size()), 128});
  auto rows = out.accessor<float, 2>();
  for (size_t start = 0; start < chips.size(); start += batch) {
    std::vector<dlib::matrix<dlib::rgb_pixel>> images;
    for (size_t i = start; i < std::min(chips.size(), start + batch); ++i) {
      const cv::Mat& c = chips[i];
      if (c.type() != CV_8UC3) fail("chip {} is not 8-bit RGB", i);
      dlib::matrix<dlib::rgb_pixel> m(c.rows, c.cols);
      for (int r = 0; r < c.rows; ++r)
        for (int col = 0; col < c.cols; ++col) {
          auto p = c.at<cv::Vec3b>(r, col);
          m(r, col) = dlib::rgb_pixel(p[0], p[1], p[2]);
        }
      images.push_back(std::move(m));
    }
    auto descriptors = net(images);
    for (size_t k = 0; k < descriptors.size(); ++k)
      for (long j = 0; j < 128; ++j) rows[static_cast<int64_t>(start + k)][j] = descriptors[k](j);
  }
  return out;
}

}  // namespace face
