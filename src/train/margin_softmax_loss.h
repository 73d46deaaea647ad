// margin_softmax_loss.h: CosFace and ArcFace, the margin-softmax alternative to the triplet loss.
//
// The embedding is trained as a classifier over the training identities. Identity c owns a
// learned centre w_c (row c of the class-centre matrix W, classes x D, held by the trainer and
// checkpointed with the run, never exported). With unit embeddings x and unit centres,
// cos(theta_c) = <x, w_c / |w_c|>; the true identity y's logit is penalised by a margin, every
// logit is multiplied by the scale s, and softmax cross-entropy follows:
//
//   CosFace (Wang et al. 2018)   logit_y = s (cos(theta_y) - m)          m ~ 0.35 (a cosine)
//   ArcFace (Deng et al. 2019)   logit_y = s cos(theta_y + m)            m ~ 0.5  (radians)
//   other classes                logit_c = s cos(theta_c)
//
// ArcFace's cos(theta + m) is not monotonic once theta + m passes pi, so a sample far from its
// centre would be pushed the wrong way. As InsightFace does, for theta > pi - m the target logit
// falls back to the CosFace-like s (cos(theta_y) - m sin(m)) (cos(theta + m) to first order in m,
// so the logit keeps falling as theta grows); with easy_margin the margin applies only where
// cos(theta_y) > 0 (elsewhere the plain cosine).
// m = 0 reduces both to the normalised softmax (NormFace). s sets how peaked the softmax can
// become on the unit sphere: too small and the loss cannot fall, too large and early gradients
// are a few saturated classes.
#pragma once
#include <torch/types.h>

#include <string>

namespace face {

enum class MarginKind { cosface, arcface };

struct MarginSoftmaxOptions {
  MarginKind kind = MarginKind::cosface;
  double margin = 0.35;
  double scale = 30;
  bool easy_margin = false;  // ArcFace only
};

struct MarginSoftmaxTerms {
  torch::Tensor loss;           // scalar: mean cross-entropy
  torch::Tensor logits;         // (B, classes), after margin and scale
  torch::Tensor target_cosine;  // scalar: mean cos(theta_y), before the margin
  torch::Tensor target_angle;   // scalar: mean theta_y in degrees
  torch::Tensor accuracy;       // scalar: fraction whose nearest centre is their own (no margin)
};

// `embeddings` (B, D) (normalised here), `centres` (classes, D) (normalised here), `classes`
// (B) int64 in [0, classes).
MarginSoftmaxTerms margin_softmax_loss(const torch::Tensor& embeddings, const torch::Tensor& centres,
                                       const torch::Tensor& classes, const MarginSoftmaxOptions& options);

// A fresh class-centre matrix (classes, D): N(0, 0.01) from LibTorch's default generator (so the
// run's seed decides it), a leaf tensor that requires grad.
torch::Tensor initial_class_centres(int64_t classes, int64_t dim, const torch::Device& device);

// Prototype centres (loss.softmax.centres: prototype), for budgets with few visits per class.
// A P x K batch holds P of the training identities, so 40,000 CelebA images visit each of its
// 3,298 classes about three times. Centres learned by gradient then fail: every step pushes all
// centres away from the batch's faces while the pull toward a class's own faces comes a few
// times in a run, and Adam rescales both to steps of the same size, so the centres stay
// near-orthogonal to their faces and the loss stays at its random-start value (the CosFace run in
// experiments/nn4-cpu-ablation). Prototype centres are instead running means of each class's unit
// embeddings, as centre loss (Wen et al. 2016) moves its centres and weight imprinting (Qi et al.
// 2018) sets them. After the loss of each visit
//   w_c <- unit(momentum w_c + (1 - momentum) unit(mean of the batch's embeddings of class c))
// and a first visit sets w_c to that unit mean. A class not yet visited has a zero centre (cosine
// 0 to every face). The optimiser does not train prototype centres. The update comes after the
// loss: a centre that already holds the batch's own faces sits at a tiny angle from them, where
// ArcFace's cos(theta + m) has a steep slope toward theta = 0, and the embeddings collapse.
struct ClassSums {
  torch::Tensor sums;    // (classes, D): sum of the unit embeddings of each class in the batch
  torch::Tensor counts;  // (classes, 1): how many of each class
};
// Sums of the batch's unit `embeddings` (B, D) by `classes` (B, int64), detached. Separate from
// the update so that data-parallel ranks can add theirs before every rank applies the same update.
ClassSums class_sums(const torch::Tensor& embeddings, const torch::Tensor& classes, int64_t num_classes);
// The update above, in place, for the classes with a count and finite sums (a non-finite batch
// leaves the centres as they were).
void update_prototype_centres(torch::Tensor& centres, const ClassSums& batch, double momentum);
// Prototype centres before any visit: zeros (classes, D), not requiring grad.
torch::Tensor initial_prototype_centres(int64_t classes, int64_t dim, const torch::Device& device);

// Teacher centres (loss.softmax.centres: teacher), after MarginDistillation (Svitov and
// Alyamkin 2020): each class's mean teacher vector, normalised, fixed for the run. The student is
// pulled toward where the teacher puts the class from its first step, however rarely the class
// is visited. `teacher_rows` (N, D) unit rows of the training images, `classes` (N) their class.
torch::Tensor teacher_class_centres(const torch::Tensor& teacher_rows, const torch::Tensor& classes, int64_t num_classes);

// "cosface" / "arcface" -> the kind; throws face::Error for anything else.
MarginKind margin_kind(const std::string& name);

}  // namespace face
