// Players of a cooperative game over an input row: which elements of the
// row are removed and restored together by the model-agnostic methods
// (exact Shapley, permutation sampling, KernelSHAP, feature ablation).
//
// A Players object is a mask: an integer tensor that gives each element of
// an input row a player id in 0..P-1. Every element belongs to exactly one
// player; a player with several elements (a group of tabular columns, an
// image patch, a superpixel) is removed as a whole. The default object means
// "each element is its own player".
//
// How a player's value is written back to its elements: each member element
// gets the player's value divided by the player's element count, so the
// values of an input row still sum to the sum of its player values (and
// completeness holds per element as it does per player). The player values
// themselves are returned beside the per-element values (see
// PlayerAttribution in shapley.h). Captum instead copies a group's full
// value to every member; multiply by the member count to get its numbers.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <string>
#include <vector>

namespace xai {

// A named group of tabular columns that acts as one player.
struct FeatureGroup {
  std::string name;
  std::vector<int64_t> columns;  // 0-based column indices
};

class Players {
 public:
  // Each element of the row is its own player, named "x[i]" after its
  // flat index (or after the column, see groups()).
  Players() = default;

  // `mask`: an integer tensor on any device whose shape is the input row
  // shape, or the row shape's trailing dimensions (then shared over the
  // leading ones, e.g. an [H, W] superpixel map for [C, H, W] images). Ids
  // must be 0..P-1, each used at least once. `names`: empty, or one per
  // player. Throws InvalidArgument ("invalid players: ...") otherwise; the
  // shape is checked against an input row in element_players().
  explicit Players(torch::Tensor mask, std::vector<std::string> names = {});

  // Rectangular patches of `patch_height` x `patch_width` over the last two
  // dimensions of rows [..., height, width] (shared over channels), ids in
  // row-major patch order, named "patch r,c". The last row and column of
  // patches are smaller when the sizes are not multiples of the patch. All
  // arguments must be >= 1.
  static Players grid(int64_t height, int64_t width, int64_t patch_height,
                      int64_t patch_width);

  // Groups of columns of a tabular row [columns]: player g is groups[g],
  // then every column in no group is a player of its own, in column order,
  // named after `column_names` (one per column, or empty for "x[j]"). A
  // column may be in at most one group and groups may not be empty.
  static Players groups(int64_t columns,
                        const std::vector<FeatureGroup>& groups,
                        const std::vector<std::string>& column_names = {});

  // False for the default object (each element its own player).
  bool defined() const { return mask_.defined(); }
  // The mask, int64 on the CPU; undefined for the default object.
  const torch::Tensor& mask() const { return mask_; }
  // Number of players of a row shaped `row_shape`.
  int64_t count(c10::IntArrayRef row_shape) const;
  // Name of player `id` (its given name, or "x[id]" / "player id").
  std::string name(int64_t id) const;

  // The player of each element of a row shaped `row_shape`, flattened in
  // row-major order: int64 [row numel] on the CPU. Throws InvalidArgument
  // "invalid players: mask shape [a, b] (must be the input row shape [..]
  // or its trailing dimensions)" when the mask does not fit.
  torch::Tensor element_players(c10::IntArrayRef row_shape) const;

  // "each element", "mask [28, 28], 16 players".
  std::string str() const;

 private:
  torch::Tensor mask_;
  int64_t count_ = 0;
  std::vector<std::string> names_;
};

}  // namespace xai
