// Model-agnostic attribution by removing features: exact Shapley values,
// permutation sampling, KernelSHAP, feature ablation and occlusion.
//
// These methods need nothing but forward passes, so they explain any
// TorchScript model, including non-differentiable ones.
//
// The value function. Input elements are grouped into players (see
// players.h; by default each element is one player). For an input row x and
// a coalition S of players, v(S) is the model's target output with the
// elements of the players in S taken from x and all other elements from a
// background row b, averaged over the k background rows (the interventional
// value function of SHAP's KernelExplainer). A one-row background is a single
// baseline, e.g. zeros. v(all players) = f(x), and v(no player) = the mean
// output over the background, which is the reported base value.
//
// Common contract of the classes below:
//  - The constructor validates the options once and throws InvalidArgument
//    with a message of the form "invalid <option>: <value> (<requirement>)".
//    The background fixes the input row shape, so players are checked
//    against it there too.
//  - The explainer holds its own copy of the Model (a cheap handle).
//  - attribute() evaluates coalitions in forward passes of at most
//    `max_batch` model rows (coalitions x background rows), on the model's
//    device in the model's dtype, without gradients. v(S) is accumulated in
//    float64; regression and enumeration run in float64 on the CPU. Results
//    do not depend on max_batch beyond floating-point rounding.
//  - A player whose elements equal those of every background row cannot
//    change v: its value is exactly 0 and it is left out of the
//    enumeration, the permutations and the regression of that input row.
//  - Returned tensors live on the CPU, float64 for a float64 model and
//    float32 otherwise. Per-element values are player values divided by the
//    player's element count (see players.h); the player values, and the
//    standard errors of sampled methods, come in PlayerAttribution.
//  - completeness_gap = sum of values - (f(x) - base value). It is at
//    rounding level for exact Shapley, permutation sampling (each
//    permutation's contributions telescope) and KernelSHAP (the regression
//    is constrained); ablation and occlusion are not complete and report
//    their gap as it is.
//  - v(all players) and v(no player) are known from f(x) and the
//    background's outputs, which every method computes first, so no method
//    evaluates those two coalitions again.
//  - model_evaluations counts the model rows of the method's own passes
//    (including f(x) and the background's outputs); the one-row shape check
//    of detail::prepare_input is not counted.
//  - attribute() is const and keeps no state between calls, so it may be
//    called from several threads at once. Random draws come from a CPU
//    generator seeded with `seed` on every call, consumed input row after
//    input row: a result is the same on every call and device, but a row's
//    draws depend on its position in the batch.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <string>
#include <vector>

#include "xai/attribution/attribution.h"
#include "xai/attribution/players.h"
#include "xai/model.h"

namespace xai {

// An Attribution together with the values of the players it was computed
// for.
struct PlayerAttribution {
  // values [rows, T, ...input row shape]: player value / member count.
  Attribution attribution;
  // [rows, T, P], CPU, the dtype of attribution.values.
  torch::Tensor player_values;
  // Standard error of each player value, [rows, T, P]; undefined for exact
  // methods (exact Shapley, KernelSHAP, ablation). Divide by the member
  // count for the error of a per-element value.
  torch::Tensor standard_errors;
  // One name per player (Players::name()).
  std::vector<std::string> player_names;
};

// A method that assigns values to players.
class PlayerExplainer : public Explainer {
 public:
  // Explains `x` [rows, ...]; see the contract above.
  virtual PlayerAttribution explain(const torch::Tensor& x,
                                    const Target& target) const = 0;
  // explain(x, target).attribution.
  Attribution attribute(const torch::Tensor& x,
                        const Target& target) const override;
};

// ---------------------------------------------------------------------------
// Exact Shapley values by enumerating every coalition:
//   phi_i = sum over S in N \ {i} of |S|! (P - |S| - 1)! / P!
//           * (v(S + i) - v(S)).

struct ExactShapleyOptions {
  // Reference rows [k, ...input row shape], k >= 1, any device and dtype.
  // Required: no default.
  torch::Tensor background;
  // Players. Default: each element its own player.
  Players players;
  // Most players accepted: an input row costs 2^P - 2 coalitions, i.e.
  // about 2^P * k model rows (about 10^6 * k at the default). Must be in
  // [1, 30]. Default: 20.
  int64_t max_players = 20;
  // Most model rows per forward pass. Must be >= 1. Default: 4096.
  int64_t max_batch = 4096;
};

class ExactShapley : public PlayerExplainer {
 public:
  // Throws InvalidArgument for a missing or empty background, players that
  // do not fit its row shape, and more players than max_players:
  // "cannot run exact Shapley on 30 players: more than max_players 20 (2^30
  // coalitions per row); use kernelshap or permutation, or group features
  // into at most 20 players".
  ExactShapley(Model model, ExactShapleyOptions options);

  PlayerAttribution explain(const torch::Tensor& x,
                            const Target& target) const override;
  // "ExactShapley(background=10, players=16, max_players=20,
  // max_batch=4096)".
  std::string str() const override;
  const ExactShapleyOptions& options() const { return options_; }

 private:
  Model model_;
  ExactShapleyOptions options_;
};

// ---------------------------------------------------------------------------
// Shapley values estimated from random permutations of the players
// (Castro et al. 2009), each drawn with its reverse (antithetic sampling,
// Mitchell et al. 2022). A player's estimate is the mean of its marginal
// contributions v(prefix + i) - v(prefix).

struct PermutationShapleyOptions {
  // Reference rows [k, ...input row shape], k >= 1, any device and dtype.
  // Required: no default.
  torch::Tensor background;
  // Players. Default: each element its own player.
  Players players;
  // Antithetic pairs (a permutation and its reverse) per input row; an
  // input row with P players costs 2 * samples * (P - 1) coalitions.
  // The standard error is the standard deviation of the pair means over
  // sqrt(samples). Must be >= 2. Default: 25.
  int64_t samples = 25;
  // Seed of the permutation generator. Default: 0.
  uint64_t seed = 0;
  // Most model rows per forward pass. Must be >= 1. Default: 4096.
  int64_t max_batch = 4096;
};

class PermutationShapley : public PlayerExplainer {
 public:
  // Throws InvalidArgument for a missing or empty background or players
  // that do not fit its row shape.
  PermutationShapley(Model model, PermutationShapleyOptions options);

  PlayerAttribution explain(const torch::Tensor& x,
                            const Target& target) const override;
  // "PermutationShapley(background=10, players=30, samples=25, seed=0,
  // max_batch=4096)".
  std::string str() const override;
  const PermutationShapleyOptions& options() const { return options_; }

 private:
  Model model_;
  PermutationShapleyOptions options_;
};

// ---------------------------------------------------------------------------
// KernelSHAP (Lundberg and Lee 2017): the values solve the least-squares
// fit of v(S) - v(empty) by sum over i in S of phi_i, weighted by the
// Shapley kernel (P - 1) / (C(P, |S|) |S| (P - |S|)), under the constraint
// sum phi_i = v(all) - v(empty) (one value is eliminated, then the fit is
// solved by an SVD-based least squares in float64). No regularization: no
// player is dropped from the fit.
//
// Coalitions: when the budget covers all 2^P - 2 proper coalitions, all are
// enumerated and the values are the exact Shapley values. Otherwise, as in
// SHAP, coalition sizes are taken from the smallest (and, paired, the
// largest) while the budget covers every coalition of a size with its
// kernel weight's share; the rest of the budget is drawn at random: a size
// from the kernel's distribution over the remaining sizes, then a uniform
// coalition of that size, together with its complement (paired sampling).
// A coalition drawn again adds to its weight instead of the budget.

struct KernelShapOptions {
  // Reference rows [k, ...input row shape], k >= 1, any device and dtype.
  // Required: no default.
  torch::Tensor background;
  // Players. Default: each element its own player.
  Players players;
  // Proper coalitions evaluated per input row (the empty and the full
  // coalition are known, see above); 0 means 2 * P + 2048, SHAP's default, with
  // P the players that vary for that row. Must be >= 0. Default: 0.
  int64_t budget = 0;
  // Seed of the coalition generator. Default: 0.
  uint64_t seed = 0;
  // Most model rows per forward pass. Must be >= 1. Default: 4096.
  int64_t max_batch = 4096;
};

// No standard errors: the estimate mixes enumerated and sampled coalitions
// and is exact where the budget allows, so standard_errors stays undefined.
class KernelShap : public PlayerExplainer {
 public:
  // Throws InvalidArgument for a missing or empty background or players
  // that do not fit its row shape.
  KernelShap(Model model, KernelShapOptions options);

  PlayerAttribution explain(const torch::Tensor& x,
                            const Target& target) const override;
  // "KernelShap(background=10, players=30, budget=auto, seed=0,
  // max_batch=4096)".
  std::string str() const override;
  const KernelShapOptions& options() const { return options_; }

 private:
  Model model_;
  KernelShapOptions options_;
};

// ---------------------------------------------------------------------------
// Feature ablation: phi_i = v(all) - v(all but i), one coalition per player.

struct FeatureAblationOptions {
  // Reference rows [k, ...input row shape], k >= 1, any device and dtype;
  // a removed player takes each row's values in turn and the outputs are
  // averaged. Default: undefined, meaning one row of zeros.
  torch::Tensor background;
  // Players. Default: each element its own player.
  Players players;
  // Most model rows per forward pass. Must be >= 1. Default: 4096.
  int64_t max_batch = 4096;
};

// Captum's FeatureAblation with the background's mean output as base value.
// Not complete: completeness_gap reports the interactions it misses.
class FeatureAblation : public PlayerExplainer {
 public:
  // Throws InvalidArgument for an empty background or players that do not
  // fit its row shape.
  FeatureAblation(Model model, FeatureAblationOptions options = {});

  PlayerAttribution explain(const torch::Tensor& x,
                            const Target& target) const override;
  // "FeatureAblation(background=zeros, players=each element,
  // max_batch=4096)".
  std::string str() const override;
  const FeatureAblationOptions& options() const { return options_; }

 private:
  Model model_;
  FeatureAblationOptions options_;
};

// ---------------------------------------------------------------------------
// Occlusion: a window slides over the last window.size() dimensions of each
// input row (through all leading dimensions, e.g. all channels of an
// image); for each position, d = v(all) - v(all but the window's elements).
// An element's value is the mean, over the windows that cover it, of d
// divided by the window's element count, so non-overlapping windows give
// the same per-element values as FeatureAblation over the same patches.
// Captum's Occlusion gives each element the mean of d itself: multiply by
// the window's element count (window sizes times the leading dimensions) to
// get its numbers. Window positions start at 0 and advance by the stride;
// when the last one does not reach the end of a dimension, one more window
// ending at the boundary is added, so every element is covered.

struct OcclusionOptions {
  // Window sizes over the trailing dimensions of a row, e.g. {4, 4} for
  // images [C, H, W] or {1} for tabular rows. Every size must be >= 1.
  // Default: {4, 4}.
  std::vector<int64_t> window = {4, 4};
  // Steps between window positions, one per window dimension; empty means
  // equal to the window (no overlap). Default: empty.
  std::vector<int64_t> stride;
  // Reference rows [k, ...input row shape], k >= 1, any device and dtype,
  // averaged as in FeatureAblation. Default: undefined, meaning one row of
  // zeros.
  torch::Tensor background;
  // Most model rows per forward pass. Must be >= 1. Default: 4096.
  int64_t max_batch = 4096;
};

class Occlusion : public Explainer {
 public:
  // Throws InvalidArgument for bad window or stride sizes or an empty
  // background.
  explicit Occlusion(Model model, OcclusionOptions options = {});

  // Throws InvalidArgument when the window does not fit the input row's
  // trailing dimensions.
  Attribution attribute(const torch::Tensor& x,
                        const Target& target) const override;
  // "Occlusion(window=[4, 4], stride=[4, 4], background=zeros,
  // max_batch=4096)".
  std::string str() const override;
  const OcclusionOptions& options() const { return options_; }

 private:
  Model model_;
  OcclusionOptions options_;
};

}  // namespace xai
