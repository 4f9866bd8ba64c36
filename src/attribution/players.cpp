#include "xai/attribution/players.h"

#include <sstream>
#include <utility>

#include "text.h"
#include "xai/error.h"

namespace xai {
namespace {

using detail::shape_str;

void check_positive(const char* name, int64_t value) {
  if (value < 1) {
    throw InvalidArgument("invalid " + std::string(name) + ": " +
                          std::to_string(value) + " (must be >= 1)");
  }
}

}  // namespace

Players::Players(torch::Tensor mask, std::vector<std::string> names)
    : names_(std::move(names)) {
  if (!mask.defined() || mask.dim() == 0 || mask.numel() == 0) {
    throw InvalidArgument(
        "invalid players: the mask is empty (give an integer tensor with "
        "the input row shape)");
  }
  if (mask.is_floating_point() || mask.is_complex() ||
      mask.scalar_type() == torch::kBool) {
    throw InvalidArgument(std::string("invalid players: mask dtype ") +
                          c10::toString(mask.scalar_type()) +
                          " (must be an integer type)");
  }
  mask_ = mask.detach().to(torch::kCPU, torch::kInt64).contiguous();

  int64_t low = mask_.min().item<int64_t>();
  if (low < 0) {
    throw InvalidArgument("invalid players: mask id " + std::to_string(low) +
                          " (ids must be >= 0)");
  }
  count_ = mask_.max().item<int64_t>() + 1;
  torch::Tensor used = torch::bincount(mask_.flatten(), {}, count_);
  torch::Tensor unused = (used == 0).nonzero();
  if (unused.numel() > 0) {
    throw InvalidArgument(
        "invalid players: mask id " +
        std::to_string(unused[0][0].item<int64_t>()) +
        " has no element (ids must be 0 to " + std::to_string(count_ - 1) +
        ", each used at least once)");
  }
  if (!names_.empty() && static_cast<int64_t>(names_.size()) != count_) {
    throw InvalidArgument("invalid players: " +
                          std::to_string(names_.size()) + " names for " +
                          std::to_string(count_) + " players");
  }
}

Players Players::grid(int64_t height, int64_t width, int64_t patch_height,
                      int64_t patch_width) {
  check_positive("height", height);
  check_positive("width", width);
  check_positive("patch_height", patch_height);
  check_positive("patch_width", patch_width);

  int64_t across = (width + patch_width - 1) / patch_width;
  int64_t down = (height + patch_height - 1) / patch_height;
  auto opts = torch::TensorOptions().dtype(torch::kInt64);
  torch::Tensor r = torch::arange(height, opts).div(patch_height, "floor");
  torch::Tensor c = torch::arange(width, opts).div(patch_width, "floor");
  torch::Tensor mask = r.unsqueeze(1) * across + c.unsqueeze(0);

  std::vector<std::string> names;
  for (int64_t i = 0; i < down; ++i) {
    for (int64_t j = 0; j < across; ++j) {
      names.push_back("patch " + std::to_string(i) + "," + std::to_string(j));
    }
  }
  return Players(mask, std::move(names));
}

Players Players::groups(int64_t columns,
                        const std::vector<FeatureGroup>& groups,
                        const std::vector<std::string>& column_names) {
  check_positive("columns", columns);
  if (!column_names.empty() &&
      static_cast<int64_t>(column_names.size()) != columns) {
    throw InvalidArgument("invalid players: " +
                          std::to_string(column_names.size()) +
                          " column names for " + std::to_string(columns) +
                          " columns");
  }

  std::vector<int64_t> owner(columns, -1);
  std::vector<std::string> names;
  for (size_t g = 0; g < groups.size(); ++g) {
    const FeatureGroup& group = groups[g];
    if (group.columns.empty()) {
      throw InvalidArgument("invalid players: group '" + group.name +
                            "' has no column");
    }
    for (int64_t j : group.columns) {
      if (j < 0 || j >= columns) {
        throw InvalidArgument("invalid players: column " + std::to_string(j) +
                              " of group '" + group.name +
                              "' (must be 0 to " +
                              std::to_string(columns - 1) + ")");
      }
      if (owner[j] >= 0) {
        throw InvalidArgument("invalid players: column " + std::to_string(j) +
                              " is in groups '" + groups[owner[j]].name +
                              "' and '" + group.name + "'");
      }
      owner[j] = static_cast<int64_t>(g);
    }
    names.push_back(group.name);
  }

  // Columns in no group follow as players of their own.
  int64_t next = static_cast<int64_t>(groups.size());
  for (int64_t j = 0; j < columns; ++j) {
    if (owner[j] >= 0) continue;
    owner[j] = next++;
    names.push_back(column_names.empty() ? "x[" + std::to_string(j) + "]"
                                         : column_names[j]);
  }
  return Players(torch::tensor(owner, torch::kInt64), std::move(names));
}

int64_t Players::count(c10::IntArrayRef row_shape) const {
  if (defined()) return count_;
  int64_t n = 1;
  for (int64_t d : row_shape) n *= d;
  return n;
}

std::string Players::name(int64_t id) const {
  if (!names_.empty() && id >= 0 && id < static_cast<int64_t>(names_.size())) {
    return names_[id];
  }
  if (!defined()) return "x[" + std::to_string(id) + "]";
  return "player " + std::to_string(id);
}

torch::Tensor Players::element_players(c10::IntArrayRef row_shape) const {
  int64_t n = 1;
  for (int64_t d : row_shape) n *= d;
  if (!defined()) return torch::arange(n, torch::kInt64);

  // The mask must equal the row shape's last mask.dim() dimensions.
  int64_t rank = static_cast<int64_t>(row_shape.size());
  bool fits = mask_.dim() <= rank &&
              mask_.sizes() == row_shape.slice(rank - mask_.dim());
  if (!fits) {
    throw InvalidArgument("invalid players: mask shape " +
                          shape_str(mask_.sizes()) +
                          " (must be the input row shape " +
                          shape_str(row_shape) +
                          " or its trailing dimensions)");
  }
  return mask_.expand(row_shape).contiguous().flatten();
}

std::string Players::str() const {
  if (!defined()) return "each element";
  return "mask " + shape_str(mask_.sizes()) + ", " + std::to_string(count_) +
         " players";
}

}  // namespace xai
